"""Training stages by name, in `engine.schema.STAGE_NAMES` order: teacher, ven, baseline, occ-aware, mimic."""

from __future__ import annotations

from mimicgait.engine.stages.base import BatchInputs, Stage, StageParts
from mimicgait.engine.stages.mimic import MimicStage
from mimicgait.engine.stages.recognition import BaselineStage, OccAwareStage, TeacherStage
from mimicgait.engine.stages.ven import VENStage

STAGES: dict[str, type[Stage]] = {
    "teacher": TeacherStage,
    "ven": VENStage,
    "baseline": BaselineStage,
    "occ-aware": OccAwareStage,
    "mimic": MimicStage,
}

__all__ = [
    "STAGES",
    "BatchInputs",
    "BaselineStage",
    "MimicStage",
    "OccAwareStage",
    "Stage",
    "StageParts",
    "TeacherStage",
    "VENStage",
]
