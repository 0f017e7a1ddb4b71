"""Which jobs a pipeline trains and with which config: `pipeline.stages`, then `pipeline.variants`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimicgait.engine.config import ConfigError, apply_overrides, check, merge
from mimicgait.engine.stages import stage_order
from mimicgait.errors import UserError
from mimicgait.io import check_output_dir, check_own_directory

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

#: Column labels of the jobs the paper names.
LABELS = {"teacher": "Baseline-1", "baseline": "Baseline-2", "occ-aware": "Occ-Aware", "mimic": "Mimic"}

@dataclass
class Job:
    """One training run of the pipeline: `RUN_DIR/<name>/` trained as `stage` with `settings` on top."""

    name: str
    stage: str
    settings: dict[str, Any] = field(default_factory=dict)  # nested partial config (the variant's `set`)

    @property
    def variant(self) -> bool:
        return self.name != self.stage


def expand(settings: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """{'optim.lr': 0.1, 'train': {'iterations': 5}} -> nested dict, checked against the schema."""
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{where} must map setting names to values, e.g. {{optim.lr: 1.0e-4}}")
    out = _nest(settings)
    check(out, where=where)
    return out


def _nest(settings: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in settings.items():
        nested: Any = _nest(value) if isinstance(value, Mapping) else value
        for part in reversed(str(key).split(".")):
            nested = {part: nested}
        out = merge(out, nested)
    return out


def plan(config: Mapping[str, Any]) -> list[Job]:
    """The jobs of `pipeline.stages` then `pipeline.variants`, in training order."""
    pipe = config["pipeline"]
    stages = list(pipe["stages"] or [])
    for stage in stages:
        if stage not in stage_order():
            raise ConfigError(
                f"pipeline.stages: unknown stage {stage!r}; choose from {', '.join(stage_order())}"
            )
    if len(set(stages)) != len(stages):
        raise ConfigError(f"pipeline.stages lists a stage twice: {stages}")
    jobs = [Job(s, s) for s in sorted(stages, key=stage_order().index)]
    for name, spec in (pipe["variants"] or {}).items():
        where = f"pipeline.variants.{name}"
        if not _NAME.match(str(name)) or name in stage_order() or name in ("reports", "plots"):
            raise ConfigError(
                f"{where}: the name must be a plain directory name other than a stage, 'reports' or 'plots'"
            )
        if not isinstance(spec, Mapping) or spec.get("stage") not in stage_order():
            raise ConfigError(f"{where}: give stage (one of {', '.join(stage_order())}) and set, e.g. "
                              "{stage: mimic, set: {loss.kd: l2}}")
        unknown = set(spec) - {"stage", "set"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; a variant has stage and set")
        jobs.append(Job(str(name), spec["stage"], expand(spec.get("set"), f"{where}.set")))
    return jobs


@dataclass(frozen=True)
class PipelinePlan:
    """A pipeline resolved once, what `run_pipeline` hands to training, evaluation and the summary:
    the config with the command line's overrides, the jobs in training order, each job's config."""

    resolved: dict[str, Any]
    jobs: list[Job]
    configs: dict[str, dict[str, Any]]

    @property
    def names(self) -> list[str]:
        return [job.name for job in self.jobs]


def make_plan(config: dict[str, Any], run_dir: str | Path, overrides: Sequence[str] = ()) -> PipelinePlan:
    """Resolve `config` (without the command line's `overrides`, which apply after
    `pipeline.overrides`) into its jobs and their configs, once."""
    resolved = apply_overrides(config, overrides)
    jobs = plan(resolved)
    names = [job.name for job in jobs]
    configs = {job.name: job_config(config, job, Path(run_dir), overrides, names) for job in jobs}
    return PipelinePlan(resolved, jobs, configs)


#: What a pipeline writes at the top of its directory, besides one directory per job.
PIPELINE_ENTRIES = frozenset({"pipeline.yaml", "summary.md", "reports", "plots"})


def check_pipeline_dir(
    run_dir: str | Path, data_dir: str | Path, jobs: Sequence[str], extra: Sequence[str] = ()
) -> Path:
    """Refuse, before any training, a pipeline directory it must not write into; returns it.

    A `UserError` for a file, an unwritable location, the data directory or a folder inside it,
    and a directory holding anything but this pipeline's files (`PIPELINE_ENTRIES` and the jobs'
    directories, plus `extra`: the demo's own files), so an earlier run continues but another
    folder never receives a pipeline.
    """
    run_dir = check_output_dir(run_dir, "--out")
    data = Path(data_dir).resolve()
    if run_dir.resolve() == data or data in run_dir.resolve().parents:
        raise UserError(
            f"--out {run_dir} is inside the data directory {data_dir}; choose a directory outside it"
        )
    check_own_directory(run_dir, PIPELINE_ENTRIES | set(jobs) | set(extra), "this pipeline's")
    return run_dir


def job_config(
    config: dict[str, Any], job: Job, run_dir: Path, overrides: Sequence[str] = (), names: Sequence[str] = ()
) -> dict[str, Any]:
    """The config `job` trains with (see the module docstring for the order)."""
    per_stage = (config["pipeline"]["overrides"] or {})
    unknown = set(per_stage) - set(stage_order())
    if unknown:
        raise ConfigError(
            f"pipeline.overrides: unknown stage(s) {sorted(unknown)}; use {', '.join(stage_order())}"
        )
    cfg = merge(config, expand(per_stage.get(job.stage), f"pipeline.overrides.{job.stage}"))
    cfg = apply_overrides(cfg, overrides)
    cfg = merge(cfg, job.settings)
    if (job.stage in ("baseline", "occ-aware") and cfg["baseline"]["init"] == "teacher"
            and not cfg["baseline"]["teacher"]):
        cfg["baseline"]["teacher"] = str(run_dir / "teacher")
    if job.stage == "mimic":
        for key in ("teacher", "ven"):
            given = (job.settings.get("mimic") or {}).get(key)
            if given is None:
                cfg["mimic"][key] = str(run_dir / key)
            elif given in names:  # another job of this pipeline
                cfg["mimic"][key] = str(run_dir / given)
    return cfg
