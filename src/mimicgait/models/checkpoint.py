"""Reading trained checkpoints: find, load safely, check, and rebuild a model for inference.

The model layer below training and deployment: `engine` writes checkpoints and `deploy` exports
them, and both read them through here. A checkpoint is a dict of tensors and plain Python values
only, so it loads with `torch.load(weights_only=True)` (no code runs on load):

    {'format': 'mimicgait/1', 'stage', 'model_spec', 'input_size', 'state_dict', 'iteration',
     'optimizer', 'scheduler', 'rng', 'sampler', 'config', ...}

`state_dict` holds the trainable part only; for mimic that is student + mixer, and the teacher and
VEN are referenced by path (relative to the run directory when possible) and sha256 under
'teacher' and 'ven'.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mimicgait.errors import UserError, path_error
from mimicgait.models.fold import fold_batchnorm
from mimicgait.models.mimic import INFERENCE_MODES
from mimicgait.models.preprocess import Preprocess
from mimicgait.models.spec import build_model

FORMAT = "mimicgait/1"
FINAL_NAME = "model.pt"
LAST_NAME = "checkpoints/last.pt"


# -- files ---------------------------------------------------------------------------------------
def resolve_checkpoint(location: str | Path, what: str = "checkpoint") -> Path:
    """A checkpoint file, or RUN_DIR/model.pt for a run directory; FileNotFoundError saying what to do."""
    path = Path(location)
    if path.is_dir():
        final = path / FINAL_NAME
        if final.is_file():
            return final
        hint = (
            f"; the run has a periodic checkpoint {path / LAST_NAME}: finish it with --resume or pass "
            "that file"
            if (path / LAST_NAME).is_file()
            else "; train that stage first"
        )
        raise FileNotFoundError(f"{what}: run directory {path} has no {FINAL_NAME}{hint}")
    if not path.is_file():
        raise FileNotFoundError(
            f"{what}: {path} does not exist; pass a run directory or a .pt checkpoint file"
        )
    return path


#: Entries every checkpoint of this format holds; a file without one of them is refused on load.
REQUIRED_KEYS = ("stage", "model_spec", "input_size", "state_dict")


def load_checkpoint(location: str | Path, what: str = "checkpoint") -> tuple[dict[str, Any], Path]:
    """(payload, file) loaded with weights_only=True onto the CPU, format and entries checked.

    Raises `UserError` naming the file when it is missing, unreadable, truncated or not a
    checkpoint, lacks an entry of `REQUIRED_KEYS`, or holds objects a weights-only load refuses
    (loading those would run code from the file, so the file is refused, never loaded fully).
    """
    try:
        path = resolve_checkpoint(location, what)
    except FileNotFoundError as err:
        raise UserError(str(err)) from None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "global" in str(err).lower():  # names a class or function: loading it could run code
            raise UserError(
                f"{what}: {path} is refused: it holds objects that could run code when loaded, which a "
                "mimicgait checkpoint never does; use checkpoints written by mimicgait train"
            ) from None
        raise UserError(f"{what}: cannot read {path}: truncated or not a checkpoint") from None
    except OSError as err:
        raise path_error(err, path, what) from None
    except Exception:  # a truncated zip, a foreign format: torch raises RuntimeError, EOFError, ...
        raise UserError(f"{what}: cannot read {path}: truncated or not a checkpoint") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{what}: {path} is not a {FORMAT} checkpoint; was it written by mimicgait train?")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise UserError(
            f"{what}: {path} lacks the entr{'ies' if len(missing) > 1 else 'y'} {', '.join(missing)}; "
            "it is damaged or was not written by mimicgait train"
        )
    return payload, path


def load_weights(
    module: nn.Module, state_dict: dict[str, Tensor], file: str | Path, strict: bool = True
) -> None:
    """`module.load_state_dict(state_dict)`, a mismatch (missing, unexpected or differently shaped
    weights) raising a `UserError` naming `file`: its weights do not fit the model its spec builds."""
    try:
        module.load_state_dict(state_dict, strict=strict)
    except RuntimeError as err:
        first = next((line.strip() for line in str(err).splitlines()[1:] if line.strip()), str(err))
        raise UserError(
            f"{file}: its weights do not match the model its model_spec describes ({first[:200]}); the "
            "file is damaged or was edited: use the checkpoint written by mimicgait train"
        ) from None


def sha256(path: str | Path) -> str:
    """Hex sha256 of a file (records which teacher/VEN a mimic run used)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dereference(reference: dict[str, str], checkpoint_file: Path, what: str, verify: bool = True) -> Path:
    """The file a recorded {'path', 'sha256'} points at (relative to the checkpoint's run dir)."""
    run_dir = checkpoint_file.parent
    if checkpoint_file.parent.name == "checkpoints":
        run_dir = checkpoint_file.parent.parent
    path = Path(reference["path"])
    if not path.is_absolute():
        path = run_dir / path
    if not path.is_file():
        raise FileNotFoundError(
            f"{checkpoint_file} was trained with the {what} {reference['path']}, which is "
            f"missing (looked for {path}); restore it or use --inference student"
        )
    if verify and sha256(path) != reference.get("sha256"):
        raise ValueError(
            f"the {what} {path} changed since {checkpoint_file} was trained with it (sha256 "
            "differs); restore the original file"
        )
    return path


