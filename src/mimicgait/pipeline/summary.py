"""summary.md: the Markdown comparison of a pipeline's reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mimicgait.pipeline.evaluate import Evaluation, evaluations
from mimicgait.pipeline.plan import PipelinePlan


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
              data_dir: str | Path, planned: PipelinePlan | None = None) -> str:
    """The Markdown comparison of every report (what summary.md holds)."""
    from mimicgait.eval.compare import compare_markdown

    ev = config["pipeline"]["eval"]
    items = {e.name: e for e in evaluations(config, run_dir, planned)}
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
    paper = select_reports(reports, items, "same")
    parts += ["", "## Occluded probes and occluded gallery (the paper's protocol)", "",
              _table(paper, teacher)]
    for kinds in dict.fromkeys(e.occlusion for e in items.values() if e.occlusion):
        other = [(items[n].label, dict(r)) for n, r in reports.items() if items[n].occlusion == kinds]
        parts += ["", f"## Occluded by {kinds} instead (`pipeline.eval.also_occlusion`), probe and gallery",
                  "", _table(other, teacher)]
    hol_gal = select_reports(reports, items, "none")
    if hol_gal:
        parts += ["", "## Occluded probes, holistic gallery", "", _table(hol_gal, teacher)]
    held = [(items[n].label, dict(r)) for n, r in reports.items()
            if n in items and n != "teacher-holistic" and not items[n].occluded]
    if teacher is not None and held:
        kept = [(items["teacher-holistic"].label, dict(teacher)), *held]
        parts += ["", "## Holistic input: how much of the teacher's accuracy each model keeps", "",
                  _table(kept, teacher, "retention")]
    columns = [(name, dict(r)) for name, r in reports.items() if name != "teacher-holistic"]
    if columns:
        parts += ["", "## Every metric (as `mimicgait compare`)", "",
                  compare_markdown(columns, [("teacher", dict(teacher))] if teacher is not None else [])]
    return "\n".join(parts) + "\n"


def _seed_text(ev: Mapping[str, Any]) -> str:
    first, draws = int(ev["seed"]), int(ev["seeds"])
    if draws == 1:
        return f"seed {first}"
    return f"occluded probes: mean ± sample std over the draws of seeds {first}-{first + draws - 1}"


def select_reports(
    reports: Mapping[str, Mapping[str, Any]], items: Mapping[str, Evaluation], gallery: str
) -> list[tuple[str, dict[str, Any]]]:
    """(label, report) of the occluded reports with this gallery setting; the holistic teacher
    first for the paper's setting (gallery occluded too)."""
    chosen = [(items[n].label, dict(r)) for n, r in reports.items()
              if items[n].occluded and items[n].gallery == gallery and items[n].occlusion is None]
    if gallery == "same" and "teacher-holistic" in reports:
        chosen.insert(0, (items["teacher-holistic"].label, dict(reports["teacher-holistic"])))
    return chosen
