"""One training run end to end: config + data + stage name -> run directory with model.pt.

Used by `mimicgait train` and callable from Python:

    from mimicgait.engine.config import load_config
    from mimicgait.engine.run import train
    train("teacher", load_config("tiny"), "data/casia-b", "runs/teacher")
"""

from __future__ import annotations

import logging
import random
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimicgait.dirlock import directory_lock
from mimicgait.engine import distributed
from mimicgait.engine.config import check_values, save_config
from mimicgait.engine.data import TrainingDataCache
from mimicgait.engine.from_config import build_stage, check_stage_config, trainer_settings, training_data
from mimicgait.engine.trainer import Trainer, TrainerSettings
from mimicgait.errors import UserError
from mimicgait.io import check_output_dir, check_own_directory, make_output_dir, os_errors
from mimicgait.models.checkpoint import FINAL_NAME, LAST_NAME

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


#: What a training run writes into its directory; anything else there means --out is not a run.
RUN_ENTRIES = frozenset({"config.yaml", "log.jsonl", "checkpoints", "tensorboard", FINAL_NAME})


def check_training_output(run_dir: str | Path, data_dir: str | Path, resume: bool) -> Path:
    """Refuse, before any work, a run directory the run must not write into; returns it as a Path.

    Refused with a `UserError`: a file, an unwritable location, the data directory or a folder
    inside it (the run's files would mix with the data), a directory holding anything but a run's
    files (a training run would add its own beside them), and, without `resume`, a finished or
    checkpointed run (it would be overwritten).
    """
    run_dir = check_output_dir(run_dir, "--out")
    data = Path(data_dir).resolve()
    target = run_dir.resolve()
    if target == data or data in target.parents:
        raise UserError(
            f"--out {run_dir} is inside the data directory {data_dir}; choose a directory outside it"
        )
    if not resume and ((run_dir / FINAL_NAME).exists() or (run_dir / LAST_NAME).exists()):
        raise UserError(
            f"--out {run_dir} already holds a run; pass --resume to continue it or choose another --out"
        )
    check_own_directory(run_dir, RUN_ENTRIES, "a training run")
    return run_dir


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporary files a killed checkpoint write left (`.last.pt.*.tmp`, `.model.pt.*.tmp`).

    Only names `write_atomic` gives its temporary files are touched; returns what was removed.
    """
    removed = []
    for folder, name in ((run_dir / LAST_NAME).parent, Path(LAST_NAME).name), (run_dir, FINAL_NAME):
        if folder.is_dir():
            for tmp in folder.glob(f".{name}.*.tmp"):
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    if removed:
        log.info("removed %d temporary file(s) of an interrupted checkpoint write in %s",
                 len(removed), run_dir)
    return removed


def _collective_timeout(
    err: RuntimeError, info: distributed.DistInfo, seconds: float | None
) -> UserError | None:
    """A `UserError` for a collective that timed out after `seconds` (a stopped or hung rank), else None."""
    text = str(err)
    if not info.enabled or ("timed out" not in text.lower() and "timeout" not in text.lower()):
        return None
    return UserError(
        f"rank {info.rank}: no answer from the other ranks within train.dist_timeout_s={seconds} s; a rank "
        "stopped, hung or was much slower (raise train.dist_timeout_s if a step or validation legitimately "
        "takes that long). The last checkpoint is kept: rerun with --resume"
    )


def train(
    stage: str,
    config: dict[str, Any],
    data_dir: str | Path,
    run_dir: str | Path,
    resume: bool = False,
    data: TrainingDataCache | None = None,
) -> dict[str, Any]:
    """Train `stage` ('teacher', 'ven', 'baseline', 'occ-aware', 'mimic'); returns the trainer's summary.

    `data`: the opened dataset of `data_dir` when the caller shares one between runs (a pipeline's
    jobs); without it the run opens the dataset itself.

    Everything that can be checked is checked before the run directory is touched: the config's
    values, the output directory, the data, the stage's frozen parts and, with `resume`, the
    checkpoint. `config.yaml` is written only once the run starts, so a refused or failed start
    leaves an existing run (and any other directory) as it was. The run directory is locked while
    the run uses it (`mimicgait.dirlock.directory_lock`): a second run into it is refused in one line
    naming the process holding it.
    """
    check_values(config)
    check_stage_config(stage, config)
    settings = trainer_settings(config)
    run_dir = check_training_output(run_dir, data_dir, resume)
    info, device = distributed.setup(config["train"]["device"], config["train"]["dist_timeout_s"])
    try:
        # one writer per run directory (rank 0 writes for all ranks); what the first check saw is
        # checked again under the lock, where no other run can change it
        with directory_lock(run_dir, "--out") if info.is_main else nullcontext():
            if info.is_main:
                check_training_output(run_dir, data_dir, resume)
            return _train_locked(stage, config, data_dir, run_dir, resume, info, device, settings, data)
    finally:
        distributed.cleanup(info)


def _train_locked(
    stage: str,
    config: dict[str, Any],
    data_dir: str | Path,
    run_dir: Path,
    resume: bool,
    info: distributed.DistInfo,
    device: torch.device,
    settings: TrainerSettings,
    cache: TrainingDataCache | None,
) -> dict[str, Any]:
    """The body of `train` once the run directory is this process's: build, fit, report."""
    if config["train"]["deterministic"]:
        torch.use_deterministic_algorithms(True)
    seed_everything(settings.seed)
    stage_obj = build_stage(stage, config, training_data(config, data_dir, cache), device)

    def started() -> None:  # resume state and data checked: the run directory may now change
        if info.is_main:
            make_output_dir(run_dir, "--out")
            remove_stale_temporaries(run_dir)
            with os_errors(run_dir / "config.yaml", "--out"):
                save_config(config, run_dir / "config.yaml")

    try:
        summary = Trainer(stage_obj, settings, run_dir, info, record=config).fit(
            resume=resume, on_start=started
        )
    except RuntimeError as err:
        timeout = _collective_timeout(err, info, config["train"]["dist_timeout_s"])
        if timeout is None:
            raise
        raise timeout from err
    if info.is_main:
        log.info("%s finished at iteration %d: %s", stage, summary["iteration"], run_dir / FINAL_NAME)
    return summary
