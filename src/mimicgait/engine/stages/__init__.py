"""Training stages by name: the registry (`register_stage`), built-in stages first in
`engine.schema.STAGE_NAMES` order (teacher, ven, baseline, occ-aware, mimic), then any other."""

from __future__ import annotations

from mimicgait.engine.schema import STAGE_NAMES
from mimicgait.engine.stages.base import STAGE_REGISTRY, BatchInputs, Stage, StageParts, register_stage
from mimicgait.engine.stages.mimic import MimicStage
from mimicgait.engine.stages.recognition import BaselineStage, OccAwareStage, TeacherStage
from mimicgait.engine.stages.ven import VENStage

#: Every registered stage by name (the registry itself: a stage registered later appears here).
STAGES: dict[str, type[Stage]] = STAGE_REGISTRY


def stage_order() -> tuple[str, ...]:
    """The order a pipeline trains stages in: the built-in ones by `STAGE_NAMES`, then any other
    registered stage in registration order."""
    return tuple(n for n in STAGE_NAMES if n in STAGES) + tuple(n for n in STAGES if n not in STAGE_NAMES)

__all__ = [
    "STAGES",
    "BatchInputs",
    "BaselineStage",
    "MimicStage",
    "OccAwareStage",
    "Stage",
    "StageParts",
    "register_stage",
    "stage_order",
    "TeacherStage",
    "VENStage",
]
