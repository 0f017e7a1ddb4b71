"""Writing checkpoints: atomic saves, references to the frozen parts a run used, RNG state.

Reading them (safe loads, checks, rebuilding a model for inference) is `mimicgait.models.checkpoint`,
which deployment shares. Writes go to a temporary file in the same directory, are fsynced and then
renamed over the target, so a run killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimicgait.io import write_atomic
from mimicgait.models.checkpoint import sha256

log = logging.getLogger(__name__)



# -- files ---------------------------------------------------------------------------------------
def atomic_save(payload: dict[str, Any], path: str | Path) -> Path:
    """Write `payload` with torch.save atomically (temp file beside `path`, fsync, rename)."""
    return write_atomic(path, lambda f: torch.save(payload, f))


def relative_reference(target: Path, run_dir: Path) -> dict[str, str]:
    """{'path': target relative to run_dir when possible, else absolute, 'sha256'}."""
    target = Path(target).resolve()
    try:
        shown = os.path.relpath(target, Path(run_dir).resolve())
    except ValueError:  # other drive on Windows
        shown = str(target)
    return {"path": shown, "sha256": sha256(target)}


# -- random state --------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU and CUDA) global RNG states, as tensors and plain values."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


