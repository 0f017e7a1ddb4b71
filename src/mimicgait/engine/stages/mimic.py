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

from mimicgait.engine.build import build_encoder, build_model
from mimicgait.engine.checkpoint import load_checkpoint, load_weights
from mimicgait.engine.data import TrainingData
from mimicgait.engine.distributed import gather_across
from mimicgait.engine.stages.base import Logs, Stage
from mimicgait.errors import UserError
from mimicgait.losses import BNNeckCrossEntropy, L2KDLoss, MiCKDLoss
from mimicgait.models import BNNeckHead

KD_LOSSES = ("mickd", "l2")


def _find(value: str | None, config: dict[str, Any], key: str) -> Path:
    """The run directory or checkpoint `value` names: as given, else relative to the config file."""
    from mimicgait.engine.config import config_dir

    if not value:
        raise UserError(f"the mimic stage needs {key}: a run directory or checkpoint (--set {key}=RUN_DIR)")
    path = Path(value)
    if not path.is_absolute() and not path.exists() and (config_dir(config) / path).exists():
        return config_dir(config) / path
    return path


class MimicStage(Stage):
    name = "mimic"
    occluded = True

    def __init__(self, config: dict[str, Any], data: TrainingData, device: torch.device) -> None:
        super().__init__(config, data, device)
        mimic_cfg = config["mimic"]
        self.guidance = bool(mimic_cfg["guidance"])
        spec = self.encoder_spec()

        teacher_payload, self.teacher_file = load_checkpoint(
            _find(mimic_cfg["teacher"], config, "mimic.teacher"), "teacher"
        )
        tspec = teacher_payload["model_spec"]
        if tspec.get("kind") != "recognizer":
            raise UserError(
                f"mimic.teacher {self.teacher_file} is a {teacher_payload['stage']} checkpoint; pass a "
                "teacher (or baseline) run"
            )
        if tspec["encoder"] != spec or tspec.get("preprocess") != self.preprocess.spec():
            raise UserError(
                f"mimic.teacher {self.teacher_file} was trained as {tspec['encoder']} with preprocessing "
                f"{tspec.get('preprocess')}, but this config builds {spec} with {self.preprocess.spec()}; "
                "the student must match the teacher's architecture and input size: base the config on "
                "the teacher's"
            )
        teacher = build_model(tspec)
        load_weights(teacher, teacher_payload["state_dict"], self.teacher_file)

        ven = None
        self.ven_file = None
        if self.guidance:
            ven_payload, self.ven_file = load_checkpoint(_find(mimic_cfg["ven"], config, "mimic.ven"), "VEN")
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
            ven = build_model(vspec)
            load_weights(ven, ven_payload["state_dict"], self.ven_file)

        student = build_encoder(spec)
        init = mimic_cfg["init"]
        if init == "teacher":
            student.load_state_dict(teacher.encoder.state_dict())
        elif init != "fresh":
            raise UserError(f"mimic.init must be 'fresh' or 'teacher', got {init!r}")
        # the mixer's width is the loaded VEN's feature size, and the checkpoint records that one
        self.ven_feature_dim = ven.feature_dim if ven is not None else int(config["ven"]["feature_dim"])
        self.module = build_model(self.model_spec(), ven=ven, teacher=teacher)
        self.module.student.load_state_dict(student.state_dict())
        kd = config["loss"]["kd"]
        if kd == "mickd":
            self.kd: nn.Module = MiCKDLoss(
                float(config["loss"]["mickd_margin"]),
                config["loss"]["mickd_positives"],
                normalize=bool(config["loss"]["mickd_normalize"]),
            )
        elif kd == "l2":
            self.kd = L2KDLoss()
        else:
            raise UserError(f"loss.kd must be one of {KD_LOSSES}, got {kd!r}")
        # Ablation "MiCKD + XE": a BNNeck classifier on the student's embedding, trained alongside.
        # It is kept in the checkpoint (for resuming) as `ce_head.*`; inference ignores it.
        self.ce_weight = float(config["loss"]["mimic_ce_weight"])
        if self.ce_weight > 0:
            self.module.ce_head = BNNeckHead(student.out_channels, student.parts, data.num_classes)
            self.ce = BNNeckCrossEntropy(float(config["model"]["label_smoothing"]))

    def model_spec(self) -> dict[str, Any]:
        return {
            "kind": "mimic",
            "encoder": self.encoder_spec(),
            "guidance": self.guidance,
            "classes": list(self.policy.classes),
            "feature_dim": self.ven_feature_dim,
            "preprocess": self.preprocess.spec(),
        }

    def checkpoint_extra(self, run_dir: Path) -> dict[str, Any]:
        from mimicgait.engine.checkpoint import relative_reference

        extra: dict[str, Any] = {
            "teacher": relative_reference(self.teacher_file, run_dir),
            "inference": self.config["mimic"]["inference"] if self.guidance else "student",
        }
        if self.ven_file is not None:
            extra["ven"] = relative_reference(self.ven_file, run_dir)
        return extra

    def compute(
        self, model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator
    ) -> tuple[Tensor, Logs]:
        x = self.inputs(batch, generator)
        out = model(x["occluded"], batch["lengths"], x["holistic"])  # {'student', 'teacher'}: [n, c, p]
        if isinstance(self.kd, MiCKDLoss):  # multi-instance: every rank's instances, as in one process
            loss = self.kd(gather_across(out["student"]), gather_across(out["teacher"]),
                           gather_across(batch["labels"]))
        else:
            loss = self.kd(out["student"], out["teacher"], batch["labels"])
        logs: Logs = {"kd": loss.detach()}
        if self.ce_weight > 0:
            ce = self.ce(self.module.ce_head(out["student"]), batch["labels"])  # logits [n, k, p]
            logs["ce"] = ce.detach()
            loss = loss + self.ce_weight * ce
        return loss, logs

    def validate(self) -> dict[str, float] | None:
        from mimicgait.engine.validation import recognition_validation

        return recognition_validation(
            self.module,
            self.preprocess,
            self.data.val,
            self.config["val"],
            self.val_occlusion(),
            seed=int(self.config["seed"]),
            progress=bool(self.config["train"]["progress"]),
        )
