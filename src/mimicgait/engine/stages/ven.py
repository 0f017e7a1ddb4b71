"""The Visibility Estimation Network stage: per-frame occlusion type and amount on synthetic occlusions.

Every frame of an occluded training sequence is one sample, labelled with its sequence's kind
(class index into the policy's classes, 'none' first) and amount (0 for 'none'). Loss: CE +
amount_weight x MSE (the paper: Adam 1e-4, weight 10), logged as 'type_ce' and 'amount_mse'.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mimicgait.data.occlusion import OccluderPool, occlude_batch
from mimicgait.data.samplers import FrameSampler
from mimicgait.engine.stages.base import Logs, Stage, StageParts, register_stage
from mimicgait.losses import class_accuracy, ven_loss
from mimicgait.models.spec import build_model

VAL_SEQUENCES = 256  # validation sequences (evenly spaced over the held-out store)
VAL_FRAMES = 30


def valid_frames(x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """[N, S, h, w] -> (valid frames [M, h, w], their sequence index [M])."""
    n, s = x.shape[:2]
    mask = torch.arange(s, device=x.device)[None, :] < lengths.to(x.device)[:, None]  # [N, S]
    owner = torch.arange(n, device=x.device)[:, None].expand(n, s)
    return x[mask], owner[mask]


@register_stage
class VENStage(Stage):
    """The VEN (`feature_dim` wide) on every frame of occluded sequences, trained with the type
    cross-entropy plus `amount_weight` x the amount's MSE (`losses.ven_loss`)."""

    name = "ven"
    occluded = True
    needs_pairs = False  # a classifier and a regressor: any batch will do

    def __init__(
        self,
        parts: StageParts,
        *,
        feature_dim: int,
        amount_weight: float,
    ) -> None:
        super().__init__(parts)
        self.feature_dim = feature_dim
        self.module = build_model(self.model_spec())
        self.losses = ven_loss(amount_weight)

    def model_spec(self) -> dict[str, Any]:
        return {
            "kind": "ven",
            "classes": list(self.policy.classes),
            "feature_dim": self.feature_dim,
            "preprocess": self.preprocess.spec(),
        }

    def compute(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, Logs]:
        x = self.batch_inputs(batch, generator)
        frames, owner = valid_frames(x["occluded"], batch["lengths"])  # [M, h, w], [M]
        _, logits, amount = model(frames)  # [M, D], [M, K], [M]
        kind = x["kind"][owner]  # [M]: each frame labelled with its sequence's kind and amount
        return self.sum_losses({"type_ce": (logits, kind), "amount_mse": (amount, x["amount"][owner])},
                               {"type_accuracy": class_accuracy(logits, kind)})

    @torch.no_grad()
    def validate(self) -> dict[str, float] | None:
        """Type accuracy and amount MSE per frame on held-out subjects, with seeded occlusions."""
        store = self.data.val
        if store is None:
            return None
        was_training = self.module.training
        self.module.eval()
        picks = np.unique(np.linspace(0, len(store) - 1, min(VAL_SEQUENCES, len(store))).astype(int))
        rng = np.random.default_rng(self.validation.seed)
        gen = torch.Generator().manual_seed(self.validation.seed)
        sampler = FrameSampler("fixed", VAL_FRAMES)
        pool = OccluderPool.from_store(store) if self.policy.needs_pool else None  # held-out walkers only
        correct = sq_err = count = 0.0
        for chunk in np.array_split(picks, max(1, len(picks) // 32)):
            sils = torch.from_numpy(
                np.stack([store.frames_slice(i, sampler(int(store.lengths[i]), rng)) for i in chunk])
            ).to(self.device)  # [n, S, H, W] uint8
            kind, amount = self.policy.sample(len(chunk), gen)
            occluded = self.preprocess(
                occlude_batch(sils, kind, amount, None, gen, classes=self.policy.classes, pool=pool,
                              subjects=[store.keys[int(i)][0] for i in chunk])
            )
            n, s = occluded.shape[:2]
            _, logits, pred = self.module(occluded.reshape(n * s, *occluded.shape[2:]))
            target_kind = kind.to(self.device).repeat_interleave(s)
            target_amount = amount.to(self.device).repeat_interleave(s)
            correct += float((logits.argmax(1) == target_kind).sum())
            sq_err += float(((pred.float() - target_amount) ** 2).sum())
            count += n * s
        self.module.train(was_training)
        return {"type_accuracy": correct / count, "amount_mse": sq_err / count}
