"""The `pole` kind: a full-height black bar of width x (drawn from Rt) moves across the frame, as a
patch does (`patch`); its `amount` is its width fraction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mimicgait.data.occlusion.planned import (
    Drawn,
    MaskPlan,
    PlannedKind,
    batch_reverse,
    batch_speed,
    describe_motion,
    draw_reverse,
    draw_speed,
)
from mimicgait.data.occlusion.pool import OccluderPool
from mimicgait.data.occlusion.registry import register_kind
from mimicgait.data.occlusion.rules import Occlusion, Ranges, span, speed_q


@register_kind
class Pole(PlannedKind):
    """A full-height black bar of width x (from Rt) moves across the frame."""

    name = "pole"
    amount_from = "pole"

    def draw(self, rng: np.random.Generator, amount: float, ranges: Ranges, *, pool: OccluderPool | None,
             subject: str | None) -> Occlusion:
        speed = draw_speed(rng)
        return Occlusion(self.name, amount, 0.0, speed, draw_reverse(rng))

    def draw_batch(self, amount: torch.Tensor, u: torch.Tensor, extra: np.ndarray | None, ranges: Ranges, *,
                   pool: OccluderPool | None, subjects: Sequence[str] | None) -> dict[str, Any]:
        return {"speed": batch_speed(u), "reverse": batch_reverse(u)}

    def mask_plan(self, occ: Drawn, height: int, width: int) -> MaskPlan:
        return MaskPlan(0, height, span(occ.amount, width), speed_q(occ.speed), occ.reverse)

    def describe(self, occ: Occlusion) -> str:
        return describe_motion(occ)
