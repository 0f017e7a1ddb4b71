"""The `patch` kind: a black patch anchored at the bottom edge moves across the frame.

Its height is x H and its width w W (both drawn from R, rounded half up); it moves left-to-right
(starting flush with the left border) or right-to-left at `speed` px/frame (drawn from Rs, quantised
to 1/1024 px/frame so positions are exact integers). Parts outside the frame are not drawn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mimicgait.data.occlusion.planned import Drawn, MaskPlan, MovingKind
from mimicgait.data.occlusion.pool import OccluderPool
from mimicgait.data.occlusion.registry import register_kind
from mimicgait.data.occlusion.rules import Ranges, span, speed_q


@register_kind
class Patch(MovingKind):
    """A black patch (height x, width w, both from R) anchored at the bottom edge moves across the frame."""

    name = "patch"

    def draw_width(self, rng: np.random.Generator, ranges: Ranges) -> float:
        """The patch's width fraction w, from R (drawn before the speed and direction)."""
        return float(rng.uniform(*ranges.amount))

    def draw_batch(self, amount: torch.Tensor, u: torch.Tensor, extra: np.ndarray | None, ranges: Ranges, *,
                   pool: OccluderPool | None, subjects: Sequence[str] | None) -> dict[str, Any]:
        lo, hi = ranges.amount
        motion = super().draw_batch(amount, u, extra, ranges, pool=pool, subjects=subjects)
        return {"width": lo + (hi - lo) * u[:, 0], **motion}

    def mask_plan(self, occ: Drawn, height: int, width: int) -> MaskPlan:
        return MaskPlan(height - span(occ.amount, height), height, span(occ.width, width), speed_q(occ.speed),
                        occ.reverse)
