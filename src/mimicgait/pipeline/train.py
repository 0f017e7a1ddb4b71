"""Training a pipeline's jobs in order, skipping finished ones and resuming interrupted ones."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mimicgait.engine.data import TrainingDataCache
from mimicgait.models.checkpoint import FINAL_NAME, LAST_NAME
from mimicgait.pipeline.plan import Job, PipelinePlan

log = logging.getLogger(__name__)

#: Called with (job, its config) just before the job trains; returns the config to train with.
BeforeJob = Callable[[Job, dict[str, Any]], dict[str, Any]]


def train_jobs(
    planned: PipelinePlan,
    data_dir: str | Path,
    run_dir: Path,
    before_job: BeforeJob | None = None,
    data: TrainingDataCache | None = None,
) -> dict[str, str]:
    """Train every job that has no model.pt yet; returns {job: 'trained' | 'resumed' | 'skipped'}.

    `before_job` may adjust a job's config at the last moment (the demo sizes each stage's
    iterations from its measured step time). The jobs share one opened dataset and its stores:
    `data`, the caller's (the pipeline's, which the demo also times its steps on), or one opened by
    the first job that trains."""
    from mimicgait.engine.run import train

    data = data if data is not None else TrainingDataCache(data_dir)
    jobs = planned.jobs
    status = {}
    for i, job in enumerate(jobs, 1):
        out = run_dir / job.name
        if (out / FINAL_NAME).is_file():
            log.info("[%d/%d] %s: %s exists, skipping", i, len(jobs), job.name, out / FINAL_NAME)
            status[job.name] = "skipped"
            continue
        resume = (out / LAST_NAME).is_file()
        log.info("[%d/%d] %s: %s stage%s -> %s", i, len(jobs), job.name, job.stage,
                 " (resuming)" if resume else "", out)
        cfg = copy.deepcopy(planned.configs[job.name])
        if before_job is not None:
            cfg = before_job(job, cfg)
        train(job.stage, cfg, data_dir, out, resume=resume, data=data)
        status[job.name] = "resumed" if resume else "trained"
    return status
