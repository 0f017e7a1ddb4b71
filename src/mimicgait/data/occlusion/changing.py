"""The `changing` kind: `top` for the first half of the frames and `bottom` for the second, or the
reverse when `reverse`; the half is `T // 2` (frames `t < T // 2` are the first half)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mimicgait.data.occlusion.planned import Drawn, PlannedKind, RowPlan, batch_reverse, draw_reverse
from mimicgait.data.occlusion.pool import OccluderPool
from mimicgait.data.occlusion.registry import register_kind
from mimicgait.data.occlusion.rules import Occlusion, Ranges, crop_rows


@register_kind
class Changing(PlannedKind):
    """The top x is hidden in the first half of the frames and the bottom x in the second (or the reverse)."""

    name = "changing"

    def draw(self, rng: np.random.Generator, amount: float, ranges: Ranges, *, pool: OccluderPool | None,
             subject: str | None) -> Occlusion:
        return Occlusion(self.name, amount, reverse=draw_reverse(rng))

    def draw_batch(self, amount: torch.Tensor, u: torch.Tensor, extra: np.ndarray | None, ranges: Ranges, *,
                   pool: OccluderPool | None, subjects: Sequence[str] | None) -> dict[str, Any]:
        return {"reverse": batch_reverse(u)}

    def row_plan(self, occ: Drawn, height: int) -> RowPlan:
        return RowPlan(crop_rows(occ.amount, height), np.logical_not(occ.reverse), occ.reverse)

    def describe(self, occ: Occlusion) -> str:
        return "bottom>top" if occ.reverse else "top>bottom"
