"""Cross-entropy on the BNNeck's per-part logits (teacher and baseline stages), and the accuracies
stages log beside their classification losses."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class BNNeckCrossEntropy(nn.Module):
    """Label-smoothed cross-entropy of logits [n, k, p] against labels [n], averaged over samples and
    parts. The logit scale (OpenGait's 16) lives in `BNNeckHead`, so this is a plain cross-entropy.

    forward(logits [n, k, p], labels [n]) -> (loss, {}).
    """

    def __init__(self, label_smoothing: float = 0.1) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, logits: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        targets = labels[:, None].expand(-1, logits.shape[-1])  # [n, p]
        return F.cross_entropy(logits.float(), targets, label_smoothing=self.label_smoothing), {}


def part_accuracy(logits: Tensor, labels: Tensor) -> Tensor:
    """Fraction of (sample, part) predictions equal to the label, for logging."""
    return (logits.argmax(1) == labels[:, None]).float().mean()


def class_accuracy(logits: Tensor, targets: Tensor) -> Tensor:
    """Fraction of rows of logits [m, k] whose argmax is the target [m] (detached), for logging."""
    return (logits.detach().argmax(1) == targets).float().mean()
