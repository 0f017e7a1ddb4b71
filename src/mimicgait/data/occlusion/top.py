"""The `top` kind: the top x of the frame is hidden.

The bottom (1 - x) of the height is kept and resized back to H x W, then re-binarised, as a detector
that boxes only the visible part would give it (the exact integer resize is in `rules`)."""

from __future__ import annotations

from mimicgait.data.occlusion.planned import CropKind
from mimicgait.data.occlusion.registry import register_kind


@register_kind
class Top(CropKind):
    """The top x of the frame is hidden: the bottom (1 - x) is kept and resized back to the frame."""

    name = "top"
    hides_top = True
