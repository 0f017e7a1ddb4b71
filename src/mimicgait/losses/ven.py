"""Training loss of the Visibility Estimation Network."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class VENLoss(nn.Module):
    """Cross-entropy on the occlusion-type logits [M, K] plus `amount_weight` x MSE on the predicted
    occluded amount [M] (the paper: 1.0 * CE + 10.0 * L2).

    forward(logits, amount, type_target [M] long, amount_target [M] float)
        -> (total, {'type': CE, 'amount': MSE}) with the parts detached for logging.
    """

    def __init__(self, amount_weight: float = 10.0) -> None:
        super().__init__()
        self.amount_weight = amount_weight

    def forward(
        self, logits: Tensor, amount: Tensor, type_target: Tensor, amount_target: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        type_loss = F.cross_entropy(logits.float(), type_target)
        amount_loss = F.mse_loss(amount.float().reshape(-1), amount_target.float().reshape(-1))
        total = type_loss + self.amount_weight * amount_loss
        return total, {"type": type_loss.detach(), "amount": amount_loss.detach()}
