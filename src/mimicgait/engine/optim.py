"""The optimiser and its multi-step learning-rate schedule, from typed settings."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import torch
from torch import nn

from mimicgait.errors import UserError

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class OptimSettings:
    """What `optim.*` configures (defaults: `engine.schema`): the optimiser, its schedule, clipping."""

    name: str  # 'sgd' or 'adam'
    lr: float
    momentum: float
    weight_decay: float
    nesterov: bool
    milestones: tuple[int, ...]  # iterations where the lr is multiplied by gamma
    gamma: float
    grad_clip: float | None  # max global gradient norm, or None

    def learning_rate(self, iteration: int) -> float:
        """Multi-step schedule: lr x gamma^(number of milestones <= iteration)."""
        return self.lr * self.gamma ** bisect.bisect_right(sorted(self.milestones), iteration)


def build_optimizer(params: list[nn.Parameter], settings: OptimSettings) -> torch.optim.Optimizer:
    """SGD (momentum, weight decay, optional Nesterov) or Adam."""
    name = settings.name.lower()
    if name == "sgd":
        return torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum,
                               weight_decay=settings.weight_decay, nesterov=settings.nesterov)
    if name == "adam":
        return torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    raise UserError(f"optim.name must be one of {OPTIMIZERS}, got {settings.name!r}")
