"""Recognition stages: the holistic teacher, Baseline-2 on occluded data, and the Occlusion-Aware baseline
(both baselines optionally starting from a trained teacher).

All three train with the GaitBase recipe: part-wise batch-all triplet loss on the embeddings plus
label-smoothed cross-entropy on the BNNeck logits. Baseline-2 is the same model fed occluded
sequences; occ-aware adds the detector's occlusion-type cross-entropy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mimicgait.engine.checkpoint import relative_reference
from mimicgait.engine.distributed import gather_across
from mimicgait.engine.stages.base import Logs, Stage, StageParts, register_stage
from mimicgait.errors import UserError
from mimicgait.losses import (
    BNNeckCrossEntropy,
    OcclusionTypeLoss,
    PartTripletLoss,
    WeightedLoss,
    class_accuracy,
    part_accuracy,
)
from mimicgait.models.checkpoint import load_checkpoint, load_weights
from mimicgait.models.spec import build_model


@register_stage
class TeacherStage(Stage):
    """Any encoder + BNNeck on holistic sequences: `encoder` is the encoder's spec (name and
    keyword arguments); the loss is 'triplet' + `ce_weight` x 'ce', logged with the part accuracy."""

    name = "teacher"

    def __init__(
        self,
        parts: StageParts,
        *,
        encoder: dict[str, Any],
        triplet: PartTripletLoss,
        ce: BNNeckCrossEntropy,
        ce_weight: float,
    ) -> None:
        super().__init__(parts)
        self.encoder = encoder
        self.module = build_model(self.model_spec())
        self.losses = {"triplet": WeightedLoss(triplet), "ce": WeightedLoss(ce, ce_weight)}

    def model_spec(self) -> dict[str, Any]:
        return {
            "kind": "recognizer",
            "encoder": self.encoder,
            "num_classes": self.data.num_classes,
            "preprocess": self.preprocess.spec(),
        }

    def _input(self, x: dict[str, Tensor]) -> Tensor:
        """The batch this stage learns from: occluded for a stage trained on occlusion, else holistic."""
        return x["occluded" if self.occluded else "holistic"]

    def loss_inputs(
        self, out: dict[str, Tensor], x: dict[str, Tensor], labels: Tensor
    ) -> dict[str, Sequence[Tensor]]:
        """Each loss term's arguments, from the model's output, the batch inputs and the labels [n]."""
        # Under DDP the triplet loss sees every rank's sequences (as in one process on the whole batch).
        return {"triplet": (gather_across(out["embeddings"]), gather_across(labels)),
                "ce": (out["logits"], labels)}

    def metrics(self, out: dict[str, Tensor], x: dict[str, Tensor], labels: Tensor) -> Logs:
        """What is logged beside the loss terms."""
        return {"accuracy": part_accuracy(out["logits"].detach(), labels)}

    def compute(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, Logs]:
        x = self.batch_inputs(batch, generator)
        out = model(self._input(x), batch["lengths"])  # {'embeddings' [n, c, p], 'logits' [n, k, p], ...}
        labels = batch["labels"]
        return self.sum_losses(self.loss_inputs(out, x, labels), self.metrics(out, x, labels))


class FromTeacher(TeacherStage):
    """What Baseline-2 and Occlusion-Aware share: given `init_teacher` (a teacher run directory or
    checkpoint) they start from that trained teacher instead of a fresh network, the fair control
    for a mimic student initialised from it (same start, same data, only the method differs). The
    checkpoint records which teacher."""

    def __init__(self, *args: Any, init_teacher: Path | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.init_file: Path | None = None
        if init_teacher is None:
            return
        payload, file = load_checkpoint(init_teacher, "baseline.teacher")
        spec = payload["model_spec"]
        ours = self.model_spec()
        if any(spec.get(key) != ours[key] for key in ("encoder", "num_classes", "preprocess")):
            raise UserError(f"baseline.teacher {file} is a {payload['stage']} model of another "
                            "architecture, input size or subject count than this baseline; base the config "
                            "on the teacher's")
        self.load_teacher(payload["state_dict"], file)
        self.init_file = file

    def load_teacher(self, state_dict: dict[str, Tensor], file: Path) -> None:
        raise NotImplementedError

    def checkpoint_extra(self, run_dir: Path) -> dict[str, Any]:
        if self.init_file is None:
            return {}
        return {"init": {"teacher": relative_reference(self.init_file, run_dir)}}


@register_stage
class BaselineStage(FromTeacher):
    """Baseline-2: the same recogniser trained on occluded sequences (from a teacher: `FromTeacher`)."""

    name = "baseline"
    occluded = True

    def load_teacher(self, state_dict: dict[str, Tensor], file: Path) -> None:
        load_weights(self.module, state_dict, file)


@register_stage
class OccAwareStage(FromTeacher):
    """Occlusion-Aware (WACV 2024): a classification-only occlusion detector (`feature_dim` wide)
    fused into the embedding, its type cross-entropy ('occlusion_ce') weighted by `occlusion_ce_weight`.

    From a teacher (`FromTeacher`) the encoder and BNNeck head are the teacher's and the fusion
    starts as the identity on the encoder's features (the detector's weighted 0), so the network
    starts out computing the teacher's embedding; the detector starts fresh."""

    name = "occ-aware"
    occluded = True

    def __init__(self, *args: Any, feature_dim: int, occlusion_ce_weight: float, **kwargs: Any) -> None:
        self.feature_dim = feature_dim  # model_spec needs it while the base builds the module
        super().__init__(*args, **kwargs)
        self.losses["occlusion_ce"] = WeightedLoss(OcclusionTypeLoss(), occlusion_ce_weight)

    def load_teacher(self, state_dict: dict[str, Tensor], file: Path) -> None:
        net = self.module
        for part in ("encoder", "head"):
            prefix = f"{part}."
            load_weights(getattr(net, part), {k[len(prefix):]: v for k, v in state_dict.items()
                                              if k.startswith(prefix)}, file)
        with torch.no_grad():
            c = net.fusion.out_channels
            net.fusion.weight.zero_()  # [p, c + D, c]
            net.fusion.weight[:, :c, :] = torch.eye(c)

    def model_spec(self) -> dict[str, Any]:
        return {
            "kind": "occ-aware",
            "encoder": self.encoder,
            "num_classes": self.data.num_classes,
            "classes": list(self.policy.classes),
            "feature_dim": self.feature_dim,
            "preprocess": self.preprocess.spec(),
        }

    def loss_inputs(
        self, out: dict[str, Tensor], x: dict[str, Tensor], labels: Tensor
    ) -> dict[str, Sequence[Tensor]]:
        # the detector's type logits [n, K] against the kind each sequence was occluded with [n]
        return {**super().loss_inputs(out, x, labels), "occlusion_ce": (out["occlusion_logits"], x["kind"])}

    def metrics(self, out: dict[str, Tensor], x: dict[str, Tensor], labels: Tensor) -> Logs:
        return {**super().metrics(out, x, labels),
                "occlusion_accuracy": class_accuracy(out["occlusion_logits"], x["kind"])}
