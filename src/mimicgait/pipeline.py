"""The whole experiment in one call: train every stage, evaluate every model, compare them.

`run_pipeline(config, data_dir, run_dir)` trains the stages of `pipeline.stages` (teacher, VEN,
Baseline-2, mimic; occ-aware if listed) and then the variants of `pipeline.variants` (ablations:
another stage run with a few settings changed), each into `RUN_DIR/<name>/`. A job whose
`model.pt` exists is skipped; one with only `checkpoints/last.pt` is resumed, so rerunning an
interrupted pipeline continues where it stopped. The mimic jobs get `mimic.teacher` and
`mimic.ven` pointed at `RUN_DIR/teacher` and `RUN_DIR/ven` (a variant may name another job).

A job's config is, in order: the config file, `pipeline.overrides[<stage>]`, the caller's
`--set` overrides, the variant's `set`, then the paths above. Overrides are dotted keys checked
against the schema of `mimicgait.engine.config`.

Evaluation then scores, on the held-out subjects and with seeded occlusions: the teacher on
holistic data, Baseline-1 (the teacher) / Baseline-2 / mimic (guided, bare student and routed)
under occlusion with occluded and with holistic gallery, the mimic in each mode on holistic data
(how much holistic accuracy it keeps) and every variant under the paper's protocol. Reports of one
model share their embedding passes (each sequence is embedded once holistic and once occluded).
Reports are cached next to the run: `RUN_DIR/reports/<name>.json` is reused while its settings
match and it is newer than the model it scores. `RUN_DIR/summary.md` holds the comparison tables
with RP = occluded Rank-1 / the teacher's holistic Rank-1.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimicgait.engine.checkpoint import FINAL_NAME, LAST_NAME
from mimicgait.engine.config import ConfigError, apply_overrides, check, check_values, merge, save_config
from mimicgait.errors import UserError
from mimicgait.io import check_output_dir, check_own_directory, make_output_dir, os_errors

log = logging.getLogger(__name__)

STAGE_ORDER = ("teacher", "ven", "baseline", "occ-aware", "mimic")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

#: Report stem and label of each inference mode of the mimic network.
MIMIC_MODES = {
    "guided": ("mimic", "Mimic"),
    "student": ("mimic-student", "Mimic (student)"),
    "routed": ("mimic-routed", "Mimic (routed)"),
}

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


@dataclass
class Evaluation:
    """One report: which job's model, in which inference mode, under which occlusion."""

    name: str
    job: str
    label: str
    occluded: bool
    gallery: str = "same"  # 'same': gallery occluded too (the paper); 'none': holistic gallery
    inference: str | None = None  # mimic: 'guided' or 'student'


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
    stages = list(pipe.get("stages") or [])
    for stage in stages:
        if stage not in STAGE_ORDER:
            raise ConfigError(
                f"pipeline.stages: unknown stage {stage!r}; choose from {', '.join(STAGE_ORDER)}"
            )
    if len(set(stages)) != len(stages):
        raise ConfigError(f"pipeline.stages lists a stage twice: {stages}")
    jobs = [Job(s, s) for s in sorted(stages, key=STAGE_ORDER.index)]
    for name, spec in (pipe.get("variants") or {}).items():
        where = f"pipeline.variants.{name}"
        if not _NAME.match(str(name)) or name in STAGE_ORDER or name in ("reports", "plots"):
            raise ConfigError(
                f"{where}: the name must be a plain directory name other than a stage, 'reports' or 'plots'"
            )
        if not isinstance(spec, Mapping) or spec.get("stage") not in STAGE_ORDER:
            raise ConfigError(f"{where}: give stage (one of {', '.join(STAGE_ORDER)}) and set, e.g. "
                              "{stage: mimic, set: {loss.kd: l2}}")
        unknown = set(spec) - {"stage", "set"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; a variant has stage and set")
        jobs.append(Job(str(name), spec["stage"], expand(spec.get("set"), f"{where}.set")))
    return jobs


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
    per_stage = (config["pipeline"].get("overrides") or {})
    unknown = set(per_stage) - set(STAGE_ORDER)
    if unknown:
        raise ConfigError(
            f"pipeline.overrides: unknown stage(s) {sorted(unknown)}; use {', '.join(STAGE_ORDER)}"
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


# -- training ------------------------------------------------------------------------------------
#: Called with (job, its config) just before the job trains; returns the config to train with.
BeforeJob = Callable[[Job, dict[str, Any]], dict[str, Any]]


def train_jobs(
    config: dict[str, Any],
    data_dir: str | Path,
    run_dir: Path,
    overrides: Sequence[str] = (),
    before_job: BeforeJob | None = None,
) -> dict[str, str]:
    """Train every job that has no model.pt yet; returns {job: 'trained' | 'resumed' | 'skipped'}.

    `before_job` may adjust a job's config at the last moment (the demo sizes each stage's
    iterations from its measured step time)."""
    from mimicgait.engine.run import train

    jobs = plan(apply_overrides(config, overrides))
    names = [j.name for j in jobs]
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
        cfg = job_config(config, job, run_dir, overrides, names)
        if before_job is not None:
            cfg = before_job(job, cfg)
        train(job.stage, cfg, data_dir, out, resume=resume)
        status[job.name] = "resumed" if resume else "trained"
    return status


# -- evaluation ----------------------------------------------------------------------------------
def evaluations(config: Mapping[str, Any], run_dir: Path) -> list[Evaluation]:
    """The reports this pipeline produces, given which jobs it has."""
    jobs = plan(config)
    names = {j.name for j in jobs}
    out: list[Evaluation] = []
    if "teacher" in names:
        out.append(Evaluation("teacher-holistic", "teacher", "Teacher (holistic)", occluded=False))
    for job in ("teacher", "baseline", "occ-aware"):
        if job in names:
            out += [
                Evaluation(_report_name(job), job, LABELS[job], occluded=True),
                Evaluation(f"{_report_name(job)}-holistic-gallery", job, LABELS[job], True, "none"),
            ]
    if "mimic" in names:
        mimic_job = next(j for j in jobs if j.name == "mimic")
        guided = bool(job_config(dict(config), mimic_job, run_dir)["mimic"]["guidance"])
        modes = ["guided", "student", "routed"] if guided else ["student"]
        for mode in modes:
            stem, label = MIMIC_MODES[mode]
            out += [
                Evaluation(stem, "mimic", label, True, "same", mode),
                Evaluation(f"{stem}-holistic-gallery", "mimic", label, True, "none", mode),
                Evaluation(f"{stem}-holistic", "mimic", f"{label} (holistic)", False, "same", mode),
            ]
    for job in jobs:
        if job.variant and job.stage != "ven":
            out.append(Evaluation(job.name, job.name, job.name, occluded=True))
    return out


def _report_name(job: str) -> str:
    return {"teacher": "baseline1", "baseline": "baseline2"}.get(job, job)


def eval_subjects(config: Mapping[str, Any], source) -> list[str]:
    """Subjects to evaluate on: pipeline.eval.subjects, else its split, else the data's test split
    when the partition has one and all its subjects are in the data, else data.val_subjects.

    So a recipe tuned on a validation split (data.val_subjects, held out of training) reports on
    that split when run on the training subjects alone, and on the test split when run on the whole
    dataset, without a change."""
    from mimicgait.data.partition import parse_subjects, split_subjects

    ev = config["pipeline"]["eval"]
    if ev.get("subjects"):
        return parse_subjects(ev["subjects"], "pipeline.eval.subjects") or []
    if ev.get("split"):
        if source.partition is None:
            raise UserError(f"pipeline.eval.split={ev['split']!r} but {source.root} has no partition file; "
                             "set pipeline.eval.subjects instead")
        return split_subjects(source.partition, ev["split"], source.subjects())
    test = list((source.partition or {}).get("TEST_SET") or [])
    if test and set(test) <= set(source.subjects()):
        return test
    val = parse_subjects(config["data"].get("val_subjects"), "data.val_subjects")
    if not val:
        raise UserError(
            "the pipeline has no subjects to evaluate on: set data.val_subjects (held out of training), "
            "pipeline.eval.subjects or pipeline.eval.split in the config, or give data with a "
            "partition file whose TEST_SET subjects are present"
        )
    return val


def _seeds(config: Mapping[str, Any], item: Evaluation) -> list[int]:
    """The occlusion seeds of a report: `pipeline.eval.seeds` draws for the paper's protocol
    (probes and gallery occluded), the first draw for the others."""
    ev = config["pipeline"]["eval"]
    draws = int(ev.get("seeds", 1)) if item.occluded and item.gallery == "same" else 1
    return [int(ev["seed"]) + i for i in range(draws)]


def _settings(config: Mapping[str, Any], item: Evaluation, subjects: Sequence[str]) -> dict[str, Any]:
    ev = config["pipeline"]["eval"]
    seeds = _seeds(config, item)
    extra = {"seeds": seeds} if len(seeds) > 1 else {}
    return {
        "protocol": config["val"]["protocol"],
        "occlusion": ev["occlusion"] if item.occluded else "none",
        "gallery": item.gallery if item.occluded else "none",
        "seed": int(ev["seed"]),
        "metric": ev["metric"],
        "inference": item.inference,
        "max_frames": ev.get("max_frames"),
        "amp": ev.get("amp", "none"),
        "subjects": list(subjects),
        **extra,
    }


def _cached(path: Path, checkpoint: Path, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """The report at `path` if it was made with these settings after `checkpoint` was written."""
    from mimicgait.eval.report import load_report

    if not path.is_file() or path.stat().st_mtime < checkpoint.stat().st_mtime:
        return None
    try:
        report = load_report(path)
    except ValueError:
        return None
    return report if (report.get("pipeline") or {}).get("settings") == settings else None


def evaluate_jobs(
    config: dict[str, Any], data_dir: str | Path, run_dir: Path, progress: bool = True
) -> dict[str, dict[str, Any]]:
    """Write every report of `evaluations` to RUN_DIR/reports (reusing up-to-date ones); returns them."""
    from mimicgait.data.sources import open_source
    from mimicgait.data.store import SequenceStore
    from mimicgait.deploy.recognizer import resolve_device
    from mimicgait.engine.checkpoint import load_for_inference, resolve_checkpoint
    from mimicgait.eval.evaluate import EmbeddingCache, check_input_size, evaluate
    from mimicgait.eval.protocols import build_protocol
    from mimicgait.eval.report import combine_seeds, write_report

    ev = config["pipeline"]["eval"]
    device = resolve_device(ev.get("device") or config["train"].get("device", "auto"))
    source = open_source(data_dir, partition=config["data"].get("partition"))
    subjects = eval_subjects(config, source)
    store = None
    protocol = build_protocol(config["val"]["protocol"])
    reports: dict[str, dict[str, Any]] = {}
    # per model (job, inference mode): loaded once, and its embedding passes shared by its reports
    models: dict[tuple[str, str | None], tuple[Any, dict[str, Any]]] = {}
    caches: dict[tuple[str, str | None], EmbeddingCache] = {}
    for item in evaluations(config, run_dir):
        checkpoint = resolve_checkpoint(run_dir / item.job, f"pipeline job {item.job}")
        settings = _settings(config, item, subjects)
        path = run_dir / "reports" / f"{item.name}.json"
        report = _cached(path, checkpoint, settings)
        if report is not None:
            log.info("report %s is up to date", path)
            reports[item.name] = report
            continue
        if store is None:
            store = SequenceStore.from_source(source, subjects=subjects, packed=True, min_frames=1)
            log.info("evaluating on %s", store)
        key = (item.job, item.inference)
        if key not in models:
            models[key] = load_for_inference(checkpoint, inference=item.inference, device=device)
        model, meta = models[key]
        check_input_size(meta.get("input_size"), store.frame_size, str(checkpoint))
        log.info("evaluating %s (%s)", item.name, item.label)
        report = combine_seeds([
            evaluate(
                autocast_embed(model.embed, settings["amp"], device), store, protocol,
                occlusion=settings["occlusion"], gallery_occlusion=item.gallery,
                seed=seed, metric=settings["metric"], batch_size=int(ev["batch_size"]),
                max_frames=settings["max_frames"], progress=progress,
                cache=caches.setdefault(key, {}),
            )
            for seed in _seeds(config, item)
        ])
        report = {
            "label": item.label,
            "checkpoint": str(checkpoint),
            "data": str(data_dir),
            "subjects": sorted(set(store.subjects.tolist())),
            "meta": {
                "stage": meta.get("stage"),
                "backbone": meta.get("backbone"),
                "inference": meta.get("inference"),
                "input_size": list(store.frame_size),
            },
            **report,
            "pipeline": {"name": item.name, "job": item.job, "settings": settings},
        }
        write_report(report, path)
        reports[item.name] = report
    return reports


def autocast_embed(embed: Callable[..., Any], amp: str, device: Any = None) -> Callable[..., Any]:
    """`embed` run under bfloat16 autocast on `device` (default the CPU; amp 'bf16', or 'auto' where
    the device has native bfloat16), or unchanged ('none'); the embeddings come back as float32."""
    import torch

    from mimicgait.engine.precision import resolve_amp

    if amp not in ("none", "bf16", "auto"):
        raise ConfigError(f"pipeline.eval.amp must be 'none', 'bf16' or 'auto', got {amp!r}")
    device = torch.device(device or "cpu")
    if resolve_amp(amp, device, "pipeline.eval.amp") == "none":
        return embed

    def run(sils, lengths):
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return embed(sils, lengths).float()

    return run


# -- summary -------------------------------------------------------------------------------------
def _rank1_keys(reports: Sequence[Mapping[str, Any]]) -> list[str]:
    keys: list[str] = []
    for r in reports:
        keys += [k for k in r["metrics"] if k.startswith("rank1") and k not in keys]
    return keys


def _table(rows: Sequence[tuple[str, Mapping[str, Any]]], holistic: Mapping[str, Any] | None,
           ratio_name: str = "RP") -> str:
    """Markdown: Rank-1 per probe group, then the ratio of each to the holistic teacher's."""
    from mimicgait.eval.report import fmt, markdown_table

    keys = _rank1_keys([r for _, r in rows])
    header = ["method"] + keys + ([f"{ratio_name} {k}" for k in keys] if holistic else [])
    body = []
    for label, report in rows:
        std = report.get("metrics_std") or {}
        line = [label] + [fmt(report["metrics"].get(k)) + (f" ± {fmt(std[k])}" if k in std else "")
                          for k in keys]
        if holistic:
            for k in keys:
                value, base = report["metrics"].get(k), holistic["metrics"].get(k)
                line.append(fmt(value / base if value is not None and base else None))
        body.append(line)
    return markdown_table(header, body)


def summarise(config: Mapping[str, Any], reports: Mapping[str, Mapping[str, Any]], run_dir: Path,
              data_dir: str | Path) -> str:
    """The Markdown comparison of every report (what summary.md holds)."""
    from mimicgait.eval.compare import compare_markdown

    ev = config["pipeline"]["eval"]
    items = {e.name: e for e in evaluations(config, run_dir)}
    if not reports:
        stages = ", ".join(config["pipeline"]["stages"])
        return f"# MimicGait pipeline: {run_dir}\n\nNo recognition model to evaluate (stages: {stages}).\n"
    teacher = reports.get("teacher-holistic")
    any_report = next(iter(reports.values()))
    subjects = any_report.get("subjects") or []
    span = f"{subjects[0]}-{subjects[-1]}" if subjects else "?"
    parts = [
        f"# MimicGait pipeline: {run_dir}",
        "",
        f"Data {data_dir}, {len(subjects)} evaluation subjects ({span}), protocol {any_report['protocol']}, "
        f"occlusion {ev['occlusion']} ({_seed_text(ev)}), metric {ev['metric']}. Rank-1 in %; "
        "RP = occluded Rank-1 / the teacher's holistic Rank-1.",
    ]
    paper = _select(reports, items, "same")
    parts += ["", "## Occluded probes and occluded gallery (the paper's protocol)", "",
              _table(paper, teacher)]
    hol_gal = _select(reports, items, "none")
    if hol_gal:
        parts += ["", "## Occluded probes, holistic gallery", "", _table(hol_gal, teacher)]
    held = [(items[n].label, dict(r)) for n, r in reports.items()
            if n in items and items[n].job == "mimic" and not items[n].occluded]
    if teacher is not None and held:
        kept = [(items["teacher-holistic"].label, dict(teacher)), *held]
        parts += ["", "## Holistic input: how much of the teacher's accuracy the mimic network keeps", "",
                  _table(kept, teacher, "retention")]
    columns = [(name, dict(r)) for name, r in reports.items() if name != "teacher-holistic"]
    if columns:
        parts += ["", "## Every metric (as `mimicgait compare`)", "",
                  compare_markdown(columns, [("teacher", dict(teacher))] if teacher is not None else [])]
    return "\n".join(parts) + "\n"


def _seed_text(ev: Mapping[str, Any]) -> str:
    first, draws = int(ev["seed"]), int(ev.get("seeds", 1))
    if draws == 1:
        return f"seed {first}"
    return (f"the paper's protocol: mean ± sample std over seeds {first}-{first + draws - 1}; "
            f"the other tables: seed {first}")


def _select(
    reports: Mapping[str, Mapping[str, Any]], items: Mapping[str, Evaluation], gallery: str
) -> list[tuple[str, dict[str, Any]]]:
    """(label, report) of the occluded reports with this gallery setting; the holistic teacher
    first for the paper's setting (gallery occluded too)."""
    chosen = [(items[n].label, dict(r)) for n, r in reports.items()
              if items[n].occluded and items[n].gallery == gallery]
    if gallery == "same" and "teacher-holistic" in reports:
        chosen.insert(0, (items["teacher-holistic"].label, dict(reports["teacher-holistic"])))
    return chosen


def plot_reports(
    reports: Mapping[str, Mapping[str, Any]], config: Mapping[str, Any], run_dir: Path
) -> list[Path]:
    """CMC and per-kind figures for both gallery settings, per-view maps of teacher and mimic."""
    from mimicgait.eval.plots import plot_cmc, plot_per_kind, plot_view_tables

    items = {e.name: e for e in evaluations(config, run_dir)}
    plots = run_dir / "plots"
    written: list[Path] = []
    for gallery, sub in (("same", plots), ("none", plots / "holistic-gallery")):
        chosen = _select(reports, items, gallery)
        if chosen:
            written += plot_cmc(chosen, sub) + plot_per_kind(chosen, sub)
    for name in ("teacher-holistic", "mimic"):
        if name in reports:
            written += plot_view_tables(dict(reports[name]), plots / name)
    return written


# -- the whole run ---------------------------------------------------------------------------------
def run_pipeline(
    config: dict[str, Any],
    data_dir: str | Path,
    run_dir: str | Path,
    overrides: Sequence[str] = (),
    progress: bool | None = None,
    before_job: BeforeJob | None = None,
    own_entries: Sequence[str] = (),
) -> dict[str, Any]:
    """Train, evaluate, compare. `config` is `load_config(file)` without the overrides, which are given
    separately so that they apply after `pipeline.overrides`. `progress` (if not None) turns every
    stage's and evaluation's progress bar on or off; `before_job` see `train_jobs`; `own_entries`
    names files the caller keeps in `run_dir` (the demo's data and pictures), which the check of
    `run_dir` then accepts. Returns {'jobs': status, 'reports': paths, 'summary': Markdown}."""
    run_dir = Path(run_dir)
    config = copy.deepcopy(config)
    if progress is not None:
        config["train"]["progress"] = bool(progress)
    resolved = apply_overrides(config, overrides)
    jobs = plan(resolved)  # a bad pipeline section, or no subjects to evaluate on, refused before training
    check_pipeline_dir(run_dir, data_dir, [job.name for job in jobs], own_entries)
    from mimicgait.engine.run import STAGES

    names = [job.name for job in jobs]
    for job in jobs:  # every job's settings, before the first one trains
        cfg = job_config(config, job, run_dir, overrides, names)
        check_values(cfg, where=f"pipeline job {job.name}")
        STAGES[job.stage].check_config(cfg)
    from mimicgait.data.sources import open_source

    eval_subjects(resolved, open_source(data_dir, partition=resolved["data"].get("partition")))
    autocast_embed(lambda sils, lengths: sils, resolved["pipeline"]["eval"].get("amp", "none"))
    make_output_dir(run_dir, "--out")
    with os_errors(run_dir / "pipeline.yaml", "--out"):
        save_config(resolved, run_dir / "pipeline.yaml")
    status = train_jobs(config, data_dir, run_dir, overrides, before_job)
    show = bool(resolved["train"].get("progress", True)) if progress is None else progress
    reports = evaluate_jobs(resolved, data_dir, run_dir, progress=show)
    summary = summarise(resolved, reports, run_dir, data_dir)
    (run_dir / "summary.md").write_text(summary)
    plot_reports(reports, resolved, run_dir)
    return {
        "jobs": status,
        "reports": {name: str(run_dir / "reports" / f"{name}.json") for name in reports},
        "summary": summary,
    }
