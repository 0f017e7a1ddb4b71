"""`mimicgait.load(path)`: a trained model as a recogniser that embeds and compares sequences.

    import mimicgait
    model = mimicgait.load("model.pt")           # an exported file, a checkpoint, a run directory
    model = mimicgait.load("casiab-mimic")       # or a model shipped with the package
    emb = model.embed([frames_a, frames_b])       # [2, C, P]; frames [T, H, W] in any silhouette form
    model.distance(emb[:1], emb[1:])              # [1, 1], the metric `mimicgait eval` ranks with

Whatever the source, the model is rebuilt from the same model-file dict (`modelfile.model_payload`
for checkpoints), so a run directory and its export have the same fingerprint and embed alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mimicgait.deploy.contract import as_silhouettes
from mimicgait.deploy.modelfile import build_from_payload, model_payload, read_model_file
from mimicgait.errors import UserError
from mimicgait.eval.distances import pairwise_distances
from mimicgait.eval.extract import extract_embeddings
from mimicgait.models.checkpoint import InferenceModel
from mimicgait.models.fold import fold_batchnorm
from mimicgait.models.preprocess import Preprocess
from mimicgait.pretrained import resolve_model, shipped_model, shipped_models

DEVICES = "auto, cpu, cuda or cuda:N"


def resolve_device(name: str | torch.device | None) -> torch.device:
    """'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N' -> a usable torch.device."""
    if isinstance(name, torch.device):
        return name
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r}: use {DEVICES}") from None
    if device.type not in ("cpu", "cuda"):
        raise UserError(f"--device {name!r}: use {DEVICES}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {name}: this machine has no CUDA device; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    return device


class Recognizer:
    """A loaded model: `embed` sequences, `distance` between embeddings, `to(device)`.

    `meta` holds stage, inference, backbone, frame_size (the data frame size the network takes),
    embedding layout and metric, provenance and the model fingerprint.
    """

    def __init__(self, model: InferenceModel, meta: dict[str, Any]) -> None:
        self.model = model.eval()
        self.meta = meta

    @property
    def fingerprint(self) -> str:
        return self.meta["fingerprint"]

    @property
    def frame_size(self) -> tuple[int, int]:
        return tuple(self.meta["frame_size"])  # type: ignore[return-value]

    @property
    def metric(self) -> str:
        return self.meta["embedding"]["metric"]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> Recognizer:
        """Move the network (teacher and VEN included) to `device` ('auto', 'cpu', 'cuda:N')."""
        self.model.to(resolve_device(device))
        return self

    def embed_padded(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The raw network call: float [N, S, H, W] in [0, 1] at `frame_size` -> [N, C, P] (on the
        model's device). This is what `mimicgait eval` calls; it checks nothing."""
        return self.model.embed(sils, lengths)

    def prepare(self, frames: np.ndarray | Tensor, name: str = "sequence") -> np.ndarray:
        """One sequence in any accepted silhouette form -> uint8 {0, 1} [T, H, W] at `frame_size`."""
        return as_silhouettes(frames, self.frame_size, name)

    def embed(
        self,
        sequences: Sequence[np.ndarray | Tensor] | np.ndarray | Tensor,
        batch_size: int = 8,
        progress: bool = False,
        names: Sequence[str] | None = None,
    ) -> Tensor:
        """Embed sequences -> float32 [N, C, P] on the CPU.

        `sequences`: a list of [T_i, H, W] arrays/tensors, one [T, H, W] sequence, or a batch
        [N, T, H, W] (every frame valid). Each is checked and normalised (`prepare`); sequences of
        similar length share a padded batch.
        """
        if isinstance(sequences, (np.ndarray, Tensor)):
            if sequences.ndim == 3:
                sequences = [sequences]
            elif sequences.ndim == 4 and sequences.shape[-1] not in (3, 4):
                sequences = list(sequences)
            else:
                sequences = [sequences]  # let the contract say what is wrong with it
        names = list(names) if names is not None else [f"sequence {i}" for i in range(len(sequences))]
        ready = [self.prepare(s, n) for s, n in zip(sequences, names, strict=True)]
        lengths = [len(s) for s in ready]
        return extract_embeddings(self.embed_padded, ready.__getitem__, lengths, batch_size,
                                  progress=progress)

    def distance(self, a: Tensor, b: Tensor) -> Tensor:
        """Distances [n, m] between embeddings a [n, C, P] and b [m, C, P] (the model's metric,
        the one `mimicgait eval` ranks with; smaller is closer)."""
        return pairwise_distances(torch.as_tensor(a), torch.as_tensor(b), self.metric)

    def __repr__(self) -> str:
        m = self.meta
        mode = f", {m['inference']}" if m.get("inference") else ""
        return (f"Recognizer({m['stage']}{mode}, {m['backbone']}, frames {m['frame_size']}, "
                f"embedding [{m['embedding']['channels']}, {m['embedding']['parts']}], "
                f"fingerprint {m['fingerprint'][:12]})")


