"""OpenGait-style part-wise batch-all triplet loss for the teacher and baseline stages.

Why not pytorch-metric-learning's TripletMarginLoss, which MiCKD uses: this loss is computed per
horizontal part on [n, c, p] embeddings and averaged over parts (each part its own metric space, as
OpenGait trains GaitBase), while MiCKD follows the authors' code in one triplet loss over the
flattened c*p embeddings. PML would need a loop over the p parts with a reducer per part; the part
dimension here is one batched `cdist`. The two compute different things, so both stay.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PartTripletLoss(nn.Module):
    """Batch-all triplet loss computed independently for every horizontal part.

    For each part: Euclidean distances between all embeddings, every valid triplet (anchor,
    positive of the same label other than the anchor itself, negative of another label), hinge
    `relu(d_ap - d_an + margin)`, averaged over the non-zero terms (OpenGait's AvgNonZeroReducer);
    the result is averaged over parts. OpenGait also counts each anchor as its own positive
    (d_ap = 0); `include_self=True` reproduces that.

    forward(embeddings [n, c, p], labels [n]) -> (loss, {'active': fraction of non-zero triplets}).
    """

    def __init__(self, margin: float = 0.2, include_self: bool = False, eps: float = 1e-9) -> None:
        super().__init__()
        self.margin, self.include_self, self.eps = margin, include_self, eps

    def forward(self, embeddings: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        feats = embeddings.float().permute(2, 0, 1)  # [p, n, c]
        dist = torch.cdist(feats, feats)  # [p, n, n]
        same = labels[:, None] == labels[None, :]  # [n, n]
        pos = same.clone()
        if not self.include_self:
            pos.fill_diagonal_(False)
        neg = ~same
        pos_count, neg_count = pos.sum(1), neg.sum(1)
        if bool((pos_count == pos_count[0]).all()) and bool((neg_count == neg_count[0]).all()):
            # P x K batches: gather the kp positives and kn negatives of every anchor.
            n, kp, kn = labels.numel(), int(pos_count[0]), int(neg_count[0])
            ap = dist[:, pos].view(-1, n, kp, 1)  # [p, n, kp, 1]
            an = dist[:, neg].view(-1, n, 1, kn)  # [p, n, 1, kn]
            losses = F.relu(ap - an + self.margin).flatten(1)  # [p, n*kp*kn]
            valid = torch.ones_like(losses, dtype=torch.bool)
        else:
            triplet_mask = pos[:, :, None] & neg[:, None, :]  # [n, n, n] (anchor, positive, negative)
            losses = F.relu(dist[:, :, :, None] - dist[:, :, None, :] + self.margin)  # [p, n, n, n]
            losses = (losses * triplet_mask).flatten(1)
            valid = triplet_mask.flatten().expand_as(losses)
        nonzero = (losses > 0).sum(1)  # [p]
        per_part = losses.sum(1) / (nonzero.to(losses.dtype) + self.eps)  # [p]
        total = valid.sum().clamp(min=1)
        return per_part.mean(), {"active": (nonzero.sum() / total).detach()}
