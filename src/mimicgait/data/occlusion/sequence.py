"""Occluding one sequence `[T, H, W]` with NumPy: the reference implementation (evaluation, inspection).

Each kind applies itself (`OcclusionKind.occlude`). The kinds that keep every frame return as many
frames as they were given; the wild kinds (`wild`) may drop frames, so their output can be shorter."""

from __future__ import annotations

import numpy as np

from mimicgait.data.occlusion.pool import OccluderPool
from mimicgait.data.occlusion.registry import get_kind
from mimicgait.data.occlusion.rules import Occlusion, draw_occlusion


def occlude(frames: np.ndarray, occ: Occlusion, pool: OccluderPool | None = None) -> np.ndarray:
    """Apply one drawn occlusion to a sequence `[T, H, W]`; returns a new array, same dtype/values.

    A wild kind returns the frames a detector keeps, re-aligned (`wild.occlude_wild`); a crowd reads
    its other walker from `pool`."""
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"expected frames of shape (T, H, W), got shape {frames.shape}")
    if frames.size == 0:
        return frames.copy()
    return get_kind(occ.kind).occlude(frames, occ, pool)


def apply_occlusion(
    frames: np.ndarray, kind: str, amount: float | None = None, rng: np.random.Generator | None = None,
    *, pool: OccluderPool | None = None, subject: str | None = None,
) -> np.ndarray:
    """Occlude a whole sequence `[T, H, W]` with `kind` (amount drawn from the kind's range if None: R =
    (0.4, 0.6), Rt for a pole, `WILD_RANGE` for a wild kind); a crowd draws another walker than
    `subject` from `pool`."""
    return occlude(frames, draw_occlusion(kind, rng, amount, pool=pool, subject=subject), pool)