def load_payload(path: str | Path, inference: str | None = None) -> tuple[dict[str, Any], str]:
    """(model-file dict, what it came from) for an exported file, a checkpoint, a run directory or
    the name of a model shipped with the package (`mimicgait models`)."""
    path, name = resolve_model(path)
    payload = read_model_file(path) if path.is_file() else None
    if payload is None:
        return model_payload(path, inference), "checkpoint"
    if name is not None and payload["fingerprint"] != shipped_model(name).fingerprint:
        raise UserError(f"shipped model {name!r}: {path} holds another model than the package index names "
                        "(fingerprint differs); reinstall mimicgait")
    mimic = payload["model_spec"]["kind"] == "mimic"
    if inference is not None and inference != payload["inference"] and mimic and name is not None:
        others = [m.name for m in shipped_models().values() if m.inference == inference]
        raise UserError(f"shipped model {name!r} runs {payload['inference']} inference; for {inference} "
                        f"inference use {' or '.join(others) if others else 'a model exported with it'}")
    if inference is not None and inference != payload["inference"] and mimic:
        raise UserError(f"{path} was exported for {payload['inference']} inference; export the run again "
                        f"with --inference {inference}")
    if inference not in (None, "student", "guided") and payload["model_spec"]["kind"] != "mimic":
        raise UserError(f"{path} is a {payload['stage']} model: --inference applies to mimic models only")
    return payload, f"shipped model {name}" if name else "model file"


def recognizer_from_payload(payload: dict[str, Any], device: str | torch.device = "cpu",
                            where: str = "model") -> Recognizer:
    """Build, fold BatchNorm (same function, one pass fewer) and move to `device`."""
    module = fold_batchnorm(build_from_payload(payload, where)).to(resolve_device(device))
    spec = payload["model_spec"]
    meta = {
        "stage": payload["stage"],
        "inference": payload["inference"],
        "backbone": (spec.get("encoder") or {}).get("name"),
        "frame_size": list(payload["input"]["frame_size"]),
        "input_size": list(payload["input"]["frame_size"]),
        "preprocess": payload["input"]["preprocess"],
        "embedding": payload["embedding"],
        "provenance": payload["provenance"],
        "fingerprint": payload["fingerprint"],
        "iteration": payload["provenance"].get("iteration"),
        "file": where,
    }
    return Recognizer(InferenceModel(module, Preprocess.from_spec(payload["input"]["preprocess"])), meta)


def load(path: str | Path, inference: str | None = None, device: str | torch.device = "cpu") -> Recognizer:
    """A recogniser from an exported model file, a training checkpoint, a run directory or the name
    of a model shipped with the package (`mimicgait.pretrained.model_names()`).

    `inference` (mimic only): 'guided', 'student' or 'routed'; default: what the run ships.
    `device`: 'auto', 'cpu', 'cuda' or 'cuda:N'.
    """
    payload, _ = load_payload(path, inference)
    return recognizer_from_payload(payload, device, str(path))
