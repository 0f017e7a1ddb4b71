"""An occlusion's parameters (`Occlusion`), their ranges, drawing them for a kind, and the pixel
arithmetic the NumPy and torch forms share (see the package docstring for the rules)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mimicgait.data.occlusion.registry import check_kind, get_kind
from mimicgait.errors import UserError

if TYPE_CHECKING:
    from mimicgait.data.occlusion.pool import OccluderPool

#: Default amount range R (fraction of the frame height / patch size) and pole width range Rt.
AMOUNT_RANGE: tuple[float, float] = (0.4, 0.6)
POLE_RANGE: tuple[float, float] = (0.2, 0.4)
#: Patch speed range Rs in pixels per frame.
SPEED_RANGE: tuple[float, float] = (0.5, 1.0)
#: Speeds are held as integer multiples of 1 / SPEED_SCALE px/frame.
SPEED_SCALE = 1024
#: Default range of a wild kind's amount: the fraction of the walker's silhouette pixels hidden.
WILD_RANGE: tuple[float, float] = (0.2, 0.6)
#: A frame with more than this fraction of its walker pixels hidden is dropped (the detector loses them).
DROP_ABOVE = 0.8
SPEED_SHIFT = 10  # log2(SPEED_SCALE): positions use a shift, exact for non-negative integers


@dataclass(frozen=True)
class Ranges:
    """The ranges amounts are drawn from; a kind names its own (`OcclusionKind.amount_from`)."""

    amount: tuple[float, float] = AMOUNT_RANGE
    pole: tuple[float, float] = POLE_RANGE
    wild: tuple[float, float] = WILD_RANGE

    def of(self, name: str) -> tuple[float, float]:
        return getattr(self, name)


@dataclass(frozen=True)
class Occlusion:
    """Every random choice of one sequence's occlusion; `occlude` applies it deterministically.

    `amount`: hidden fraction (height for top/bottom/middle/changing/patch, width for pole; for the
    wild kinds the fraction of the walker's silhouette pixels). `width`: the patch's width fraction
    (patch only). `speed`: px/frame (patch, pole, crowd, object). `reverse`: right-to-left motion
    (patch, pole, crowd, object) or bottom-first (changing). Wild kinds only: `variant` (the cut's
    side in `cut.CUT_SIDES`, the object's shape in `object_shapes.SHAPES`), `offset` (when the occluder
    is centred on the walker, a fraction of the sequence), `phase` (the other walker's first frame,
    a fraction of their sequence) and `source` (the other walker's entry in the `OccluderPool`).
    """

    kind: str
    amount: float = 0.0
    width: float = 0.0
    speed: float = 0.0
    reverse: bool = False
    variant: int = 0
    offset: float = 0.0
    phase: float = 0.0
    source: int = -1

    def __post_init__(self) -> None:
        check_kind(self.kind)
        if not 0.0 <= self.amount < 1.0:
            raise UserError(f"occlusion amount must lie in [0, 1), got {self.amount}")
        if not 0.0 <= self.width <= 1.0:
            raise UserError(f"patch width fraction must lie in [0, 1], got {self.width}")
        if self.speed < 0:
            raise UserError(f"patch speed must be >= 0 px/frame, got {self.speed}")
        if not (0.0 <= self.offset <= 1.0 and 0.0 <= self.phase < 1.0 and self.variant >= 0):
            raise UserError(f"occlusion offset and phase must lie in [0, 1], got {self.offset}, {self.phase}")


def check_range(name: str, bounds: tuple[float, float]) -> tuple[float, float]:
    """`bounds` as floats if 0 <= low <= high < 1, else a `UserError` naming `name`."""
    lo, hi = float(bounds[0]), float(bounds[1])
    if not 0.0 <= lo <= hi < 1.0:
        raise UserError(f"{name} must satisfy 0 <= low <= high < 1, got {(lo, hi)}")
    return lo, hi


def draw_occlusion(
    kind: str,
    rng: np.random.Generator | None = None,
    amount: float | None = None,
    amount_range: tuple[float, float] = AMOUNT_RANGE,
    pole_range: tuple[float, float] = POLE_RANGE,
    *,
    wild_range: tuple[float, float] = WILD_RANGE,
    pool: OccluderPool | None = None,
    subject: str | None = None,
) -> Occlusion:
    """Draw the random choices of one occlusion of `kind`: its amount from the kind's range unless
    given, then the rest (`OcclusionKind.draw`). A crowd picks its other walker from `pool`, never one of
    `subject`'s sequences."""
    spec = get_kind(kind)
    rng = np.random.default_rng() if rng is None else rng
    ranges = Ranges(amount_range, pole_range, wild_range)
    if amount is None and spec.amount_from is not None:
        amount = float(rng.uniform(*ranges.of(spec.amount_from)))
    return spec.draw(rng, 0.0 if amount is None else float(amount), ranges, pool=pool, subject=subject)


# -- pixel arithmetic shared by both implementations (one occlusion's floats or NumPy arrays [M]) ---
def crop_rows(amount, height: int):
    """Rows kept when the top or bottom `amount` is hidden: round-half-up of (1 - x) H, at least one."""
    return _half_up((1.0 - amount) * height, 1, height)


def span(fraction, size: int):
    """Pixels covered by a band or patch of `fraction` of `size` (rounded half up)."""
    return _half_up(fraction * size, 0, size)


def speed_q(speed):
    """A speed in px/frame as an integer multiple of 1 / SPEED_SCALE (rounded half to even)."""
    if isinstance(speed, float):
        return round(speed * SPEED_SCALE)
    return np.round(speed * SPEED_SCALE).astype(np.int64)


def _half_up(x, low: int, high: int):
    """floor(x + 0.5) clamped to [low, high]: an int for a float (plain arithmetic: the NumPy form of
    one sequence runs per sequence), int64 for an array."""
    if isinstance(x, float):
        return min(max(math.floor(x + 0.5), low), high)
    return np.clip(np.floor(x + 0.5), low, high).astype(np.int64)


def resize_rows(crop: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Source rows (a, b) of each output row when `crop` rows are resized to `height` and thresholded.

    Output row i equals min(row a[i], row b[i]) of the crop; a == b except at exact ties. Works
    elementwise on arrays of `crop` too (numpy or torch integer tensors), broadcasting with rows.
    """
    i = np.arange(height)
    return _rows(i, np.asarray(crop), height, np.minimum, np.where)


def _rows(i, crop, height, minimum, where):
    """Integer form of the half-pixel bilinear source coordinate (see module docstring)."""
    num = (2 * i + 1) * crop - height  # 2H * source coordinate
    lo = num // (2 * height)  # floor(s); -1 where s < 0
    rem = num - lo * (2 * height)  # 2H * frac(s)
    hi = minimum(lo + 1, crop - 1)
    # rem > H: next row; rem < H: this row; rem == H: a tie, min of both. s < 0 has lo = -1 and
    # rem > H, so it takes hi = row 0: the clamp at the top edge comes for free.
    return where(rem > height, hi, lo), where(rem >= height, hi, lo)
