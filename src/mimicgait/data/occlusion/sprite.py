"""Placing an occluder drawn as unit rectangles (an object's parts, another walker's row runs) in the
frame: standing on the ground line, moving across at a constant speed, at a scale the amount sets.

Units: an occluder's rectangles are `[u0, u1) x [v0, v1)` in its own units, `u` across from its
anchor (the bottom centre) and `v` up from the ground. At scale `s` one unit spans `base * s`
pixels, the ground line is the frame's bottom edge (a pretreated walker's feet) and the anchor is at
column `x_t = W / 2 + d * speed * (t - offset * (T - 1))` (d = +1 left-to-right, -1 reversed): the
occluder is centred on the walker at frame `offset * (T - 1)`. The scale is `lo * (hi / lo) ** level`
for a level in [0, 1] (`SCALE_RANGE`); `wild.search_levels` picks the level that hides the drawn amount.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimicgait.data.occlusion.rects import Rects

#: Scales an occluder may take (relative to its nominal size) while its amount is matched.
SCALE_RANGE: tuple[float, float] = (0.25, 16.0)


def anchor_columns(length: int, speed: float, reverse: bool, offset: float, width: int) -> np.ndarray:
    """[T] float64: the occluder's anchor column at each frame."""
    t = np.arange(length, dtype=np.float64)
    direction = -1.0 if reverse else 1.0
    return width / 2 + direction * speed * (t - offset * (length - 1))


@dataclass(frozen=True)
class SpriteGeometry:
    """Unit rectangles of every (sequence, frame) of a request, ready to be placed at any level.

    `frame`, `seq` int64 [M]; `u0, u1, v0, v1, x` float64 [M] (x: the anchor column of the frame);
    `base` float64 [N]: pixels per unit at scale 1.
    """

    frame: np.ndarray
    seq: np.ndarray
    u0: np.ndarray
    u1: np.ndarray
    v0: np.ndarray
    v1: np.ndarray
    x: np.ndarray
    base: np.ndarray
    height: int
    width: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "_across", np.stack([self.u0, self.u1]))  # [2, M]
        object.__setattr__(self, "_up", np.stack([self.v1, self.v0]))  # [2, M]: top edge first

    def rects(self, level: np.ndarray, lo: int = 0, hi: int | None = None) -> Rects:
        """The pixel rectangles at `level` [N] (one level per sequence), in the coordinates of
        columns lo:hi of the frame (default all), clipped to them. A rectangle covers the pixels whose
        centre lies inside it: `[ceil(a - 1/2), ceil(b - 1/2))` for an edge pair (a, b), so rectangles
        that touch stay disjoint."""
        small, large = SCALE_RANGE
        hi = self.width if hi is None else hi
        size = (self.base * (small * (large / small) ** level))[self.seq]  # [M] pixels per unit
        cols = np.ceil(self.x + self._across * size - 0.5)  # [2, M]
        np.minimum(np.maximum(cols, lo, out=cols), hi, out=cols)
        rows = np.ceil(self.height - self._up * size - 0.5)  # [2, M]
        np.minimum(np.maximum(rows, 0, out=rows), self.height, out=rows)
        x, y = (cols - lo).astype(np.int64), rows.astype(np.int64)
        np.maximum(x[0], x[1], out=x[1])
        np.maximum(y[0], y[1], out=y[1])
        return Rects(self.frame, y[0], y[1], x[0], x[1])


def concat(parts: list[dict[str, np.ndarray]], base: np.ndarray, height: int, width: int) -> SpriteGeometry:
    """Join per-sequence pieces (dicts of frame, seq, u0, u1, v0, v1, x arrays) into one geometry."""
    names = ("frame", "seq", "u0", "u1", "v0", "v1", "x")
    if not parts:
        empty = {n: np.zeros(0, np.int64 if n in ("frame", "seq") else np.float64) for n in names}
        return SpriteGeometry(**empty, base=base, height=height, width=width)
    joined = {n: np.concatenate([p[n] for p in parts]) for n in names}
    return SpriteGeometry(**joined, base=np.asarray(base, np.float64), height=height, width=width)


def place(unit: np.ndarray, frames: np.ndarray, per_frame: np.ndarray, x: np.ndarray,
          seq: int, first_frame: int) -> dict[str, np.ndarray]:
    """One sequence's piece: `unit` [R, 4] rectangles (u0, u1, v0, v1), `per_frame[t]` of them drawn
    at frame t starting at row `frames[t]` of `unit`; anchors `x` [T]; frames numbered from `first_frame`."""
    length = len(per_frame)
    t = np.repeat(np.arange(length), per_frame)  # [M]
    starts = np.repeat(frames - np.cumsum(per_frame) + per_frame, per_frame)  # [M]
    rows = starts + np.arange(len(t))  # [M] row of `unit` for each placed rectangle
    picked = unit[rows]
    return {"frame": first_frame + t, "seq": np.full(len(t), seq, np.int64), "u0": picked[:, 0],
            "u1": picked[:, 1], "v0": picked[:, 2], "v1": picked[:, 3], "x": x[t]}
