"""The `bottom` kind: the bottom x of the frame is hidden.

The top (1 - x) of the height is kept and resized back to H x W, then re-binarised (the exact integer
resize is in `rules`)."""

from __future__ import annotations

from mimicgait.data.occlusion.planned import CropKind
from mimicgait.data.occlusion.registry import register_kind


@register_kind
class Bottom(CropKind):
    """The bottom x of the frame is hidden: the top (1 - x) is kept and resized back to the frame."""

    name = "bottom"
    hides_top = False
