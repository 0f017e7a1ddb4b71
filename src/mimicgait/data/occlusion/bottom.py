"""The `bottom` kind: the bottom x of the frame is hidden.

The top (1 - x) of the height is kept and resized back to H x W, then re-binarised (the exact integer
resize is in `rules`)."""

from __future__ import annotations

from mimicgait.data.occlusion.planned import Drawn, PlannedKind, RowPlan
from mimicgait.data.occlusion.registry import register_kind
from mimicgait.data.occlusion.rules import crop_rows


@register_kind
class Bottom(PlannedKind):
    """The bottom x of the frame is hidden: the top (1 - x) is kept and resized back to the frame."""

    name = "bottom"

    def row_plan(self, occ: Drawn, height: int) -> RowPlan:
        return RowPlan(crop_rows(occ.amount, height), False, False)
