"""What every training stage provides to the trainer.

A stage owns the trainable module (what the optimiser updates, DDP wraps and the checkpoint
stores), turns a collated batch into inputs on the device (augmentation, occlusion, preprocessing), computes
the loss, and describes its model as a plain spec. The loss is a weighted sum of named terms the stage
lists in `losses` (`losses.weighted`): `sum_losses` adds them and names every term's logs, so no stage
sums by hand and a term's log key is its name. What can be checked before the first step
(frozen parts of the wrong architecture or input size, a VEN for other occlusion kinds) is checked
in the constructor; settings no stage of its kind can train with (a batch without pairs) by
`engine.from_config.check_stage_config`, before any data is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mimicgait.data.occlusion import OccluderPool, OcclusionPolicy, occlude_batch
from mimicgait.engine.augment import Augment
from mimicgait.engine.data import TrainingData
from mimicgait.engine.validation import ValSettings, recognition_validation
from mimicgait.losses.weighted import Logs, WeightedLoss, weighted_sum
from mimicgait.models.preprocess import Preprocess


@dataclass(frozen=True)
class BatchInputs:
    """How a stage turns a collated batch into model inputs: augmentation, then occlusion by
    `policy` (None: holistic input only), then preprocessing; `frame_size` is the stored frames'.
    `pool`: the other walkers of a crowd occlusion, built from the training store whose sequence
    indices the batches carry (`Stage` sets it from `TrainingData.occluder_pool` when the policy
    needs one)."""

    preprocess: Preprocess
    augment: Augment
    policy: OcclusionPolicy | None
    frame_size: tuple[int, int]
    pool: OccluderPool | None = None

    @property
    def input_size(self) -> tuple[int, int]:
        """(H, W) the encoder sees."""
        return self.preprocess.output_size(self.frame_size)

    def __call__(self, batch: dict[str, Tensor], generator: torch.Generator) -> dict[str, Tensor]:
        """Augmentation, then (with a policy) occlusion on the stored binary frames, then
        preprocessing: the holistic and occluded inputs of a sequence are warped alike.

        -> {'holistic' float [N, S, h, w], and with a policy 'occluded', 'kind' [N], 'amount' [N]}.
        """
        sils = self.augment(batch["sils"], generator)
        out = {"holistic": self.preprocess(sils)}
        if self.policy is not None:
            kind, amount = self.policy.sample(sils.shape[0], generator)
            subjects = None
            if self.pool is not None:  # the walkers' own subjects, never their own occluders
                subjects = self.pool.subjects[batch["indices"].cpu().numpy()]
            occluded = occlude_batch(
                sils, kind, amount, batch["lengths"], generator, classes=self.policy.classes,
                pool=self.pool, subjects=subjects,
            )
            out.update(occluded=self.preprocess(occluded), kind=kind.to(sils.device),
                       amount=amount.to(sils.device))
        return out


@dataclass(frozen=True)
class StageParts:
    """What every stage is built from: the training data, how batches become inputs, how the stage
    validates and the device it trains on."""

    data: TrainingData
    batch_inputs: BatchInputs
    validation: ValSettings
    device: torch.device


#: Every training stage by name (`register_stage`); `engine.stages.STAGES` is this registry, with the
#: built-in stages in `engine.schema.STAGE_NAMES` order first.
STAGE_REGISTRY: dict[str, type[Stage]] = {}


def register_stage(cls: type[Stage]) -> type[Stage]:
    """Register a `Stage` subclass under its `name`: `mimicgait train`, the pipeline and the config
    checks offer every registered stage, so a new stage is one decorated class."""
    if not cls.name or cls.name in STAGE_REGISTRY:
        raise ValueError(f"stage {cls.name!r} has no name or is already registered")
    STAGE_REGISTRY[cls.name] = cls
    return cls


class Stage:
    """Base of the training stages; subclasses set `module` and `losses` and implement `compute` and
    `model_spec`.

    A stage is built from typed parts (`engine.from_config.build_stage` reads them from a config):
    the `StageParts` every stage has, plus what the subclass names as keyword arguments (encoder
    spec, loss modules and weights, frozen parts' paths).
    """

    name = ""
    module: nn.Module
    losses: dict[str, WeightedLoss]  # the loss's terms by log name, summed in this order
    occluded = False  # whether batches are occluded by the policy
    # whether the loss compares sequences (triplet, MiCKD): a batch then needs two subjects and two
    # sequences of each, or there is no positive or no negative pair and the loss is undefined or 0
    needs_pairs = True

    def __init__(self, parts: StageParts) -> None:
        batch_inputs = parts.batch_inputs
        if self.occluded and batch_inputs.policy is None:
            raise ValueError(f"the {self.name} stage trains on occluded input: give BatchInputs a policy")
        if getattr(batch_inputs.policy, "needs_pool", False) and batch_inputs.pool is None:
            batch_inputs = replace(batch_inputs, pool=parts.data.occluder_pool())  # training subjects only
        self.data, self.batch_inputs, self.validation = parts.data, batch_inputs, parts.validation
        self.device = parts.device

    # -- what the batch inputs say about the model's input -----------------------------------------
    @property
    def preprocess(self) -> Preprocess:
        return self.batch_inputs.preprocess

    @property
    def policy(self) -> OcclusionPolicy | None:
        return self.batch_inputs.policy

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.batch_inputs.frame_size

    @property
    def input_size(self) -> tuple[int, int]:
        return self.batch_inputs.input_size

    # -- the interface -------------------------------------------------------------------------
    def compute(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, Logs]:
        """(loss, scalars to log) for one batch; `model` is `module`, possibly DDP-wrapped. A stage
        returns `sum_losses(...)`."""
        raise NotImplementedError

    def sum_losses(self, inputs: dict[str, Sequence[Any]], extra: Logs | None = None) -> tuple[Tensor, Logs]:
        """(the weighted sum of `losses`, logs): term `name` computed on `inputs[name]` and logged as
        `name` (its own logs as `name_<key>`), then `extra` (accuracies)."""
        return weighted_sum(self.losses, inputs, extra)

    def model_spec(self) -> dict[str, Any]:
        raise NotImplementedError

    def checkpoint_extra(self, run_dir: Path) -> dict[str, Any]:
        """Stage-specific checkpoint entries (mimic: teacher/VEN references, relative to `run_dir`)."""
        return {}

    def data_fingerprint(self) -> str:
        """sha256 of the training set's (subject, condition, view, frame count) list: which data the
        model saw, recorded in checkpoints and carried into exported model files."""
        import hashlib

        train = self.data.train
        rows = sorted(f"{s}/{c}/{v}/{int(n)}" for (s, c, v), n in zip(train.keys, train.lengths, strict=True))
        return hashlib.sha256("\n".join(rows).encode()).hexdigest()

    def val_occlusion(self) -> str:
        """The occlusion kinds validation applies to probes and gallery ('none': holistic)."""
        return self.validation.occlusion

    def validate(self) -> dict[str, float] | None:
        """Rank metrics of the module's embedding on the held-out subjects (None without any)."""
        return recognition_validation(self.module, self.preprocess, self.data.val, self.validation)
