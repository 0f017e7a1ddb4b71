"""The MimicGait distillation stage: a student on occluded input mimics a frozen teacher on holistic input.

The teacher and the VEN are loaded from their run directories (or checkpoint files), checked
against this config (same encoder architecture and input size; a VEN trained for exactly this
policy's classes), frozen and kept in eval mode. Only student + mixer are trained, wrapped in DDP
and saved; the checkpoint records the teacher's and VEN's paths and sha256.
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
from mimicgait.losses import BNNeckCrossEntropy, WeightedLoss
from mimicgait.models import BNNeckHead
from mimicgait.models.checkpoint import load_checkpoint, load_weights
from mimicgait.models.spec import build_encoder, build_model

#: How a student (and, by `baseline.init`, a fair control) starts: a fresh network or the teacher.
INITS = ("fresh", "teacher")


@register_stage
class MimicStage(Stage):
    """The mimic network: `encoder` (the student's spec, the teacher's architecture) trained on
    occluded input with `kd` (a registered distillation loss: MiCKD, L2, ...; logged as 'kd')
    against the frozen teacher at `teacher`, guided by the frozen VEN at `ven` (None: unguided).
    `init` 'teacher' starts the student from the teacher's encoder. `ce` (with `ce_weight` > 0)
    adds a BNNeck cross-entropy on the student (logged as 'ce'). `inference` is what the saved
    model embeds with; `feature_dim` is the mixer's width when there is no VEN (with one, the
    VEN's own)."""

    name = "mimic"
    occluded = True

    def __init__(
        self,
        parts: StageParts,
        *,
        encoder: dict[str, Any],
        teacher: Path,
        ven: Path | None,
        kd: nn.Module,
        init: str,
        ce: BNNeckCrossEntropy | None,
        ce_weight: float,
        inference: str,
        feature_dim: int,
    ) -> None:
        super().__init__(parts)
        self.encoder, self.guidance, self.inference = encoder, ven is not None, inference
        self.losses = {"kd": WeightedLoss(kd)}
        self.kd_gathered = bool(kd.batch_wise)  # the registry checked that every loss declares it
        if init not in INITS:
            raise UserError(f"mimic.init must be 'fresh' or 'teacher', got {init!r}")

        teacher_payload, self.teacher_file = load_checkpoint(teacher, "teacher")
        tspec = teacher_payload["model_spec"]
        if tspec.get("kind") != "recognizer":
            raise UserError(
                f"mimic.teacher {self.teacher_file} is a {teacher_payload['stage']} checkpoint; pass a "
                "teacher (or baseline) run"
            )
        if tspec["encoder"] != encoder or tspec.get("preprocess") != self.preprocess.spec():
            raise UserError(
                f"mimic.teacher {self.teacher_file} was trained as {tspec['encoder']} with preprocessing "
                f"{tspec.get('preprocess')}, but this config builds {encoder} with {self.preprocess.spec()}; "
                "the student must match the teacher's architecture and input size: base the config on "
                "the teacher's"
            )
        teacher_net = build_model(tspec)
        load_weights(teacher_net, teacher_payload["state_dict"], self.teacher_file)

        ven_net = None
        self.ven_file = None
        if ven is not None:
            ven_payload, self.ven_file = load_checkpoint(ven, "VEN")
            vspec = ven_payload["model_spec"]
            if vspec.get("kind") != "ven":
                raise UserError(
                    f"mimic.ven {self.ven_file} is a {ven_payload['stage']} checkpoint, not a VEN"
                )
            if list(vspec["classes"]) != list(self.policy.classes):
                raise UserError(
                    f"mimic.ven {self.ven_file} was trained for occlusion classes {vspec['classes']}, but "
                    f"this config's policy has {list(self.policy.classes)}; train a VEN with the same "
                    "occlusion.kinds or set mimic.guidance=false"
                )
            if vspec.get("preprocess") != self.preprocess.spec():
                raise UserError(
                    f"mimic.ven {self.ven_file} was trained with preprocessing {vspec.get('preprocess')}"
                    f", this config uses {self.preprocess.spec()}; retrain the VEN at this input size"
                )
            ven_net = build_model(vspec)
            load_weights(ven_net, ven_payload["state_dict"], self.ven_file)

        student = build_encoder(encoder)
        if init == "teacher":
            student.load_state_dict(teacher_net.encoder.state_dict())
        # the mixer's width is the loaded VEN's feature size, and the checkpoint records that one
        self.ven_feature_dim = ven_net.feature_dim if ven_net is not None else feature_dim
        self.module = build_model(self.model_spec(), ven=ven_net, teacher=teacher_net)
        self.module.student.load_state_dict(student.state_dict())
        # Ablation "MiCKD + XE": a BNNeck classifier on the student's embedding, trained alongside.
        # It is kept in the checkpoint (for resuming) as `ce_head.*`; inference ignores it.
        if ce_weight > 0:
            if ce is None:
                raise ValueError("ce_weight > 0 needs the cross-entropy module `ce`")
            self.module.ce_head = BNNeckHead(student.out_channels, student.parts, self.data.num_classes)
            self.losses["ce"] = WeightedLoss(ce, ce_weight)

    def model_spec(self) -> dict[str, Any]:
        return {
            "kind": "mimic",
            "encoder": self.encoder,
            "guidance": self.guidance,
            "classes": list(self.policy.classes),
            "feature_dim": self.ven_feature_dim,
            "preprocess": self.preprocess.spec(),
        }

    def checkpoint_extra(self, run_dir: Path) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "teacher": relative_reference(self.teacher_file, run_dir),
            "inference": self.inference if self.guidance else "student",
        }
        if self.ven_file is not None:
            extra["ven"] = relative_reference(self.ven_file, run_dir)
        return extra

    def compute(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, Logs]:
        x = self.batch_inputs(batch, generator)
        out = model(x["occluded"], batch["lengths"], x["holistic"])  # {'student', 'teacher'}: [n, c, p]
        labels = batch["labels"]
        kd = (out["student"], out["teacher"], labels)
        if self.kd_gathered:  # relates instances across the batch: every rank's, as in one process
            kd = tuple(gather_across(t) for t in kd)
        inputs = {"kd": kd}
        if "ce" in self.losses:
            inputs["ce"] = (self.module.ce_head(out["student"]), labels)  # logits [n, k, p]
        return self.sum_losses(inputs)
