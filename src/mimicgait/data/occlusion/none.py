"""The `none` kind: nothing is hidden (class 0 of every policy: what its probabilities leave)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mimicgait.data.occlusion.planned import PlannedKind
from mimicgait.data.occlusion.pool import OccluderPool
from mimicgait.data.occlusion.registry import register_kind
from mimicgait.data.occlusion.rules import Occlusion, Ranges


@register_kind
class NoOcclusion(PlannedKind):
    """No occlusion: every frame is kept as it is; it draws nothing and its amount is 0."""

    name = "none"
    amount_from = None

    def draw(self, rng: np.random.Generator, amount: float, ranges: Ranges, *, pool: OccluderPool | None,
             subject: str | None) -> Occlusion:
        return Occlusion(self.name)

    def draw_batch(self, amount: torch.Tensor, u: torch.Tensor, extra: np.ndarray | None, ranges: Ranges, *,
                   pool: OccluderPool | None, subjects: Sequence[str] | None) -> dict[str, Any]:
        return {"amount": torch.zeros_like(amount)}
