"""The pipeline's reports: which ones, on which subjects, under which settings, cached by settings."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mimicgait.errors import UserError
from mimicgait.pipeline.plan import LABELS, PipelinePlan, job_config, plan

log = logging.getLogger(__name__)

#: Report stem and label of each inference mode of the mimic network.
MIMIC_MODES = {
    "guided": ("mimic", "Mimic"),
    "student": ("mimic-student", "Mimic (student)"),
    "routed": ("mimic-routed", "Mimic (routed)"),
}


@dataclass
class Evaluation:
    """One report: which job's model, in which inference mode, under which occlusion."""

    name: str
    job: str
    label: str
    occluded: bool
    gallery: str = "same"  # 'same': gallery occluded too (the paper); 'none': holistic gallery
    inference: str | None = None  # mimic: 'guided' or 'student'
    occlusion: str | None = None  # kinds other than pipeline.eval.occlusion (pipeline.eval.also_occlusion)


def evaluations(config: Mapping[str, Any], run_dir: Path, planned: PipelinePlan | None = None
                ) -> list[Evaluation]:
    """The reports this pipeline produces, given which jobs it has (from `planned` when the caller
    has resolved the pipeline already)."""
    jobs = planned.jobs if planned is not None else plan(config)
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
            if job != "teacher":  # what training on occluded input costs on holistic input
                out.append(Evaluation(f"{_report_name(job)}-holistic", job, f"{LABELS[job]} (holistic)",
                                      occluded=False))
    if "mimic" in names:
        mimic_job = next(j for j in jobs if j.name == "mimic")
        mimic_config = (planned.configs["mimic"] if planned is not None
                        else job_config(dict(config), mimic_job, run_dir))
        guided = bool(mimic_config["mimic"]["guidance"])
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
    return out + other_occlusions(config, out)


def other_occlusions(config: Mapping[str, Any], base: Sequence[Evaluation]) -> list[Evaluation]:
    """Every paper-protocol report again under each kind set of `pipeline.eval.also_occlusion` (e.g.
    [crowd, object, cut]: how models trained on one occlusion generalise to others), named
    `<report>-on-<kinds>`."""
    from mimicgait.eval.evaluate import parse_kinds

    out = []
    for kinds in config["pipeline"]["eval"].get("also_occlusion") or []:
        text = ",".join(parse_kinds(str(kinds)))
        if not text:
            raise UserError(f"pipeline.eval.also_occlusion: {kinds!r} names no occlusion kind")
        tag = text.replace(",", "+")
        out += [replace(e, name=f"{e.name}-on-{tag}", label=f"{e.label} [{text}]", occlusion=text)
                for e in base if e.occluded and e.gallery == "same"]
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
    if ev["subjects"]:
        return parse_subjects(ev["subjects"], "pipeline.eval.subjects") or []
    if ev["split"]:
        if source.partition is None:
            raise UserError(f"pipeline.eval.split={ev['split']!r} but {source.root} has no partition file; "
                             "set pipeline.eval.subjects instead")
        return split_subjects(source.partition, ev["split"], source.subjects())
    test = list((source.partition or {}).get("TEST_SET") or [])
    if test and set(test) <= set(source.subjects()):
        return test
    val = parse_subjects(config["data"]["val_subjects"], "data.val_subjects")
    if not val:
        raise UserError(
            "the pipeline has no subjects to evaluate on: set data.val_subjects (held out of training), "
            "pipeline.eval.subjects or pipeline.eval.split in the config, or give data with a "
            "partition file whose TEST_SET subjects are present"
        )
    return val


def _seeds(config: Mapping[str, Any], item: Evaluation) -> list[int]:
    """The occlusion seeds of a report: `pipeline.eval.seeds` draws for occluded probes (the
    holistic gallery setting reuses the paper protocol's probe embeddings of each draw); one for
    holistic input, which no seed changes."""
    ev = config["pipeline"]["eval"]
    draws = int(ev["seeds"]) if item.occluded else 1
    return [int(ev["seed"]) + i for i in range(draws)]


