"""MiCKD (multi-instance correlational knowledge distillation) and the L2 KD ablation.

Both are registered distillation losses (`register_distillation`): `loss.kd` names one, its options
come from the `loss` section's keys it declares, and its `batch_wise` flag says whether it compares
samples across the batch, in which case the mimic stage hands it every rank's embeddings under DDP
(the global batch, as one process would see it) instead of this rank's share.

MiCKD is a triplet margin loss over the union of the student embeddings (occluded input) and the
frozen teacher embeddings (holistic input) of a P x K batch, labels duplicated. It is computed with
pytorch-metric-learning's TripletMarginLoss (mean over non-zero triplets, AvgNonZeroReducer) on the
2n stacked, flattened embeddings, as the authors' public code does.

`positives` chooses which (anchor, positive) pairs count; negatives are always every row of another
subject (student or teacher):
- 'all': every triplet PML forms over the 2n rows, so teacher rows are anchors too (the public code);
- 'student': anchors are student rows only, positives the paper's three kinds: the same sequence's
  teacher row, other teacher rows of the subject, other student rows of the subject;
- 'student-teacher': student anchors with teacher positives only (the two cross-model kinds).
The teacher side is detached. `normalize=False` gives plain Euclidean distances (the paper); the
public code uses PML's default L2-normalised embeddings (`normalize=True`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pytorch_metric_learning import distances, losses, reducers
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu
from torch import Tensor, nn

from mimicgait.errors import UserError

POSITIVES = ("all", "student", "student-teacher")

#: Registered distillation losses: name -> class taking its options as keyword arguments.
DISTILLATION_LOSSES: dict[str, type[nn.Module]] = {}


def register_distillation(name: str):
    """Register a distillation loss class under `name` (`loss.kd`).

    The class declares `batch_wise` (True: it relates samples across the batch, so DDP gathers the
    global batch for it) and its forward takes `(student [n, c, p], teacher [n, c, p], labels [n])`
    and returns `(loss, logs)` like every loss here (`losses.weighted`), or a bare scalar tensor,
    which counts as `(loss, {})`. The mimic stage logs the loss as 'kd' and each of its logs as
    'kd_<key>'. Its constructor's keyword arguments are read from `loss.<name>_<argument>`."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if name in DISTILLATION_LOSSES:
            raise ValueError(f"distillation loss {name!r} is already registered")
        if not isinstance(getattr(cls, "batch_wise", None), bool):
            raise ValueError(f"distillation loss {name!r} must declare batch_wise = True or False")
        DISTILLATION_LOSSES[name] = cls
        return cls

    return add


@register_distillation("mickd")
class MiCKDLoss(nn.Module):
    """loss(student [n, c, p], teacher [n, c, p], labels [n]) -> (scalar, {})."""

    batch_wise = True  # triplets across every instance of the batch

    def __init__(self, margin: float = 0.05, positives: str = "all", normalize: bool = False) -> None:
        super().__init__()
        if positives not in POSITIVES:
            raise UserError(f"MiCKDLoss: positives must be one of {POSITIVES}, got {positives!r}")
        self.margin, self.positives, self.normalize = margin, positives, normalize
        self.triplet = losses.TripletMarginLoss(
            margin=margin,
            distance=distances.LpDistance(normalize_embeddings=normalize, p=2, power=1),
            reducer=reducers.AvgNonZeroReducer(),
        )

    def triplets(self, labels: Tensor) -> tuple[Tensor, Tensor, Tensor] | None:
        """(anchor, positive, negative) row indices into the 2n stacked rows; None means all of them."""
        n = labels.numel()
        if self.positives == "all":
            return None
        a, p, neg = lmu.get_all_triplets_indices(torch.cat([labels, labels]))
        keep = a < n
        if self.positives == "student-teacher":
            keep &= p >= n
        return a[keep], p[keep], neg[keep]

    def forward(self, student: Tensor, teacher: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if student.shape != teacher.shape:
            shapes = f"{tuple(student.shape)} vs {tuple(teacher.shape)}"
            raise ValueError(f"MiCKDLoss: student and teacher embeddings differ in shape: {shapes}")
        rows = torch.cat([student.flatten(1), teacher.detach().flatten(1)]).float()  # [2n, c*p]
        return self.triplet(rows, torch.cat([labels, labels]), indices_tuple=self.triplets(labels)), {}


@register_distillation("l2")
class L2KDLoss(nn.Module):
    """Same-instance distillation: mean squared error between student and (detached) teacher
    embeddings [n, c, p] (the paper's "L2 KD" ablation): -> (scalar, {})."""

    batch_wise = False  # each sample against its own teacher embedding

    def forward(
        self, student: Tensor, teacher: Tensor, labels: Tensor | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        return F.mse_loss(student.float(), teacher.detach().float()), {}
