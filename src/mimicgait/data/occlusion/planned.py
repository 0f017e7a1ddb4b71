"""Kinds that keep every frame and are made of two pixel operations, which they state as plans.

A `PlannedKind` says, for its sequences, which rows of each frame are kept and resized back to the
frame height (`RowPlan`: top, bottom, changing), and which columns a band of rows hides at each frame
(`MaskPlan`: middle, patch, pole); a kind may state both (the rows first). Plans are NumPy arithmetic
on one `Occlusion`'s scalar fields or on `Draws`' arrays [M], so one plan serves both forms: `occlude`
here applies it to one sequence, and the batch occluder (`batch`) applies the plans of every planned
kind of a batch in one vectorised pass (one row gather, one masked AND), pixel for pixel the same (so a
planned kind has no `occlude_batch` of its own). Two bases share what near-identical kinds would copy:
`MovingKind` (a moving occluder's draws: patch, pole) and `CropKind` (a kept, resized crop: top, bottom).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from mimicgait.data.occlusion.registry import OcclusionKind
from mimicgait.data.occlusion.rules import SPEED_RANGE, SPEED_SCALE, Occlusion, Ranges, crop_rows, resize_rows

if TYPE_CHECKING:
    from mimicgait.data.occlusion.pool import OccluderPool


@dataclass(frozen=True)
class Draws:
    """The fields of M occlusions as NumPy arrays [M] (the names of `Occlusion`'s), for plans."""

    amount: np.ndarray
    width: np.ndarray
    speed: np.ndarray
    reverse: np.ndarray
    variant: np.ndarray
    offset: np.ndarray
    phase: np.ndarray
    source: np.ndarray


#: What a plan reads: one occlusion (scalars) or several (arrays [M]).
Drawn = Occlusion | Draws


@dataclass(frozen=True)
class RowPlan:
    """Keep `crop` rows of every frame and resize them back to the frame height; from the bottom of the
    frame (a top occlusion) where `*_top`, else from its top. Frames t < length // 2 follow `first_top`,
    the others `second_top`. Scalars or arrays [M]."""

    crop: Any
    first_top: Any
    second_top: Any


@dataclass(frozen=True)
class MaskPlan:
    """Hide, in rows first..last - 1 of every frame, `span` columns whose left edge moves `speed_q` /
    SPEED_SCALE px per frame: from the left border, or from the right one when `reverse`. Scalars or
    arrays [M]."""

    first: Any
    last: Any
    span: Any
    speed_q: Any
    reverse: Any


class PlannedKind(OcclusionKind):
    """A kind applied through its plans (`row_plan`, `mask_plan`); by default it draws only its amount."""

    def row_plan(self, occ: Drawn, height: int) -> RowPlan | None:
        """Rows kept and resized, or None (every row stays)."""
        return None

    def mask_plan(self, occ: Drawn, height: int, width: int) -> MaskPlan | None:
        """Columns hidden in a band of rows, or None (nothing masked)."""
        return None

    def draw(self, rng: np.random.Generator, amount: float, ranges: Ranges, *, pool: OccluderPool | None,
             subject: str | None) -> Occlusion:
        return Occlusion(self.name, amount)

    def draw_batch(self, amount: torch.Tensor, u: torch.Tensor, extra: np.ndarray | None, ranges: Ranges, *,
                   pool: OccluderPool | None, subjects: Sequence[str] | None) -> dict[str, Any]:
        return {}

    def occlude(self, frames: np.ndarray, occ: Occlusion, pool: OccluderPool | None = None) -> np.ndarray:
        length, height, width = frames.shape
        rows, mask = self.row_plan(occ, height), self.mask_plan(occ, height, width)
        if rows is not None:  # resized first; a mask then hides columns of the resized frames in place
            out = _resize_sequence(frames, int(rows.crop), bool(rows.first_top), bool(rows.second_top))
            source = out
        elif mask is not None:
            out, source = np.empty_like(frames, order="C"), frames
        else:
            return frames.copy()
        if mask is not None:
            _mask_sequence(source, out, mask)
        return out


class MovingKind(PlannedKind):
    """A kind whose occluder moves across the frame (`patch`, `pole`): after its amount it draws its
    width (`draw_width`; nothing by default), then a speed, then a direction, in that order (the
    evaluation draws and the fingerprints depend on it). Subclasses state the `mask_plan`."""

    def draw_width(self, rng: np.random.Generator, ranges: Ranges) -> float:
        """The occluder's width fraction, when the kind draws one besides its amount; 0.0 (no draw) here."""
        return 0.0

    def draw(self, rng: np.random.Generator, amount: float, ranges: Ranges, *, pool: OccluderPool | None,
             subject: str | None) -> Occlusion:
        width = self.draw_width(rng, ranges)
        speed = draw_speed(rng)
        return Occlusion(self.name, amount, width, speed, draw_reverse(rng))

    def draw_batch(self, amount: torch.Tensor, u: torch.Tensor, extra: np.ndarray | None, ranges: Ranges, *,
                   pool: OccluderPool | None, subjects: Sequence[str] | None) -> dict[str, Any]:
        return {"speed": batch_speed(u), "reverse": batch_reverse(u)}

    def describe(self, occ: Occlusion) -> str:
        return describe_motion(occ)


class CropKind(PlannedKind):
    """A kind that hides the top or the bottom x of every frame (`top`, `bottom`): the rest is kept and
    resized back to the frame height (`RowPlan`), as a detector boxing only the visible part gives it."""

    #: The top of the frame is hidden (the bottom rows are kept), else the bottom.
    hides_top: ClassVar[bool]

    def row_plan(self, occ: Drawn, height: int) -> RowPlan:
        return RowPlan(crop_rows(occ.amount, height), self.hides_top, self.hides_top)


# -- drawing the motion of a moving kind and the order of a two-part one --------------------------
def draw_speed(rng: np.random.Generator) -> float:
    """A speed in px/frame from `SPEED_RANGE`."""
    return float(rng.uniform(*SPEED_RANGE))


def draw_reverse(rng: np.random.Generator) -> bool:
    """A fair coin: right-to-left motion, or the reverse order of a two-part kind."""
    return bool(rng.random() < 0.5)


def batch_speed(u: torch.Tensor) -> torch.Tensor:
    """Speeds [M] from the second shared uniform of each sequence (`u` [M, 3])."""
    return SPEED_RANGE[0] + (SPEED_RANGE[1] - SPEED_RANGE[0]) * u[:, 1]


def batch_reverse(u: torch.Tensor) -> torch.Tensor:
    """Coins [M] from the third shared uniform of each sequence (`u` [M, 3])."""
    return u[:, 2] < 0.5


# -- applying plans to one sequence [T, H, W] -------------------------------------------------------
def _resize_sequence(frames: np.ndarray, crop: int, first_top: bool, second_top: bool) -> np.ndarray:
    out = np.empty_like(frames, order="C")
    half = len(frames) // 2 if first_top != second_top else len(frames)
    _resize_kept(frames[:half], crop, first_top, out[:half])
    _resize_kept(frames[half:], crop, second_top, out[half:])
    return out


def _resize_kept(frames: np.ndarray, crop: int, from_bottom: bool, out: np.ndarray) -> None:
    """Keep `crop` rows (the bottom ones when `from_bottom`), resize them back to H into `out`."""
    a, b, tie = _resize_plan(crop, frames.shape[1], from_bottom)
    np.take(frames, a, axis=1, out=out, mode="clip")  # [T, H, W]; faster than frames[:, rows]
    if tie:
        np.minimum(out, np.take(frames, b, axis=1), out=out)


@functools.lru_cache(maxsize=1024)
def _resize_plan(crop: int, height: int, from_bottom: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """Frame rows (a, b) read by each output row, and whether any tie needs both; a few dozen
    (crop, height) pairs occur in practice, so they are computed once each."""
    a, b = resize_rows(crop, height)
    offset = height - crop if from_bottom else 0
    a, b = a + offset, b + offset
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b, not np.array_equal(a, b)


def _mask_sequence(source: np.ndarray, out: np.ndarray, plan: MaskPlan) -> None:
    """`out` = `source` with the plan's columns hidden (`out` may be `source`)."""
    length, height, width = source.shape
    first, last, span = int(plan.first), int(plan.last), int(plan.span)
    if out is not source:
        out[:, :first] = source[:, :first]
        out[:, last:] = source[:, last:]
    if span == width and int(plan.speed_q) == 0:  # every column, standing still: a band of zeros
        out[:, first:last] = 0
        return
    covered = moving_columns(length, width, span, int(plan.speed_q), bool(plan.reverse))  # [T, W]
    keep = (~covered).astype(source.dtype)
    # Multiplying by a tiled (contiguous) mask beats boolean-mask assignment here (occlusion_speed.py),
    # and writing the product straight into `out` saves a copy of the covered rows.
    tiled = np.tile(keep, (1, last - first)).reshape(length, last - first, width)  # [T, last - first, W]
    np.multiply(source[:, first:last], tiled, out=out[:, first:last])


def moving_columns(length: int, width: int, span: int, speed_q: int, reverse: bool) -> np.ndarray:
    """[T, W] bool: the columns a moving patch of `span` columns covers at each frame."""
    pos = (speed_q * np.arange(length)) // SPEED_SCALE  # [T]
    left = width - span - pos if reverse else pos
    cols = np.arange(width)
    return (cols[None, :] >= left[:, None]) & (cols[None, :] < left[:, None] + span)


def describe_motion(occ: Occlusion) -> str:
    """'-> 0.75px/f': the direction and speed of a moving kind (for pictures)."""
    return f"{'<-' if occ.reverse else '->'} {occ.speed:.2f}px/f"
