"""Recognition stages: the holistic teacher, Baseline-2 on occluded data, and the Occlusion-Aware baseline
(both baselines optionally starting from a trained teacher).

All three train with the GaitBase recipe: part-wise batch-all triplet loss on the embeddings plus
label-smoothed cross-entropy on the BNNeck logits. Baseline-2 is the same model fed occluded
sequences; occ-aware adds the detector's occlusion-type cross-entropy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mimicgait.engine.checkpoint import relative_reference
from mimicgait.engine.distributed import gather_across
from mimicgait.engine.stages.base import Logs, Stage, StageParts, register_stage
from mimicgait.errors import UserError
from mimicgait.losses import BNNeckCrossEntropy, PartTripletLoss, part_accuracy
from mimicgait.models.checkpoint import load_checkpoint, load_weights
from mimicgait.models.spec import build_model


@register_stage
class TeacherStage(Stage):
    """Any encoder + BNNeck on holistic sequences: `encoder` is the encoder's spec (name and
    keyword arguments); the loss is `triplet` + `ce_weight` x `ce`."""

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
        self.triplet, self.ce, self.ce_weight = triplet, ce, ce_weight

    def model_spec(self) -> dict[str, Any]:
        return {
            "kind": "recognizer",
            "encoder": self.encoder,
            "num_classes": self.data.num_classes,
            "preprocess": self.preprocess.spec(),
        }

    def _input(self, x: dict[str, Tensor]) -> Tensor:
        return x["holistic"]

    def recognition_loss(self, out: dict[str, Tensor], labels: Tensor) -> tuple[Tensor, Logs]:
        # Under DDP the triplet loss sees every rank's sequences (as in one process on the whole batch).
        triplet, active = self.triplet(gather_across(out["embeddings"]), gather_across(labels))
        ce = self.ce(out["logits"], labels)
        logs: Logs = {
            "triplet": triplet.detach(),
            "triplet_active": active.detach(),
            "ce": ce.detach(),
            "accuracy": part_accuracy(out["logits"].detach(), labels),
        }
        return triplet + self.ce_weight * ce, logs

    def compute(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, Logs]:
        x = self.batch_inputs(batch, generator)
        out = model(self._input(x), batch["lengths"])  # {'embeddings' [n, c, p], 'logits' [n, k, p]}
        return self.recognition_loss(out, batch["labels"])


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

    def _input(self, x: dict[str, Tensor]) -> Tensor:
        return x["occluded"]


@register_stage
class OccAwareStage(FromTeacher):
    """Occlusion-Aware (WACV 2024): a classification-only occlusion detector (`feature_dim` wide)
    fused into the embedding, its type cross-entropy weighted by `occlusion_ce_weight`.

    From a teacher (`FromTeacher`) the encoder and BNNeck head are the teacher's and the fusion
    starts as the identity on the encoder's features (the detector's weighted 0), so the network
    starts out computing the teacher's embedding; the detector starts fresh."""

    name = "occ-aware"
    occluded = True

    def __init__(self, *args: Any, feature_dim: int, occlusion_ce_weight: float, **kwargs: Any) -> None:
        self.feature_dim = feature_dim  # model_spec needs it while the base builds the module
        super().__init__(*args, **kwargs)
        self.occ_ce = nn.CrossEntropyLoss()
        self.occ_weight = occlusion_ce_weight

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

    def compute(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, Logs]:
        x = self.batch_inputs(batch, generator)
        out = model(x["occluded"], batch["lengths"])
        loss, logs = self.recognition_loss(out, batch["labels"])
        occ = self.occ_ce(out["occlusion_logits"].float(), x["kind"])
        logs["occlusion_ce"] = occ.detach()
        logs["occlusion_accuracy"] = (out["occlusion_logits"].argmax(1) == x["kind"]).float().mean().detach()
        return loss + self.occ_weight * occ, logs
