"""Occluding one sequence `[T, H, W]` with NumPy: the reference implementation (evaluation, inspection).

The paper's kinds keep every frame; the wild kinds (`wild`) may drop frames, so their output can be
shorter than the input."""

from __future__ import annotations

import functools

import numpy as np

from mimicgait.data.occlusion.pool import OccluderPool
from mimicgait.data.occlusion.rules import (
    SPEED_SCALE,
    WILD_KINDS,
    Occlusion,
    _crop_rows,
    _span,
    _speed_q,
    draw_occlusion,
    resize_rows,
)


def _resize_kept(frames: np.ndarray, crop: int, from_bottom: bool, out: np.ndarray) -> None:
    """Keep `crop` rows (the bottom ones when `from_bottom`), resize them back to H into `out`."""
    a, b, tie = _resize_plan(crop, frames.shape[1], from_bottom)
    np.take(frames, a, axis=1, out=out, mode="clip")  # [T, H, W]; faster than frames[:, rows]
    if tie:
        np.minimum(out, np.take(frames, b, axis=1), out=out)


@functools.lru_cache(maxsize=1024)
def _resize_plan(crop: int, height: int, from_bottom: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """Frame rows (a, b) read by each output row, and whether any tie needs both; a few dozen
    (crop, height) pairs occur in practice, so caching saves ~10% of a per-sequence call."""
    a, b = resize_rows(crop, height)
    offset = height - crop if from_bottom else 0
    a, b = a + offset, b + offset
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b, not np.array_equal(a, b)


def _moving_columns(length: int, width: int, span: int, speed: float, reverse: bool) -> np.ndarray:
    """[T, W] bool: the columns a moving patch of `span` columns covers at each frame."""
    pos = (_speed_q(speed) * np.arange(length)) // SPEED_SCALE  # [T]
    left = width - span - pos if reverse else pos
    cols = np.arange(width)
    return (cols[None, :] >= left[:, None]) & (cols[None, :] < left[:, None] + span)


def occlude(frames: np.ndarray, occ: Occlusion, pool: OccluderPool | None = None) -> np.ndarray:
    """Apply one drawn occlusion to a sequence `[T, H, W]`; returns a new array, same dtype/values.

    A wild kind returns the frames a detector keeps, re-aligned (`wild.occlude_wild`); a crowd reads
    its other walker from `pool`."""
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"expected frames of shape (T, H, W), got shape {frames.shape}")
    length, height, width = frames.shape
    if length == 0 or height == 0 or width == 0 or occ.kind == "none":
        return frames.copy()
    if occ.kind in WILD_KINDS:
        from mimicgait.data.occlusion.wild import occlude_wild

        return occlude_wild(frames, occ, pool)
    if occ.kind in ("top", "bottom", "changing"):
        out = np.empty_like(frames, order="C")
        crop = _crop_rows(occ.amount, height)
        half = length // 2 if occ.kind == "changing" else length
        first_top = occ.kind == "top" or (occ.kind == "changing" and not occ.reverse)
        _resize_kept(frames[:half], crop, first_top, out[:half])
        _resize_kept(frames[half:], crop, not first_top, out[half:])
        return out
    if occ.kind == "middle":
        out = frames.copy()
        band = _span(occ.amount, height)
        start = (height - band) // 2
        out[:, start : start + band] = 0
        return out
    if occ.kind == "patch":
        top, span = height - _span(occ.amount, height), _span(occ.width, width)
    else:  # pole
        top, span = 0, _span(occ.amount, width)
    keep = (~_moving_columns(length, width, span, occ.speed, occ.reverse)).astype(frames.dtype)  # [T, W]
    out = np.empty_like(frames, order="C")
    out[:, :top] = frames[:, :top]
    # Multiplying by a tiled (contiguous) mask beats boolean-mask assignment here (occlusion_speed.py),
    # and writing the product straight into `out` saves a copy of the covered rows.
    tiled = np.tile(keep, (1, height - top)).reshape(length, height - top, width)  # [T, H - top, W]
    np.multiply(frames[:, top:], tiled, out=out[:, top:])
    return out


def apply_occlusion(
    frames: np.ndarray, kind: str, amount: float | None = None, rng: np.random.Generator | None = None,
    *, pool: OccluderPool | None = None, subject: str | None = None,
) -> np.ndarray:
    """Occlude a whole sequence `[T, H, W]` with `kind` (amount drawn from R = (0.4, 0.6) if None, or
    from `WILD_RANGE` for a wild kind); a crowd draws another walker than `subject` from `pool`."""
    return occlude(frames, draw_occlusion(kind, rng, amount, pool=pool, subject=subject), pool)
