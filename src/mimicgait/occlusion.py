"""Synthetic occlusions: the public import path (`from mimicgait.occlusion import apply_occlusion`).

The implementation lives in `mimicgait.data.occlusion`; see its docstring for the kinds, the
exact-resize rule and the pixel rounding.
"""

from mimicgait.data.occlusion import (
    AMOUNT_RANGE,
    KINDS,
    POLE_RANGE,
    SPEED_RANGE,
    BatchOcclusion,
    Occlusion,
    OcclusionPolicy,
    apply_occlusion,
    draw_batch,
    draw_occlusion,
    eval_draw,
    eval_occlusion,
    occlude,
    occlude_batch,
    occlude_batch_with,
    resize_rows,
)

__all__ = [
    "AMOUNT_RANGE",
    "KINDS",
    "POLE_RANGE",
    "SPEED_RANGE",
    "BatchOcclusion",
    "Occlusion",
    "OcclusionPolicy",
    "apply_occlusion",
    "draw_batch",
    "draw_occlusion",
    "eval_draw",
    "eval_occlusion",
    "occlude",
    "occlude_batch",
    "occlude_batch_with",
    "resize_rows",
]