# -- inference -----------------------------------------------------------------------------------
class InferenceModel(nn.Module):
    """A trained model plus its preprocessing: `embed(sils [N, S, H, W] at the data's size, lengths)`."""

    def __init__(self, model: nn.Module, preprocess: Preprocess) -> None:
        super().__init__()
        self.model = model
        self.preprocess = preprocess

    @torch.no_grad()
    def embed(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        """float [N, S, H, W] in [0, 1] -> embeddings [N, C, P]."""
        device = next(self.model.parameters()).device
        return self.model.embed(self.preprocess(sils.to(device)), lengths)

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.embed(sils, lengths)


def _load_reference(payload: dict[str, Any], file: Path, key: str, what: str) -> nn.Module:
    """The frozen model a mimic checkpoint refers to (its teacher or VEN), rebuilt and loaded."""
    ref_file = dereference(payload[key], file, what)
    ref_payload, _ = load_checkpoint(ref_file, f"{what} checkpoint")
    model = build_model(ref_payload["model_spec"])
    load_weights(model, ref_payload["state_dict"], ref_file)
    return model


def load_for_inference(
    location: str | Path, inference: str | None = None, device: str | torch.device = "cpu"
) -> tuple[InferenceModel, dict[str, Any]]:
    """(model with `.embed(sils, lengths) -> [N, C, P]`, meta) from a checkpoint or run directory.

    meta: stage, backbone, input_size (the data frame size the model takes), inference (mimic:
    'guided', the paper, which loads the VEN recorded in the checkpoint; or 'student', which does
    not need it), iteration, file. BatchNorm is folded into the convolutions (models.fold): the same
    embeddings with one pass over the activations fewer.
    """
    payload, file = load_checkpoint(location)
    spec = payload["model_spec"]
    stage = payload["stage"]
    if stage == "ven":
        raise ValueError(
            f"{file} is a VEN checkpoint; it has no gait embedding to evaluate. Pass a teacher, "
            "baseline, occ-aware or mimic run"
        )
    mode = None
    if spec["kind"] == "mimic":
        mode = inference or payload.get("inference", "guided")
        if mode not in INFERENCE_MODES:
            raise ValueError(f"inference must be one of {', '.join(INFERENCE_MODES)}, got {mode!r}")
        if mode == "guided" and not spec["guidance"]:
            raise ValueError(f"{file} was trained without VEN guidance; use --inference student")
        if mode == "routed" and "ven" not in payload:
            raise ValueError(f"{file} was trained without a VEN, which routing needs; use --inference "
                             "student")
        if mode in ("guided", "routed"):
            ven = _load_reference(payload, file, "ven", "VEN")
            teacher = _load_reference(payload, file, "teacher", "teacher") if mode == "routed" else None
            model = build_model(spec, ven=ven, teacher=teacher)
            # `ce_head.*`: the training-only classifier of loss.mimic_ce_weight > 0.
            state = payload["state_dict"]
            load_weights(model, {k: v for k, v in state.items() if not k.startswith("ce_head.")}, file)
            model.set_inference(mode)
        else:
            model = build_model({**spec, "guidance": False})
            student = {k: v for k, v in payload["state_dict"].items() if k.startswith("student.")}
            load_weights(model, student, file)
    else:
        if inference not in (None, "student", "guided"):
            raise ValueError(f"inference must be 'guided' or 'student', got {inference!r}")
        model = build_model(spec)
        load_weights(model, payload["state_dict"], file)
    model = fold_batchnorm(model).to(device)
    meta = {
        "stage": stage,
        "backbone": spec.get("encoder", {}).get("name"),
        "input_size": list(payload["input_size"]),
        "inference": mode,
        "iteration": payload.get("iteration"),
        "file": str(file),
    }
    return InferenceModel(model, Preprocess.from_spec(spec.get("preprocess"))), meta