def _settings(config: Mapping[str, Any], item: Evaluation, subjects: Sequence[str]) -> dict[str, Any]:
    ev = config["pipeline"]["eval"]
    seeds = _seeds(config, item)
    extra = {"seeds": seeds} if len(seeds) > 1 else {}
    return {
        "protocol": config["val"]["protocol"],
        "occlusion": (item.occlusion or ev["occlusion"]) if item.occluded else "none",
        "gallery": item.gallery if item.occluded else "none",
        "seed": int(ev["seed"]),
        "metric": ev["metric"],
        "inference": item.inference,
        "max_frames": ev["max_frames"],
        "amp": ev["amp"],
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
    planned: PipelinePlan, data_dir: str | Path, run_dir: Path, progress: bool = True, source: Any = None
) -> dict[str, dict[str, Any]]:
    """Write every report of `evaluations` to RUN_DIR/reports (reusing up-to-date ones); returns them.
    `source`: the dataset, when the caller has opened it already.

    Model by model: each model (job, inference mode) is loaded once, its reports are evaluated
    holistic first and then occlusion draw by draw, so each pass over the data is embedded once
    (`eval.passes.ModelPasses`), and the model and its embeddings are let go before the next one."""
    from mimicgait.data.sources import open_dataset
    from mimicgait.data.store import SequenceStore
    from mimicgait.models.checkpoint import resolve_checkpoint

    config = planned.resolved
    if source is None:
        source = open_dataset(data_dir, partition=config["data"]["partition"])
    subjects = eval_subjects(config, source)
    reports: dict[str, dict[str, Any]] = {}
    todo: dict[tuple[str, str | None], list[tuple[Evaluation, Path, dict[str, Any], Path]]] = {}
    items = evaluations(config, run_dir, planned)
    for item in items:
        checkpoint = resolve_checkpoint(run_dir / item.job, f"pipeline job {item.job}")
        settings = _settings(config, item, subjects)
        path = run_dir / "reports" / f"{item.name}.json"
        report = _cached(path, checkpoint, settings)
        if report is not None:
            log.info("report %s is up to date", path)
            reports[item.name] = report
        else:
            todo.setdefault((item.job, item.inference), []).append((item, checkpoint, settings, path))
    if todo:
        store = SequenceStore.from_dataset(source, subjects=subjects, packed=True, min_frames=1)
        log.info("evaluating on %s", store)
        for jobs in todo.values():
            reports.update(_evaluate_model(config, jobs, store, str(data_dir), progress))
    return {item.name: reports[item.name] for item in items}


def _draw(settings: Mapping[str, Any], seed: int) -> Any:
    """What a report's probes are embedded under: None for holistic input, else (kinds, seed)."""
    from mimicgait.eval.evaluate import parse_kinds

    kinds = parse_kinds(settings["occlusion"])
    return (kinds, seed) if kinds else None


def _evaluate_model(config: Mapping[str, Any], jobs: list[tuple[Evaluation, Path, dict[str, Any], Path]],
                    store: Any, data_dir: str, progress: bool) -> dict[str, dict[str, Any]]:
    """Write the reports of one model (all `jobs` share its job and inference mode); returns them."""
    from mimicgait.deploy.recognizer import resolve_device
    from mimicgait.engine.precision import autocast_embed
    from mimicgait.eval.evaluate import check_input_size, evaluate_passes
    from mimicgait.eval.passes import ModelPasses
    from mimicgait.eval.protocols import build_protocol
    from mimicgait.eval.report import combine_seeds, with_provenance, write_report
    from mimicgait.models.checkpoint import load_for_inference

    ev = config["pipeline"]["eval"]
    device = resolve_device(ev["device"] or config["train"]["device"])
    protocol = build_protocol(config["val"]["protocol"])
    first, checkpoint, settings, _ = jobs[0]
    model, meta = load_for_inference(checkpoint, inference=first.inference, device=device)
    check_input_size(meta.get("input_size"), store.frame_size, str(checkpoint))
    passes = ModelPasses(autocast_embed(model.embed, settings["amp"], device), store,
                         int(ev["batch_size"]), settings["max_frames"], progress)
    runs = [(_draw(jobs[n][2], seed), n, seed) for n, (item, _, _, _) in enumerate(jobs)
            for seed in _seeds(config, item)]
    order: dict[Any, int] = {None: -1}  # holistic passes first, then each draw in turn
    for draw, _, _ in runs:
        order.setdefault(draw, len(order))
    runs.sort(key=lambda run: order[run[0]])
    per_seed: dict[int, dict[int, dict[str, Any]]] = {n: {} for n in range(len(jobs))}
    for _, n, seed in runs:
        item, _, settings, _ = jobs[n]
        if not per_seed[n]:
            log.info("evaluating %s (%s)", item.name, item.label)
        per_seed[n][seed] = evaluate_passes(passes, protocol, settings["occlusion"], item.gallery, seed,
                                            settings["metric"])
    out = {}
    for n, (item, checkpoint, settings, path) in enumerate(jobs):
        report = combine_seeds([per_seed[n][seed] for seed in _seeds(config, item)])
        report = {
            **with_provenance(report, label=item.label, checkpoint=str(checkpoint), data=data_dir,
                              subjects=store.subjects.tolist(), meta=meta, frame_size=store.frame_size),
            "pipeline": {"name": item.name, "job": item.job, "settings": settings},
        }
        write_report(report, path)
        out[item.name] = report
    return out
