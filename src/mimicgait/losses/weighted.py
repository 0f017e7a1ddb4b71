"""One shape for every loss, and the weighted sum a training stage minimises.

Every loss module of this package returns `(loss, logs)`: a scalar tensor to minimise and a dict of
detached scalars worth logging (PartTripletLoss: the fraction of active triplets). A stage lists its
terms as `name -> WeightedLoss(loss, weight)` and `weighted_sum` adds them up in that order, logging
each term under its name and each of the term's logs under `<name>_<key>`, so a log key is stable
as long as the stage names its terms the same.

A loss written elsewhere (a user's registered distillation loss, a torch criterion) may also return a
bare scalar tensor: `loss_output` is the one place that reads either form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

#: Scalars a training step logs, by key: tensors (detached) or plain numbers.
Logs = dict[str, Tensor | float]

#: What a loss returns: (loss, logs), or a bare scalar tensor meaning (loss, {}).
LossOutput = Tensor | tuple[Tensor, Mapping[str, Tensor | float]]


@dataclass(frozen=True)
class WeightedLoss:
    """One term of a stage's loss: `loss(*inputs)` (a module or any callable) times `weight`."""

    loss: Callable[..., LossOutput]
    weight: float = 1.0


def loss_output(result: LossOutput, name: str) -> tuple[Tensor, Logs]:
    """`(loss, logs)` from what a loss returned, its logs detached; a bare tensor has no logs.
    A `TypeError` names the term whose loss returned something else."""
    if torch.is_tensor(result):
        return result, {}
    if isinstance(result, tuple) and len(result) == 2 and torch.is_tensor(result[0]) \
            and isinstance(result[1], Mapping):
        value, logs = result
        return value, {str(k): v.detach() if torch.is_tensor(v) else v for k, v in logs.items()}
    raise TypeError(f"loss term {name!r} returned {type(result).__name__}; a loss returns a scalar tensor "
                    "or a (scalar tensor, dict of logs) pair")


def weighted_sum(
    losses: Mapping[str, WeightedLoss], inputs: Mapping[str, Sequence[Any]], extra: Logs | None = None
) -> tuple[Tensor, Logs]:
    """sum of `weight * loss(*inputs[name])` over `losses` in order -> (total, logs).

    Each term is computed and added in turn (total = w0 * l0, then total + w1 * l1, ...), so the
    autograd graph is the one a hand-written `l0 + w1 * l1 + ...` builds. `logs` holds every term's
    value under its name and its own logs under `<name>_<key>`, then `extra` (the stage's other
    scalars, such as accuracies). `inputs` names exactly the terms of `losses`.
    """
    if set(inputs) != set(losses):
        raise ValueError(f"loss inputs for {sorted(inputs)} but loss terms {sorted(losses)}")
    total: Tensor | None = None
    logs: Logs = {}
    for name, term in losses.items():
        value, own = loss_output(term.loss(*inputs[name]), name)
        logs[name] = value.detach()
        logs.update({f"{name}_{key}": v for key, v in own.items()})
        weighted = term.weight * value
        total = weighted if total is None else total + weighted
    if total is None:
        raise ValueError("a stage's loss needs at least one term")
    for key, value in (extra or {}).items():
        if key in logs:
            raise ValueError(f"log key {key!r} is both a loss term's and the stage's")
        logs[key] = value
    return total, logs
