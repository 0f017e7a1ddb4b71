"""The `object` kind: a static object (bench, bicycle, fire hydrant, bin, pole) standing on the
ground line in front of the walker, passing across the frame as the walker walks by it.

Each shape is a few disjoint rectangles in units of its own height (`u` across from its bottom
centre, `v` up from the ground), drawn at a nominal height relative to the walker's (a pretreated
walker fills the frame height). Its scale (how near the camera it stands) is what matches the drawn
amount; its speed, direction and the frame at which it passes the walker are drawn. An open shape
(a bicycle, a bench) may not hide the drawn amount at any scale (the walker shows through its
gaps): then the next shapes in `SHAPES` order are tried, and the first within `OBJECT_TOLERANCE`
(else the closest) stands there instead. The hiding, dropping and re-alignment all wild kinds share
are in `wild`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mimicgait.data.occlusion.pool import OccluderPool
from mimicgait.data.occlusion.registry import register_kind
from mimicgait.data.occlusion.rules import Occlusion
from mimicgait.data.occlusion.sprite import SpriteGeometry, anchor_columns, concat, place
from mimicgait.data.occlusion.wild import WildKind, WildScene, centred_at, search_levels

#: How far (a fraction of the walker's pixels) the hidden amount may miss before another shape is tried.
OBJECT_TOLERANCE = 0.02
#: Object speeds across the walker-centred frame, px/frame (the walker's own ground speed).
OBJECT_SPEED: tuple[float, float] = (0.5, 1.5)


def _wheel(cx: float, cy: float, r: float) -> list[tuple[float, float, float, float]]:
    """A wheel as a stepped disc of five disjoint bars around (cx, cy): spokes and tyre seen as one."""
    return [(cx - r, cx + r, cy - 0.5 * r, cy + 0.5 * r),
            (cx - 0.85 * r, cx + 0.85 * r, cy - 0.85 * r, cy - 0.5 * r),
            (cx - 0.85 * r, cx + 0.85 * r, cy + 0.5 * r, cy + 0.85 * r),
            (cx - 0.5 * r, cx + 0.5 * r, cy - r, cy - 0.85 * r),
            (cx - 0.5 * r, cx + 0.5 * r, cy + 0.85 * r, cy + r)]


#: name -> (height relative to the walker's, disjoint rectangles (u0, u1, v0, v1) in shape heights).
SHAPES: dict[str, tuple[float, list[tuple[float, float, float, float]]]] = {
    "bench": (0.45, [(-1.0, -0.9, 0.0, 0.45), (0.9, 1.0, 0.0, 0.45), (-1.1, 1.1, 0.45, 0.55),
                     (-0.95, -0.85, 0.55, 0.7), (0.85, 0.95, 0.55, 0.7), (-1.1, 1.1, 0.7, 1.0)]),
    "bicycle": (0.55, [*_wheel(-0.6, 0.35, 0.35), *_wheel(0.6, 0.35, 0.35), (-0.25, 0.25, 0.33, 0.39),
                       (-0.2, -0.14, 0.39, 0.85), (-0.32, -0.02, 0.85, 0.92), (-0.14, 0.4, 0.72, 0.78),
                       (0.4, 0.46, 0.7, 0.95), (0.3, 0.62, 0.95, 1.0)]),
    "fire hydrant": (0.4, [(-0.3, 0.3, 0.0, 0.1), (-0.2, 0.2, 0.1, 0.75), (-0.32, -0.2, 0.45, 0.57),
                           (0.2, 0.32, 0.45, 0.57), (-0.16, 0.16, 0.75, 0.85), (-0.1, 0.1, 0.85, 0.95),
                           (-0.04, 0.04, 0.95, 1.0)]),
    "bin": (0.55, [(-0.3, 0.3, 0.0, 0.88), (-0.34, 0.34, 0.88, 0.96), (-0.08, 0.08, 0.96, 1.0)]),
    "pole": (2.5, [(-0.02, 0.02, 0.0, 1.0)]),
}
SHAPE_NAMES: tuple[str, ...] = tuple(SHAPES)
_UNITS = [np.asarray(rects, dtype=np.float64) for _, rects in SHAPES.values()]  # [R, 4] per shape


def object_geometry(shape: np.ndarray, speed: np.ndarray, reverse: np.ndarray, offset: np.ndarray,
                    lengths: np.ndarray, frames: int, height: int, width: int,
                    ids: np.ndarray | None = None) -> SpriteGeometry:
    """The objects of sequences `ids` (default all) at every valid frame; sequence n's frames are
    n * frames + t."""
    parts = []
    for n in range(len(lengths)) if ids is None else ids.tolist():
        length = int(lengths[n])
        unit = _UNITS[int(shape[n])]
        x = anchor_columns(length, float(speed[n]), bool(reverse[n]), float(offset[n]), width)
        parts.append(place(unit, np.zeros(length, np.int64), np.full(length, len(unit)), x, n, n * frames))
    nominal = np.array([SHAPES[SHAPE_NAMES[int(k)]][0] for k in shape], dtype=np.float64)
    return concat(parts, nominal * height, height, width)


@register_kind
class StaticObject(WildKind):
    """A bench, bicycle, fire hydrant, bin or pole standing on the ground line passes across the frame."""

    name = "object"

    def draw_from(self, amount: float, u: list[float], pool: OccluderPool | None,
                  subject: str | None) -> Occlusion:
        speed = OBJECT_SPEED[0] + (OBJECT_SPEED[1] - OBJECT_SPEED[0]) * u[1]
        variant = min(int(u[0] * len(SHAPE_NAMES)), len(SHAPE_NAMES) - 1)
        return Occlusion(self.name, amount, speed=speed, reverse=u[2] < 0.5, variant=variant,
                         offset=centred_at(u))

    def place(self, scene: WildScene) -> tuple[np.ndarray, np.ndarray, Any]:
        """The drawn shape, or the next in `SHAPES` order that hides the amount to within
        `OBJECT_TOLERANCE` (else the closest tried), with its level."""
        n, s, h, w = scene.shape
        field, drawn, amount, total = scene.field, scene.variant, scene.amount, scene.total
        goal = amount * total

        def build(shapes: np.ndarray, ids: np.ndarray | None = None) -> SpriteGeometry:
            return object_geometry(shapes, field["speed"], field["reverse"], field["offset"], scene.lengths,
                                   s, h, w, ids)

        variant, level = drawn.copy(), np.zeros(n)
        miss = np.full(n, np.inf)
        todo = np.arange(n)
        for attempt in range(len(SHAPE_NAMES)):
            shapes = (drawn + attempt) % len(SHAPE_NAMES)
            geometry = build(shapes, todo)
            found = search_levels(scene.hidden_of(geometry, todo), amount[todo], total[todo])
            off = np.abs(scene.hidden_of(geometry, todo)(found) - goal[todo])  # [len(todo)]
            better = off < miss[todo]
            chosen = todo[better]
            variant[chosen], level[chosen], miss[chosen] = shapes[chosen], found[better], off[better]
            todo = todo[miss[todo] > OBJECT_TOLERANCE * total[todo]]
            if not len(todo):
                break
        return level, variant, build(variant)

    def describe(self, occ: Occlusion) -> str:
        return SHAPE_NAMES[occ.variant]
