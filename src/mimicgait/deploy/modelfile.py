"""One-file deployable models: everything inference needs, nothing training needs.

A training checkpoint holds the optimiser, RNG and sampler state, and a mimic checkpoint refers to
its teacher and VEN by path, so shipping one means shipping three files in one layout.
`export_model` writes a single file instead (`torch.save` of tensors and plain values only, so it
loads with `weights_only=True` and runs no code):

    {'format': 'mimicgait-model/2', 'stage', 'inference', 'model_spec', 'state_dict',
     'teacher': {'model_spec', 'state_dict'} | None,   # routed mimic only
     'ven': {'model_spec', 'state_dict'} | None,       # guided and routed mimic
     'input': {'frame_size': [H, W], 'encoding', 'preprocess'},
     'embedding': {'channels', 'parts', 'layout', 'metric'},
     'provenance': {'stage', 'iteration', 'config', 'data_fingerprint', 'checkpoint_sha256',
                    'mimicgait_version', 'validation'},
     'fingerprint'}

`fingerprint` is the sha256 of every section that changes an answer: the stage and inference mode,
the specs and every weight, the input convention (frame size, pretreatment) and the embedding
layout and metric. Galleries record it, so embeddings of two different models are never compared
and an edited metric or frame size is refused like an edited weight. Files of format
`mimicgait-model/1` (whose fingerprint covered specs, mode and weights only) still load; their other
sections must hold what that version always wrote (the `euc` metric, the `[N, C, P]` layout).
Recognisers (teacher, Baseline-2) drop their BNNeck classifier, which embedding does not use.

Before a network is allocated, it is built on PyTorch's `meta` device and its parameter shapes are
compared with the file's tensors, so a spec that asks for more than the file holds (an edited
channel count) is refused instead of allocating it.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mimicgait.errors import UserError
from mimicgait.eval.distances import METRICS
from mimicgait.models.checkpoint import dereference, load_checkpoint, sha256
from mimicgait.models.mimic import INFERENCE_MODES
from mimicgait.models.spec import build_model
from mimicgait.version import __version__

MODEL_FORMAT = "mimicgait-model/2"
LEGACY_FORMAT = "mimicgait-model/1"
READABLE_FORMATS = (MODEL_FORMAT, LEGACY_FORMAT)
ENCODING = ("silhouettes [T, H, W]: uint8 0/1 or 0/255, bool, or float 0..1; other frame sizes are "
            "pretreated (crop to the person, scale to H, centre)")


def _weights(state: dict[str, torch.Tensor], drop: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in state.items() if not k.startswith(drop)}


def _embedding_only(spec: dict[str, Any], state: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """A recogniser without its training-only BNNeck classifier (num_classes 0 builds no head)."""
    if spec.get("kind") != "recognizer":
        return spec, _weights(state)
    return {**spec, "num_classes": 0}, _weights(state, ("head.",))


def fingerprint(payload: dict[str, Any]) -> str:
    """sha256 over the stage, inference mode, input and embedding sections, the model specs and
    every weight tensor (in key order); for format 1 files, the specs, mode and weights only."""
    digest = hashlib.sha256()
    parts = [("model", payload["model_spec"], payload["state_dict"])]
    for key in ("teacher", "ven"):
        if payload.get(key):
            parts.append((key, payload[key]["model_spec"], payload[key]["state_dict"]))
    digest.update(str(payload.get("inference")).encode())
    if payload.get("format") != LEGACY_FORMAT:
        sections = {key: payload.get(key) for key in ("format", "stage", "input", "embedding")}
        digest.update(json.dumps(sections, sort_keys=True).encode())
    for name, spec, state in parts:
        digest.update(name.encode())
        digest.update(json.dumps(spec, sort_keys=True).encode())
        for key in sorted(state):
            tensor = state[key].detach().cpu().contiguous().reshape(-1)
            digest.update(key.encode())
            digest.update(str(tensor.dtype).encode())
            digest.update(str(tuple(tensor.shape)).encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def _reference(payload: dict[str, Any], file: Path, key: str, what: str) -> dict[str, Any]:
    ref, _ = load_checkpoint(dereference(payload[key], file, what), f"{what} checkpoint")
    spec, state = _embedding_only(ref["model_spec"], ref["state_dict"])
    return {"model_spec": spec, "state_dict": state}


def _validation(run_dir: Path) -> dict[str, float] | None:
    """The last validation metrics of the run's log.jsonl, if it validated."""
    log_file = run_dir / "log.jsonl"
    if not log_file.is_file():
        return None
    last = None
    for line in log_file.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("split") == "val":
            last = {k: v for k, v in row.items() if isinstance(v, (int, float)) and k != "time"}
    return last


