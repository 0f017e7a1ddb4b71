"""One-file deployable models: everything inference needs, nothing training needs.

A training checkpoint holds the optimiser, RNG and sampler state, and a mimic checkpoint refers to
its teacher and VEN by path, so shipping one means shipping three files in one layout.
`export_model` writes a single file instead (`torch.save` of tensors and plain values only, so it
loads with `weights_only=True` and runs no code):

    {'format': 'mimicgait-model/1', 'stage', 'inference', 'model_spec', 'state_dict',
     'teacher': {'model_spec', 'state_dict'} | None,   # routed mimic only
     'ven': {'model_spec', 'state_dict'} | None,       # guided and routed mimic
     'input': {'frame_size': [H, W], 'encoding', 'preprocess'},
     'embedding': {'channels', 'parts', 'layout', 'metric'},
     'provenance': {'stage', 'iteration', 'config', 'data_fingerprint', 'checkpoint_sha256',
                    'mimicgait_version', 'validation'},
     'fingerprint'}

`fingerprint` is the sha256 of the specs and every weight: galleries record it, so embeddings of two
different models are never compared. Recognisers (teacher, Baseline-2) drop their BNNeck
classifier, which embedding does not use.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mimicgait import __version__
from mimicgait.engine.build import build_model
from mimicgait.engine.checkpoint import dereference, load_checkpoint, sha256
from mimicgait.errors import UserError
from mimicgait.models.mimic import INFERENCE_MODES

MODEL_FORMAT = "mimicgait-model/1"
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
    """sha256 over the model specs, the inference mode and every weight tensor (in key order)."""
    digest = hashlib.sha256()
    parts = [("model", payload["model_spec"], payload["state_dict"])]
    for key in ("teacher", "ven"):
        if payload.get(key):
            parts.append((key, payload[key]["model_spec"], payload[key]["state_dict"]))
    digest.update(str(payload.get("inference")).encode())
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


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise UserError(f"{where}: the weights do not fit the model the file describes ({first}); "
                        "re-export it with `mimicgait export`") from None


def build_from_payload(payload: dict[str, Any], where: str) -> nn.Module:
    """The eval-mode module a model-file dict describes (BatchNorm not yet folded)."""
    teacher = ven = None
    for key in ("teacher", "ven"):
        part = payload.get(key)
        if part:
            module = build_model(part["model_spec"])
            _load_state(module, part["state_dict"], f"{where} ({key})")
            if key == "teacher":
                teacher = module
            else:
                ven = module
    spec = payload["model_spec"]
    model = build_model(spec, ven=ven, teacher=teacher) if spec["kind"] == "mimic" else build_model(spec)
    _load_state(model, payload["state_dict"], where)
    if spec["kind"] == "mimic":
        model.set_inference(payload["inference"])
    return model.eval()


def read_model_file(path: str | Path, check: bool = True) -> dict[str, Any] | None:
    """The model-file dict at `path` (weights_only=True), None when the file is a torch file of
    another kind; with `check`, its fingerprint is verified. Raises UserError for unreadable files."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to unpickle means "not a model file we can read"
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "weights_only" in text or "Unsupported global" in text:
            raise UserError(f"{path}: refused: the file holds objects that could run code when loaded; "
                            "only mimicgait model files and checkpoints are accepted") from None
        raise UserError(f"{path}: truncated, or not a mimicgait model file or checkpoint ({text})") from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        return None
    if check and fingerprint(payload) != payload.get("fingerprint"):
        raise UserError(f"{path}: the weights do not match the file's fingerprint (corrupted or edited); "
                        "export the model again")
    return payload
