"""Synthetic occlusions of silhouette sequences, as MimicGait trains and evaluates with them.

Kinds are named after the region hidden (x = the amount, a fraction of the frame dimension):

- `top`: the top x of the frame is hidden: the bottom (1 - x) of the height is kept and resized
  back to H x W, then re-binarised (a detector that boxes only the visible part);
- `bottom`: the bottom x is hidden: the top (1 - x) is kept, resized back, re-binarised;
- `middle`: a horizontal band of height x, centred vertically, is zeroed (no resize);
- `patch`: a black patch (height x, width w, both drawn from R) anchored at the bottom edge moves
  left-to-right or right-to-left at `speed` px/frame; `amount` is its height fraction;
- `pole`: a full-height black bar of width x (drawn from Rt) moving the same way; `amount` is its
  width fraction;
- `changing`: `top` for the first half of the frames and `bottom` for the second (or the reverse
  when `reverse`); the half is `T // 2` (frames `t < T // 2` are the first half);
- `none`.

Occlusions as the wild makes them (`WILD_KINDS`; `wild` and one module per kind): each hides part of
the walker as a person segmenter would see it, then re-aligns what is left as pretreatment does
(crop to the visible box, scale to the frame height, centre; `realign`). Their `amount` is the
fraction of the walker's silhouette pixels hidden over the sequence, drawn from `WILD_RANGE`
(0.2-0.6) and met by searching the occluder's size; a frame with more than `DROP_ABOVE` of its
walker hidden (or nothing left) is dropped, as a detector would lose the person:

- `crowd`: another walker of the same split (an `OccluderPool`; never the walker's own subject),
  mirrored, passes in front at a drawn speed, centred on the walker at a drawn frame; the walker's
  pixels under them are removed and theirs are never added (`crowd`);
- `object`: a bench, bicycle, fire hydrant, bin or pole standing on the ground line, passing
  across the frame as the walker walks by (`object_shapes`);
- `cut`: the detector's box misses the left, right, top or bottom of the walker (`cut`).

Exact resize without floating point. Resizing a crop of h rows back to H rows with the half-pixel
-centre bilinear convention (OpenCV INTER_LINEAR, PyTorch `align_corners=False`) reads output row i
at source coordinate s = (i + 0.5) h / H - 0.5, clamped at 0, and blends rows floor(s) and
floor(s) + 1 (clamped at h - 1) with weight frac(s). On binary frames, thresholding that blend at
half the value range picks row floor(s) when frac(s) < 0.5 and the next row when frac(s) > 0.5:
whole rows, so the resize is a row gather. At an exact tie (frac(s) = 0.5) the blend is exactly
half the range, which is *below* the threshold (127.5 < 128 on 0..255 frames), so the output pixel
is foreground only where both rows are: the minimum of the two rows. (OpenCV's fixed-point uint8
arithmetic rounds that 127.5 up to 128, the one place it disagrees with a float resize.) Ties need
2H to divide (2i + 1) h, which never happens when H is a power of two (e.g. 64). All of it is
integer arithmetic on 2H s = (2i + 1) h - H, so results are identical on every backend. The width
is never resized (scale 1 is the identity under this convention).

Pixel counts (documented rounding, half up, computed in float64):
  kept crop height h = clamp(floor((1 - x) H + 0.5), 1, H); middle band and patch height
  = floor(x H + 0.5); patch and pole width = floor(w W + 0.5); the middle band starts at row
  (H - band) // 2. A moving patch's left edge at frame t is floor(q t / 1024) for left-to-right
  (starting flush with the left border) and W - width - floor(q t / 1024) for right-to-left, with
  q = round(1024 speed): the speed is quantised to 1/1024 px/frame so positions are exact integers.
  Parts of a patch outside the frame are simply not drawn.

Frames may be bool, uint8 {0, 1} or {0, 255}, or float {0, 1}: the operations only copy rows,
take minima and write zeros, so the output keeps the input's dtype and value convention.

Every kind is one registered object in a module of its own (`registry`; the built-in ones in
`BUILT_IN` order, which is their class index): `none`, `top`, `bottom`, `middle`, `patch`, `pole`,
`changing` (`planned`: kinds stated as row and mask plans) and `crowd`, `object` (its module is
`object_shapes`), `cut` (`wild`: search, drop, re-align; with `pool` (other walkers), `rects`
(rectangle occluders), `sprite` and `realign`). The rest reads the registry: `rules` (parameters,
ranges, pixel arithmetic, drawing), `sequence` (one sequence, NumPy), `batch` (a whole batch, torch),
`policy` (training and evaluation draws).
"""

from __future__ import annotations

import importlib

from mimicgait.data.occlusion.batch import (
    BatchOcclusion,
    draw_batch,
    occlude_batch,
    occlude_batch_detected,
    occlude_batch_with,
)
from mimicgait.data.occlusion.policy import OcclusionPolicy, eval_draw, eval_occlusion
from mimicgait.data.occlusion.pool import OccluderPool
from mimicgait.data.occlusion.registry import (
    ALL_KINDS,
    KINDS,
    WILD_KINDS,
    OcclusionKind,
    check_kind,
    get_kind,
    kinds_drop_frames,
    kinds_need_pool,
    register_kind,
    unregister_kind,
)
from mimicgait.data.occlusion.rules import (
    AMOUNT_RANGE,
    DROP_ABOVE,
    POLE_RANGE,
    SPEED_RANGE,
    SPEED_SCALE,
    WILD_RANGE,
    Occlusion,
    draw_occlusion,
    resize_rows,
)
from mimicgait.data.occlusion.sequence import apply_occlusion, occlude

#: The built-in kinds' modules, imported in this order: it is their class index (the VEN's classes and
#: trained models depend on it), so a new built-in kind goes at the end.
BUILT_IN = ("none", "top", "bottom", "middle", "patch", "pole", "changing", "crowd", "object_shapes", "cut")
for _module in BUILT_IN:
    importlib.import_module(f"{__name__}.{_module}")

from mimicgait.data.occlusion.cut import CUT_SIDES  # noqa: E402  (registered above, in order)

__all__ = [
    "ALL_KINDS",
    "AMOUNT_RANGE",
    "BatchOcclusion",
    "CUT_SIDES",
    "DROP_ABOVE",
    "KINDS",
    "Occlusion",
    "OcclusionKind",
    "OccluderPool",
    "OcclusionPolicy",
    "POLE_RANGE",
    "SPEED_RANGE",
    "SPEED_SCALE",
    "WILD_KINDS",
    "WILD_RANGE",
    "apply_occlusion",
    "check_kind",
    "draw_batch",
    "draw_occlusion",
    "eval_draw",
    "eval_occlusion",
    "get_kind",
    "kinds_drop_frames",
    "kinds_need_pool",
    "occlude",
    "occlude_batch",
    "occlude_batch_detected",
    "occlude_batch_with",
    "register_kind",
    "resize_rows",
    "unregister_kind",
]