def model_payload(checkpoint: str | Path, inference: str | None = None) -> dict[str, Any]:
    """The model-file dict for a training checkpoint (or run directory) and an inference mode
    (mimic only; default: what the run was trained to ship)."""
    payload, file = load_checkpoint(checkpoint)
    stage, spec = payload["stage"], payload["model_spec"]
    if stage == "ven":
        raise UserError(f"{file} is a VEN checkpoint; it has no gait embedding to export. Pass a teacher, "
                        "baseline, occ-aware or mimic run")
    teacher = ven = None
    mode = None
    if spec["kind"] == "mimic":
        mode = inference or payload.get("inference", "guided")
        if mode not in INFERENCE_MODES:
            raise UserError(f"--inference must be one of {', '.join(INFERENCE_MODES)}, got {mode!r}")
        if mode in ("guided", "routed") and "ven" not in payload:
            raise UserError(f"{file} was trained without a VEN, which {mode} inference needs; use "
                            "--inference student")
        if mode == "student":
            spec = {**spec, "guidance": False}
            state = _weights({k: v for k, v in payload["state_dict"].items() if k.startswith("student.")})
        else:
            state = _weights(payload["state_dict"], ("ce_head.",))
            ven = _reference(payload, file, "ven", "VEN")
            if mode == "routed":
                teacher = _reference(payload, file, "teacher", "teacher")
    else:
        if inference not in (None, "student", "guided"):
            raise UserError(f"{file} is a {stage} model, which has one embedding: --inference applies to "
                            "mimic models only")
        spec, state = _embedding_only(spec, payload["state_dict"])
    run_dir = file.parent.parent if file.parent.name == "checkpoints" else file.parent
    out: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "stage": stage,
        "inference": mode,
        "model_spec": spec,
        "state_dict": state,
        "teacher": teacher,
        "ven": ven,
        "input": {
            "frame_size": [int(x) for x in payload["input_size"]],
            "encoding": ENCODING,
            "preprocess": spec.get("preprocess") or {"crop": "none", "size": None},
        },
        "provenance": {
            "stage": stage,
            "iteration": payload.get("iteration"),
            "config": payload.get("config"),
            "data_fingerprint": payload.get("data_fingerprint"),
            "checkpoint": file.name,
            "checkpoint_sha256": sha256(file),
            "mimicgait_version": __version__,
            "validation": _validation(run_dir),
        },
    }
    model = build_from_payload(out, "export")  # proves the file will load before it is written
    encoder = model.student if spec["kind"] == "mimic" else model.encoder  # every kind embeds [N, C, P]
    out["embedding"] = {"channels": int(encoder.out_channels), "parts": int(encoder.parts),
                        "layout": "[N, C, P]", "metric": "euc"}
    out["fingerprint"] = fingerprint(out)
    return out


REEXPORT = "export the model again with `mimicgait export`"
MAX_FRAME_SIDE = 4096


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise UserError(f"{where}: the weights do not fit the model the file describes ({first}); "
                        f"{REEXPORT}") from None


def _build_checked(spec: dict[str, Any], state: dict[str, torch.Tensor], where: str,
                   **frozen: nn.Module | None) -> nn.Module:
    """`build_model(spec, **frozen)` with `state` loaded, after proving on the meta device (which
    allocates nothing) that the spec's tensors have the shapes of the file's: a spec edited to ask
    for more than the file holds is refused before any memory is taken."""
    try:
        with torch.device("meta"):
            shapes = {k: tuple(v.shape) for k, v in build_model(spec, **frozen).state_dict().items()}
    except UserError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RuntimeError) as err:
        raise UserError(f"{where}: the model spec cannot be built ({type(err).__name__}: {err}); "
                        f"{REEXPORT}") from None
    for key, shape in shapes.items():
        held = state.get(key)
        if held is None or tuple(held.shape) != shape:
            found = "nothing" if held is None else str(tuple(held.shape))
            raise UserError(f"{where}: the weights do not fit the model the file describes ({key}: the spec "
                            f"needs {shape}, the file holds {found}); {REEXPORT}")
    model = build_model(spec, **frozen)
    _load_state(model, state, where)
    return model


