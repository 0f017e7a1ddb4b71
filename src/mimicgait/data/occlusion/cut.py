"""The `cut` kind: the detector's box misses one side of the walker (left, right, top or bottom).

In every frame the box loses the same fraction `level` of the walker's extent on that side (the
walker's own bounding box in that frame, so the cut follows the walker), rounded half up to whole
rows or columns; the level is what matches the drawn amount of hidden silhouette pixels. The hiding,
dropping and re-alignment all wild kinds share are in `wild`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimicgait.data.occlusion.pool import OccluderPool
from mimicgait.data.occlusion.rects import Rects
from mimicgait.data.occlusion.registry import register_kind
from mimicgait.data.occlusion.rules import Occlusion
from mimicgait.data.occlusion.wild import WildKind, WildScene

#: Cut sides (`Occlusion.variant` of a cut), in order.
CUT_SIDES: tuple[str, ...] = ("left", "right", "top", "bottom")


@dataclass(frozen=True)
class CutGeometry:
    """Walker boxes of the request's frames and each sequence's side (index into `CUT_SIDES`).

    `frame`, `seq`, `y0`, `y1`, `x0`, `x1` int64 [F'] (inclusive box of each non-empty valid frame);
    `side` int64 [N].
    """

    frame: np.ndarray
    seq: np.ndarray
    y0: np.ndarray
    y1: np.ndarray
    x0: np.ndarray
    x1: np.ndarray
    side: np.ndarray
    height: int
    width: int

    def rects(self, level: np.ndarray, lo: int = 0, hi: int | None = None) -> Rects:
        """The part of the frame outside the detector's box at `level` [N]: one rectangle a frame,
        in whole-frame coordinates (`lo`, `hi` are accepted for the sprites' interface and ignored:
        a cut is counted from row and column sums, `rects.count_bands`)."""
        side = self.side[self.seq]  # [F']
        vertical = side >= 2  # top or bottom: rows are cut
        extent = np.where(vertical, self.y1 - self.y0 + 1, self.x1 - self.x0 + 1)
        cut = np.floor(level[self.seq] * extent + 0.5).astype(np.int64)  # rows or columns lost
        y0 = np.where(side == 3, self.y1 + 1 - cut, 0)
        y1 = np.where(side == 2, self.y0 + cut, self.height)
        x0 = np.where(side == 1, self.x1 + 1 - cut, 0)
        x1 = np.where(side == 0, self.x0 + cut, self.width)
        return Rects(self.frame, y0, y1, x0, x1)


def cut_geometry(boxes: np.ndarray, present: np.ndarray, side: np.ndarray, frames: int,
                 height: int, width: int) -> CutGeometry:
    """`boxes` int64 [N, S, 4] (y0, y1, x0, x1) of the walker in each frame; `present` [N, S] bool
    (a valid frame with walker pixels)."""
    seq, t = np.nonzero(present)
    b = boxes[seq, t]  # [F', 4]
    return CutGeometry(seq * frames + t, seq, b[:, 0], b[:, 1], b[:, 2], b[:, 3],
                       np.asarray(side, np.int64), height, width)


@register_kind
class Cut(WildKind):
    """The detector's box misses the left, right, top or bottom of the walker."""

    name = "cut"
    bands = True

    def draw_from(self, amount: float, u: list[float], pool: OccluderPool | None,
                  subject: str | None) -> Occlusion:
        return Occlusion(self.name, amount, variant=min(int(u[0] * len(CUT_SIDES)), len(CUT_SIDES) - 1))

    def geometry(self, scene: WildScene) -> CutGeometry:
        _, s, h, w = scene.shape
        return cut_geometry(scene.boxes(), scene.rows_any.any(2), scene.variant, s, h, w)

    def describe(self, occ: Occlusion) -> str:
        return f"misses {CUT_SIDES[occ.variant]}"
