"""What every training stage provides to the trainer.

A stage owns the trainable module (what the optimiser updates, DDP wraps and the checkpoint
stores), turns a collated batch into inputs on the device (augmentation, occlusion, preprocessing), computes
the loss, and describes its model as a plain spec. Anything that can be checked before the first
step (frozen parts of the wrong architecture or input size, a VEN for other occlusion kinds, a
batch that cannot be filled) is checked in the constructor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mimicgait.data.occlusion import OcclusionPolicy, occlude_batch
from mimicgait.engine.augment import Augment
from mimicgait.engine.config import ConfigError
from mimicgait.engine.data import TrainingData
from mimicgait.engine.preprocess import Preprocess
from mimicgait.errors import UserError

Logs = dict[str, Tensor | float]


def occlusion_policy(occ_cfg: dict[str, Any]) -> OcclusionPolicy:
    """The configured policy; `holistic_share` scales the kinds' probabilities down to leave that
    share of sequences unoccluded."""
    kinds = {str(k): float(v) for k, v in (occ_cfg.get("kinds") or {}).items() if k != "none"}
    share = float(occ_cfg["holistic_share"])
    if not 0.0 <= share <= 1.0:
        raise UserError(f"occlusion.holistic_share must lie in [0, 1], got {share}")
    total = sum(kinds.values())
    if not kinds or total <= 0:
        raise UserError(
            "occlusion.kinds is empty; give kinds with probabilities, e.g. {top: 0.5, bottom: 0.5}"
        )
    if share > 0:
        scale = (1.0 - share) / total if total > 1.0 - share else 1.0
        kinds = {k: v * scale for k, v in kinds.items()}
    lo, hi = occ_cfg["amount_range"]
    return OcclusionPolicy(kinds, amount_range=(float(lo), float(hi)))


class Stage:
    """Base of the training stages; subclasses set `module` and implement `compute` and `model_spec`."""

    name = ""
    module: nn.Module
    occluded = False  # whether batches are occluded by the policy
    # whether the loss compares sequences (triplet, MiCKD): a batch then needs two subjects and two
    # sequences of each, or there is no positive or no negative pair and the loss is undefined or 0
    needs_pairs = True

    def __init__(self, config: dict[str, Any], data: TrainingData, device: torch.device) -> None:
        self.config = config
        self.data = data
        self.device = device
        data_cfg = config["data"]
        self.check_config(config)
        size = data_cfg.get("input_size")
        self.preprocess = Preprocess(data_cfg["crop"], tuple(size) if size is not None else None)
        self.frame_size = tuple(int(x) for x in data.train.frame_size)
        self.input_size = self.preprocess.output_size(self.frame_size)
        self.policy = occlusion_policy(config["occlusion"]) if self.occluded else None
        self.augment = Augment(
            flip=float(data_cfg["flip"]),
            rotate=float(data_cfg["rotate"]),
            rotate_degrees=float(data_cfg["rotate_degrees"]),
            perspective=float(data_cfg["perspective"]),
            perspective_distortion=float(data_cfg["perspective_distortion"]),
        )

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        """Refuse settings this stage cannot train with, before any data is read (`ConfigError`)."""
        if not cls.needs_pairs:
            return
        data_cfg = config["data"]
        for key, what in (("ids_per_batch", "subjects (for a negative)"),
                          ("seqs_per_id", "sequences per subject (for a positive pair)")):
            if int(data_cfg[key]) < 2:
                raise ConfigError(
                    f"data.{key}={data_cfg[key]}: the {cls.name} stage's loss compares sequences and "
                    f"needs at least 2 {what} in a batch; --set data.{key}=2 or more"
                )

    # -- shared helpers ------------------------------------------------------------------------
    def encoder_spec(self) -> dict[str, Any]:
        """Encoder name + kwargs from the config, with input_size set from the data and preprocessing."""
        model_cfg = self.config["model"]
        kwargs = dict(model_cfg.get("encoder_kwargs") or {})
        given = kwargs.get("input_size")
        if given is not None and tuple(given) != self.input_size:
            raise UserError(
                f"model.encoder_kwargs.input_size {list(given)} differs from the input the data gives "
                f"({list(self.input_size)} from frames {list(self.frame_size)}, "
                f"data.crop={self.preprocess.crop}, "
                f"data.input_size={self.config['data'].get('input_size')}); set data.input_size instead"
            )
        kwargs["input_size"] = list(self.input_size)
        return {"name": model_cfg["encoder"], **kwargs}

    def inputs(self, batch: dict[str, Tensor], generator: torch.Generator) -> dict[str, Tensor]:
        """Augmentation, then (if this stage occludes) occlusion on the stored binary frames, then
        preprocessing: the holistic and occluded inputs of a sequence are warped alike.

        -> {'holistic' float [N, S, h, w], 'occluded' (occluding stages), 'kind' [N], 'amount' [N]}.
        """
        sils = self.augment(batch["sils"], generator)
        out = {"holistic": self.preprocess(sils)}
        if self.policy is not None:
            kind, amount = self.policy.sample(sils.shape[0], generator)
            occluded = occlude_batch(
                sils, kind, amount, batch["lengths"], generator, classes=self.policy.classes
            )
            out.update(
                occluded=self.preprocess(occluded), kind=kind.to(self.device), amount=amount.to(self.device)
            )
        return out

    # -- the interface -------------------------------------------------------------------------
    def compute(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, Logs]:
        """(loss, scalars to log) for one batch; `model` is `module`, possibly DDP-wrapped."""
        raise NotImplementedError

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
        """The occlusion kinds validation applies to probes and gallery ('none': holistic). Stages
        that train on occluded input validate on `val.occlusion`; the holistic teacher on 'none'."""
        return self.config["val"]["occlusion"] if self.occluded else "none"

    def validate(self) -> dict[str, float] | None:
        """Validation metrics on the held-out subjects, or None when there are none."""
        return None
