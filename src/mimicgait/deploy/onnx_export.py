"""ONNX export of a deployed model, every inference mode, with a dynamic batch and frame count.

The graph takes `sils` float [N, S, H, W] in [0, 1] at the model's data frame size and, for
frame-wise encoders (GaitBase, GaitSet; the VEN always), `lengths` int64 [N], and returns
`embeddings` float32 [N, C, P]. The encoder's preprocessing (crop, resize) is inside the graph; the
pretreatment of raw silhouettes (crop to the person, scale, centre) is not, and the JSON sidecar
says so. Tracing uses `dense_frames` (models.blocks): every frame runs through the 2D layers and
padded frames are masked out of the temporal pooling, so padded batches give the embeddings of
unpadded ones, and routed inference becomes a per-sequence select between the teacher's and the
guided embedding (the VEN's decision inside the graph). Encoders with temporal convolutions are
exported without `lengths`: feed them batches of equal-length sequences (`OnnxRecognizer` does).

Needs the `deploy` extra (onnx, onnxscript for torch's exporter, onnxruntime to check and run).
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mimicgait.deploy.recognizer import Recognizer, recognizer_from_payload
from mimicgait.errors import UserError
from mimicgait.eval.extract import extract_embeddings
from mimicgait.io import write_atomic
from mimicgait.models.blocks import dense_frames
from mimicgait.models.fold import fold_batchnorm
from mimicgait.models.mimic import MimicNet

SIDECAR_FORMAT = "mimicgait-onnx/1"


def require(module: str) -> Any:
    """Import an optional deployment dependency or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"ONNX needs the optional package {module!r}: "
                        "pip install 'mimicgait[deploy]'") from None


class ExportGraph(nn.Module):
    """(sils [N, S, H, W], lengths [N] | None) -> float32 embeddings [N, C, P], trace-friendly."""

    def __init__(self, recognizer: Recognizer) -> None:
        super().__init__()
        inner = recognizer.model.model
        if isinstance(inner, MimicNet) and inner.teacher is not None:
            # The eager model folds its teacher lazily, keyed on data pointers a trace cannot read.
            inner._frozen = (fold_batchnorm(inner.teacher).eval(), inner.ven)
        self.net = inner
        self.preprocess = recognizer.model.preprocess

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        with dense_frames():
            return self.net.embed(self.preprocess(sils), lengths).float()


