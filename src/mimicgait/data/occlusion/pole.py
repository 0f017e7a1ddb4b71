"""The `pole` kind: a full-height black bar of width x (drawn from Rt) moves across the frame, as a
patch does (`patch`); its `amount` is its width fraction."""

from __future__ import annotations

from mimicgait.data.occlusion.planned import Drawn, MaskPlan, MovingKind
from mimicgait.data.occlusion.registry import register_kind
from mimicgait.data.occlusion.rules import span, speed_q


@register_kind
class Pole(MovingKind):
    """A full-height black bar of width x (from Rt) moves across the frame."""

    name = "pole"
    amount_from = "pole"

    def mask_plan(self, occ: Drawn, height: int, width: int) -> MaskPlan:
        return MaskPlan(0, height, span(occ.amount, width), speed_q(occ.speed), occ.reverse)
