"""`run_pipeline`: check everything, train, evaluate, summarise, plot."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from mimicgait.dirlock import directory_lock
from mimicgait.engine.config import check_values, save_config
from mimicgait.engine.data import TrainingDataCache
from mimicgait.engine.precision import eval_amp
from mimicgait.io import os_errors, write_atomic
from mimicgait.pipeline.evaluate import eval_subjects, evaluate_jobs
from mimicgait.pipeline.plan import check_pipeline_dir, make_plan
from mimicgait.pipeline.plots import plot_reports
from mimicgait.pipeline.summary import summarise
from mimicgait.pipeline.train import BeforeJob, train_jobs


def run_pipeline(
    config: dict[str, Any],
    data_dir: str | Path,
    run_dir: str | Path,
    overrides: Sequence[str] = (),
    progress: bool | None = None,
    before_job: BeforeJob | None = None,
    own_entries: Sequence[str] = (),
    data: TrainingDataCache | None = None,
) -> dict[str, Any]:
    """Train, evaluate, compare. `config` is `load_config(file)` without the overrides, which are given
    separately so that they apply after `pipeline.overrides`. `progress` (if not None) turns every
    stage's and evaluation's progress bar on or off; `before_job` see `train_jobs`; `own_entries`
    names files the caller keeps in `run_dir` (the demo's data and pictures), which the check of
    `run_dir` then accepts; `data` the data directory already opened (the demo's), else it is opened
    here, once for every job and the evaluation. `run_dir` is locked while the pipeline uses it: a
    second pipeline (or demo) into it is refused in one line naming the process holding it.
    Returns {'jobs': status, 'reports': paths, 'summary': Markdown}."""
    run_dir = Path(run_dir)
    config = copy.deepcopy(config)
    if progress is not None:
        config["train"]["progress"] = bool(progress)
    planned = make_plan(config, run_dir, overrides)  # a bad pipeline section refused before training
    resolved = planned.resolved
    check_pipeline_dir(run_dir, data_dir, planned.names, own_entries)
    from mimicgait.engine.from_config import check_stage_config

    for job in planned.jobs:  # every job's settings, before the first one trains
        cfg = planned.configs[job.name]
        check_values(cfg, where=f"pipeline job {job.name}")
        check_stage_config(job.stage, cfg)
    from mimicgait.data.sources import open_dataset

    partition = resolved["data"]["partition"]
    if data is None:
        data = TrainingDataCache(data_dir, {partition: open_dataset(data_dir, partition=partition)})
    source = data.source(partition)
    eval_subjects(resolved, source)  # no subjects to evaluate on is refused before training, too
    eval_amp(resolved["pipeline"]["eval"]["amp"], torch.device("cpu"))
    with directory_lock(run_dir, "--out"):  # one pipeline per directory; its state checked again under it
        check_pipeline_dir(run_dir, data_dir, planned.names, own_entries)
        with os_errors(run_dir / "pipeline.yaml", "--out"):
            save_config(resolved, run_dir / "pipeline.yaml")
        status = train_jobs(planned, data_dir, run_dir, before_job, data=data)
        show = bool(resolved["train"]["progress"]) if progress is None else progress
        reports = evaluate_jobs(planned, data_dir, run_dir, progress=show, source=source)
        summary = summarise(resolved, reports, run_dir, data_dir, planned)
        with os_errors(run_dir / "summary.md", "--out"):
            write_atomic(run_dir / "summary.md", lambda f: f.write(summary.encode()))
        plot_reports(reports, resolved, run_dir, planned)
    return {
        "jobs": status,
        "reports": {name: str(run_dir / "reports" / f"{name}.json") for name in reports},
        "summary": summary,
    }
