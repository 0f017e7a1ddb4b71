"""The `middle` kind: a horizontal band of height x, centred vertically, is zeroed (no resize).

The band is round-half-up of x H rows and starts at row (H - band) // 2."""

from __future__ import annotations

from mimicgait.data.occlusion.planned import Drawn, MaskPlan, PlannedKind
from mimicgait.data.occlusion.registry import register_kind
from mimicgait.data.occlusion.rules import span


@register_kind
class Middle(PlannedKind):
    """A horizontal band of height x, centred vertically, is zeroed."""

    name = "middle"

    def mask_plan(self, occ: Drawn, height: int, width: int) -> MaskPlan:
        band = span(occ.amount, height)
        first = (height - band) // 2
        return MaskPlan(first, first + band, width, 0, False)  # every column, standing still