def _example(frame_size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """A padded two-sequence batch with a person-like box, for tracing."""
    h, w = frame_size
    sils = torch.zeros(2, 6, h, w)
    sils[:, :, h // 8 : h - h // 8, w // 3 : w - w // 3] = 1.0
    sils[1, 4:] = 0.0
    return sils, torch.tensor([6, 4])


def _export(graph: ExportGraph, frame_size: tuple[int, int], with_lengths: bool):
    sils, lengths = _example(frame_size)
    batch, frames = torch.export.Dim("batch", min=1), torch.export.Dim("frames", min=1)
    if with_lengths:
        args: tuple = (sils, lengths)
        shapes: Any = {"sils": {0: batch, 1: frames}, "lengths": {0: batch}}
        names = ["sils", "lengths"]
    else:
        args = (sils[:, :4],)
        shapes = {"sils": {0: batch, 1: frames}, "lengths": None}
        names = ["sils"]
    quiet = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir", "torch.export")]
    levels = [logger.level for logger in quiet]
    try:  # the exporter logs every optional op library it skips (torchvision) and its own notes
        for logger in quiet:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.onnx.export(graph, args, dynamo=True, dynamic_shapes=shapes, input_names=names,
                                     output_names=["embeddings"], verbose=False)
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)


def export_onnx(payload: dict[str, Any], out: str | Path) -> dict[str, Any]:
    """Write `out` (.onnx) and `out.json` (the sidecar) for a model-file dict; returns the sidecar."""
    require("onnx")
    require("onnxscript")
    out = Path(out)
    recognizer = recognizer_from_payload(payload, "cpu", str(out))
    graph = ExportGraph(recognizer).eval()
    frame_size = recognizer.frame_size
    with_lengths = True
    try:
        program = _export(graph, frame_size, with_lengths=True)
    except Exception as err:  # noqa: BLE001 - a temporal encoder refuses lengths while tracing
        if "temporal convolutions" not in str(err):
            raise
        with_lengths = False
        program = _export(graph, frame_size, with_lengths=False)
    write_atomic(out, lambda f: f.write(program.model_proto.SerializeToString()))
    sidecar = {
        "format": SIDECAR_FORMAT,
        "model": out.name,
        "fingerprint": payload["fingerprint"],
        "stage": payload["stage"],
        "inference": payload["inference"],
        "inputs": {
            "sils": "float32 [N, S, H, W] in [0, 1] (binary silhouettes), H, W = frame_size",
            **({"lengths": "int64 [N], valid frames per sequence (padding after them)"} if with_lengths
               else {}),
        },
        "lengths_input": with_lengths,
        "batching": "any lengths, zero-padded" if with_lengths else "equal-length sequences per batch",
        "outputs": {"embeddings": f"float32 [N, {payload['embedding']['channels']}, "
                                  f"{payload['embedding']['parts']}]"},
        "frame_size": list(frame_size),
        "pretreatment": ("frames of another size: crop to the person, scale to height H, centre on the "
                         "column of half the mass, cut/pad to width W, binarise (mimicgait.deploy."
                         "as_silhouettes); not part of the graph"),
        "in_graph_preprocess": payload["input"]["preprocess"],
        "embedding": payload["embedding"],
        "metric": ("euc: Euclidean distance per part, averaged over the P parts (mimicgait.eval."
                   "distances)"),
        "provenance": {k: v for k, v in payload["provenance"].items() if k != "config"},
    }
    text = json.dumps(sidecar, indent=2).encode()
    write_atomic(sidecar_path(out), lambda f: f.write(text))
    return sidecar


def sidecar_path(onnx_file: str | Path) -> Path:
    return Path(str(onnx_file) + ".json")


class OnnxRecognizer:
    """An exported .onnx model run by onnxruntime, with the same `embed` as `Recognizer`."""

    def __init__(self, onnx_file: str | Path, threads: int | None = None) -> None:
        ort = require("onnxruntime")
        onnx_file = Path(onnx_file)
        side = sidecar_path(onnx_file)
        if not side.is_file():
            raise UserError(f"{onnx_file}: its sidecar {side.name} is missing; export again")
        self.sidecar = json.loads(side.read_text())
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.frame_size = tuple(self.sidecar["frame_size"])
        self.with_lengths = bool(self.sidecar["lengths_input"])

    def embed_padded(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        """float [N, S, H, W] + lengths -> [N, C, P], as `Recognizer.embed_padded`."""
        feeds = {"sils": sils.detach().cpu().float().numpy()}
        if self.with_lengths:
            n, s = sils.shape[:2]
            lens = lengths if lengths is not None else torch.full((n,), s)
            feeds["lengths"] = lens.detach().cpu().long().numpy()
        elif lengths is not None and bool((lengths != sils.shape[1]).any()):
            raise UserError("this ONNX model has no lengths input: embed equal-length sequences per batch")
        return torch.from_numpy(self.session.run(["embeddings"], feeds)[0])

    def embed(self, sequences: list[np.ndarray], batch_size: int = 8) -> Tensor:
        """Sequences uint8 {0, 1} [T, H, W] at `frame_size` -> [N, C, P] (padded batches when the
        graph takes lengths, else one batch per distinct length)."""
        lengths = [len(s) for s in sequences]
        if self.with_lengths:
            return extract_embeddings(self.embed_padded, sequences.__getitem__, lengths, batch_size)
        out: Tensor | None = None
        for length in sorted(set(lengths)):
            idx = [i for i, n in enumerate(lengths) if n == length]
            part = extract_embeddings(self.embed_padded, lambda p, idx=idx: sequences[idx[p]],
                                      [length] * len(idx), batch_size)
            if out is None:
                out = torch.empty(len(sequences), *part.shape[1:])
            out[idx] = part
        assert out is not None
        return out


def walking_boxes(count: int, frame_size: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """`count` silhouette-like sequences of 5-20 frames (a body and two swinging legs), for checks
    that need plausible input without a dataset: uint8 {0, 1} [T, H, W] each."""
    rng = np.random.default_rng(seed)
    h, w = frame_size
    rows, cols = np.mgrid[0:h, 0:w]
    out = []
    for _ in range(count):
        t = int(rng.integers(5, 21))
        phase = rng.uniform(0, 2 * np.pi) + np.arange(t)[:, None, None] * rng.uniform(0.3, 0.6)  # [T, 1, 1]
        width = rng.uniform(0.12, 0.2) * w
        body = (np.abs(cols - w / 2) < width / 2) & (rows > 0.1 * h) & (rows < 0.6 * h)
        swing = np.sin(phase) * 0.12 * w  # [T, 1, 1]
        lower = rows >= 0.6 * h
        lean = swing * (rows - 0.6 * h) / (0.4 * h)
        leg_a = (np.abs(cols - (w / 2 + lean)) < width / 4) & lower
        leg_b = (np.abs(cols - (w / 2 - lean)) < width / 4) & lower
        out.append((body | leg_a | leg_b).astype(np.uint8))
    return out


def parity(payload: dict[str, Any], onnx_file: str | Path, sequences: list[np.ndarray] | None = None,
           batch_size: int = 8) -> dict[str, float]:
    """PyTorch against onnxruntime on the same sequences (padded batches of mixed lengths):
    {'max_abs_diff', 'embedding_scale' (max |embedding|), 'relative', 'sequences'}."""
    recognizer = recognizer_from_payload(payload, "cpu")
    if sequences is None:
        sequences = walking_boxes(12, recognizer.frame_size)
    ours = recognizer.embed(sequences, batch_size=batch_size)
    theirs = OnnxRecognizer(onnx_file).embed(sequences, batch_size=batch_size)
    diff = float((ours - theirs).abs().max())
    scale = float(ours.abs().max())
    return {"max_abs_diff": diff, "embedding_scale": scale, "relative": diff / max(scale, 1e-12),
            "sequences": len(sequences)}
