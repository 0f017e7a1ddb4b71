"""Losses on occlusion predictions: the VEN's type and amount, the occlusion-aware detector's type."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from mimicgait.losses.weighted import WeightedLoss


class OcclusionTypeLoss(nn.Module):
    """Cross-entropy of occlusion-type logits [m, K] against class indices [m] (long), in float32: the
    VEN's per-frame type and the occlusion-aware detector's per-sequence type. -> (loss, {})."""

    def forward(self, logits: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return F.cross_entropy(logits.float(), target), {}


class OcclusionAmountLoss(nn.Module):
    """Mean squared error of predicted occluded amounts [m] against the true ones [m]. -> (loss, {})."""

    def forward(self, amount: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return F.mse_loss(amount.float().reshape(-1), target.float().reshape(-1)), {}


def ven_loss(amount_weight: float = 10.0) -> dict[str, WeightedLoss]:
    """The VEN's training loss as weighted terms: 'type_ce' + `amount_weight` x 'amount_mse' (the
    paper: 1.0 * CE + 10.0 * L2); inputs (logits [M, K], kind [M]) and (amount [M], target [M])."""
    return {"type_ce": WeightedLoss(OcclusionTypeLoss()),
            "amount_mse": WeightedLoss(OcclusionAmountLoss(), amount_weight)}