def build_from_payload(payload: dict[str, Any], where: str) -> nn.Module:
    """The eval-mode module a model-file dict describes (BatchNorm not yet folded)."""
    frozen: dict[str, nn.Module] = {}
    for key in ("teacher", "ven"):
        part = payload.get(key)
        if part:
            frozen[key] = _build_checked(part["model_spec"], part["state_dict"], f"{where} ({key})")
    spec = payload["model_spec"]
    model = _build_checked(spec, payload["state_dict"], where, **(frozen if spec["kind"] == "mimic" else {}))
    if spec["kind"] == "mimic":
        model.set_inference(payload["inference"])
    encoder = model.student if spec["kind"] == "mimic" else model.encoder
    embedding = payload.get("embedding")
    if embedding is not None and (embedding.get("channels"), embedding.get("parts")) != (
            encoder.out_channels, encoder.parts):
        raise UserError(f"{where}: the file's embedding section says [{embedding.get('channels')}, "
                        f"{embedding.get('parts')}] but the network embeds [{encoder.out_channels}, "
                        f"{encoder.parts}]; {REEXPORT}")
    return model.eval()


def _is_state(state: Any) -> bool:
    return isinstance(state, dict) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())


def _section_problem(payload: dict[str, Any]) -> str | None:
    """What is wrong with the layout of a model-file dict, or None: checked before the fingerprint
    is computed and before anything is built, so a malformed file is one clear line."""
    if not isinstance(payload.get("model_spec"), dict) or not _is_state(payload.get("state_dict")):
        return "model_spec or state_dict is missing or malformed"
    for key in ("teacher", "ven"):
        part = payload.get(key)
        if part is not None and not (isinstance(part, dict) and isinstance(part.get("model_spec"), dict)
                                     and _is_state(part.get("state_dict"))):
            return f"the {key} section is malformed"
    if payload.get("inference") not in (None, *INFERENCE_MODES):
        return f"inference {payload.get('inference')!r} is not one of {', '.join(INFERENCE_MODES)}"
    frame = (payload.get("input") or {}).get("frame_size") if isinstance(payload.get("input"), dict) else None
    if not (isinstance(frame, (list, tuple)) and len(frame) == 2
            and all(isinstance(x, int) and 0 < x <= MAX_FRAME_SIDE for x in frame)):
        return f"input.frame_size {frame!r} is not two sizes between 1 and {MAX_FRAME_SIDE}"
    embedding = payload.get("embedding")
    if not isinstance(embedding, dict) or embedding.get("layout") != "[N, C, P]":
        return "the embedding section is missing or its layout is not [N, C, P]"
    allowed = ("euc",) if payload.get("format") == LEGACY_FORMAT else METRICS
    if embedding.get("metric") not in allowed:
        return f"embedding.metric {embedding.get('metric')!r} is not one of {', '.join(allowed)}"
    return None


def _load_torch_file(path: Path) -> Any:
    """`torch.load(path, weights_only=True)`, with one clear line for each way it can fail."""
    if path.is_file() and not zipfile.is_zipfile(path):
        hint = " (an .onnx graph runs with onnxruntime: mimicgait.deploy.onnx_export)" if (
            path.suffix.lower() == ".onnx") else ""
        raise UserError(f"{path}: not a mimicgait model file or checkpoint (not a PyTorch archive){hint}; "
                        "pass a file written by `mimicgait export` or a training run")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to unpickle means "not a model file we can read"
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "global" in str(err).lower():  # the pickle names a class or function: loading it could run code
            raise UserError(f"{path}: refused: the file holds objects that could run code when loaded; "
                            "only mimicgait model files and checkpoints are accepted") from None
        raise UserError(f"{path}: truncated, or not a mimicgait model file or checkpoint ({text})") from None


def read_model_file(path: str | Path, check: bool = True) -> dict[str, Any] | None:
    """The model-file dict at `path` (weights_only=True), None when the file is a torch file of
    another kind; with `check`, its layout and fingerprint are verified. Raises UserError for
    unreadable, malformed or edited files."""
    path = Path(path)
    payload = _load_torch_file(path)
    if not isinstance(payload, dict) or payload.get("format") not in READABLE_FORMATS:
        if isinstance(payload, dict) and str(payload.get("format", "")).startswith("mimicgait-model/"):
            raise UserError(f"{path}: model format {payload['format']!r} is newer than this mimicgait "
                            f"({__version__}) reads; upgrade mimicgait")
        return None
    if check:
        problem = _section_problem(payload)
        if problem:
            raise UserError(f"{path}: not a valid mimicgait model file: {problem}; {REEXPORT}")
        if fingerprint(payload) != payload.get("fingerprint"):
            raise UserError(f"{path}: the file does not match its fingerprint (corrupted or edited); "
                            f"{REEXPORT}")
    return payload
