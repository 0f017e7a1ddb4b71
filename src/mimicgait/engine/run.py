"""One training run end to end: config + data + stage name -> run directory with model.pt.

Used by `mimicgait train` and callable from Python:

    from mimicgait.engine.config import load_config
    from mimicgait.engine.run import train
    train("teacher", load_config("casia-b/tiny"), "data/casia-b", "runs/teacher")
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimicgait.engine import distributed
from mimicgait.engine.checkpoint import FINAL_NAME, LAST_NAME
from mimicgait.engine.config import save_config
from mimicgait.engine.data import load_data
from mimicgait.engine.stages import STAGES
from mimicgait.engine.trainer import Trainer
from mimicgait.errors import UserError

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def train(
    stage: str, config: dict[str, Any], data_dir: str | Path, run_dir: str | Path, resume: bool = False
) -> dict[str, Any]:
    """Train `stage` ('teacher', 'ven', 'baseline', 'occ-aware', 'mimic'); returns the trainer's summary."""
    if stage not in STAGES:
        raise UserError(f"unknown stage {stage!r}; choose from {', '.join(STAGES)}")
    run_dir = Path(run_dir)
    if not resume and ((run_dir / FINAL_NAME).exists() or (run_dir / LAST_NAME).exists()):
        raise UserError(
            f"{run_dir} already holds a run; pass --resume to continue it or choose another --out"
        )
    info, device = distributed.setup(config["train"].get("device", "auto"))
    try:
        if config["train"].get("deterministic"):
            torch.use_deterministic_algorithms(True)
        seed_everything(int(config["seed"]))
        config = {**config, "_run_dir": str(run_dir)}
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            save_config(config, run_dir / "config.yaml")
        data = load_data(str(data_dir), config["data"])
        stage_obj = STAGES[stage](config, data, device)
        summary = Trainer(stage_obj, config, run_dir, info).fit(resume=resume)
        if info.is_main:
            log.info("%s finished at iteration %d: %s", stage, summary["iteration"], run_dir / FINAL_NAME)
        return summary
    finally:
        distributed.cleanup(info)
