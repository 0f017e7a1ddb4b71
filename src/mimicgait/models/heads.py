"""The BNNeck classification head composed onto any encoder by the teacher and baseline stages."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class BNNeckHead(nn.Module):
    """BatchNorm1d over the whole embedding [n, c*p] then a separate linear classifier per part.

    As OpenGait's SeparateBNNecks (parallel BN): with `norm=True` (default) features and class
    weights are L2-normalised per part and the cosine logits are multiplied by `scale` (OpenGait's
    cross-entropy scale 16), so the loss is a plain cross-entropy. Returns logits [n, num_classes, p].
    """

    def __init__(
        self, channels: int, parts: int, num_classes: int, norm: bool = True, scale: float = 16.0
    ) -> None:
        super().__init__()
        self.channels, self.parts, self.num_classes = channels, parts, num_classes
        self.norm, self.scale = norm, scale
        self.bn = nn.BatchNorm1d(channels * parts)
        self.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(parts, channels, num_classes)))

    def forward(self, embeddings: Tensor) -> Tensor:
        n, c, p = embeddings.shape
        feats = self.bn(embeddings.reshape(n, c * p)).reshape(n, c, p).permute(2, 0, 1)  # [p, n, c]
        weight = self.weight
        if self.norm:
            feats, weight = F.normalize(feats, dim=-1), F.normalize(weight, dim=1)
            return (torch.bmm(feats, weight) * self.scale).permute(1, 2, 0)  # [n, k, p]
        return torch.bmm(feats, weight).permute(1, 2, 0)  # [n, k, p]
