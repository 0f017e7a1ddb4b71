"""Render the wild-occlusion results of a `configs/casia-b/cpu-wild.yaml` run as Markdown.

Generalisation: the recipe's models, trained with top+bottom occlusion, evaluated under `crowd`,
`object` and `cut` (the reports `RUN/reports/<name>-on-<kind>.json` that
`pipeline.eval.also_occlusion` writes) beside top+bottom (`<name>.json`). Adaptability: the mimic
and Baseline-2 trained with all five kinds in the policy (`mimic-wild`, `baseline-wild`), on the
same table. Per cell: Rank-1 mean ± sample std over the occlusion draws; then RP (occluded Rank-1
over the teacher's holistic Rank-1); then the mimic's lead over each fair control, draw by draw
(the same occlusions for both); and the share of frames each kind dropped (hidden beyond the
limit). Prints the whole file; the reading comes from `--notes FILE`.

    mimicgait pipeline --config configs/casia-b/cpu-wild.yaml --data D --out RUN
    python benchmarks/wild_results.py --run RUN --notes benchmarks/results/casia-b-wild-reading.md \
        > benchmarks/results/casia-b-wild.md
    python benchmarks/wild_results.py --run RUN --brief     # the README's table: NM, every model and kind
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from casia_b_results import GROUPS, fmt_diff, paired, rank1, ratio, time_log, train_minutes, with_spread

from mimicgait.eval.report import fmt, markdown_table

KINDS = ("top+bottom", "crowd", "object", "cut")
#: (row label, report name) of the zero-shot models and of the models trained on every kind.
ZERO_SHOT = [
    ("Baseline-1 (the teacher)", "baseline1"),
    ("Baseline-2", "baseline2"),
    ("Occlusion-Aware", "occ-aware"),
    ("Mimic (guided, the paper)", "mimic"),
    ("Mimic (routed, shipped)", "mimic-routed"),
]
ADAPTED = [
    ("Baseline-2, trained on all kinds", "baseline-wild"),
    ("Mimic (guided), trained on all kinds", "mimic-wild"),
]
LABELS = {name: label for label, name in ZERO_SHOT + ADAPTED}
#: The mimic's lead over each fair control: (mimic report, control report).
LEADS = [("mimic", "baseline2"), ("mimic", "occ-aware"), ("mimic-wild", "baseline-wild")]


def report_name(name: str, kind: str) -> str:
    return name if kind == "top+bottom" else f"{name}-on-{kind}"


def load(run: Path, name: str) -> dict[str, Any] | None:
    path = run / "reports" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def kind_table(run: Path, kind: str, rows: list[tuple[str, str]], teacher: list[float | None]) -> str:
    """Rank-1 mean ± std and RP per group for each model under one kind."""
    body = []
    for label, name in rows:
        report = load(run, report_name(name, kind))
        if report is None:
            body.append([label, *["(missing)"] * (2 * len(GROUPS))])
            continue
        rp = ratio(rank1(report), teacher)
        body.append([label, *with_spread(report), *[fmt(v, 2) for v in rp]])
    header = ["model", *[f"{g} Rank-1" for g in GROUPS], *[f"{g} RP" for g in GROUPS]]
    return markdown_table(header, body)


def lead_table(run: Path) -> str:
    """Per kind, the mimic minus the control, Rank-1 points, mean ± std over the shared draws."""
    body = []
    for mine, control in LEADS:
        for kind in KINDS:
            a, b = load(run, report_name(mine, kind)), load(run, report_name(control, kind))
            if a is None or b is None:
                continue
            body.append([f"{LABELS[mine]} - {LABELS[control]}", kind, *[fmt_diff(d) for d in paired(a, b)]])
    return markdown_table(["comparison", "occlusion", *GROUPS], body)


def dropped_table(run: Path) -> str:
    """Share of probe and gallery frames each kind dropped (Baseline-1's reports: the same draws
    for every model, since an evaluation occlusion is a function of seed and sequence)."""
    body = []
    for kind in KINDS:
        report = load(run, report_name("baseline1", kind))
        if report is None:
            continue
        counts = report["counts"]
        dropped, frames = counts.get("dropped_frames") or {}, counts.get("frames") or {}
        share = [f"{100 * dropped.get(r, 0) / frames[r]:.1f} %" if frames.get(r) else "-"
                 for r in ("probe", "gallery")]
        body.append([kind, *share])
    return markdown_table(["occlusion", "probe frames dropped", "gallery frames dropped"], body)


def brief_table(run: Path) -> str:
    """NM Rank-1 (mean ± std) of every model under every kind: the README's short table."""
    body = []
    for label, name in ZERO_SHOT + ADAPTED:
        cells = []
        for kind in KINDS:
            report = load(run, report_name(name, kind))
            cells.append(with_spread(report)[0] if report is not None else "-")
        body.append([label, *cells])
    return markdown_table(["model (NM Rank-1, %)", *KINDS], body)


def render(run: Path, notes: str, time_text: str, command: str) -> str:
    teacher_report = load(run, "teacher-holistic")
    teacher = rank1(teacher_report)
    any_report = load(run, "baseline1") or {}
    settings = (any_report.get("pipeline") or {}).get("settings") or {}
    subjects = settings.get("subjects") or []
    seeds = settings.get("seeds") or []
    jobs = [[name, f"{minutes:.1f}", f"{step:.2f}", str(steps)]
            for name in ("ven-wild", "mimic-wild", "baseline-wild")
            if (run / name / "log.jsonl").is_file()
            for minutes, step, steps in [train_minutes(run / name / "log.jsonl")]]
    parts = [
        "# Occlusion in the wild on CASIA-B: generalisation and adaptability (2-core CPU recipe)",
        "",
        f"Produced by `{command}` from the run of `configs/casia-b/cpu-wild.yaml` "
        f"({time_text or 'time log not given'}). Validation subjects "
        f"{subjects[0] if subjects else '?'}-{subjects[-1] if subjects else '?'} ({len(subjects)} subjects, "
        f"none seen in training), the paper's CASIA-B protocol (probe and gallery occluded), "
        f"{len(seeds)} occlusion draws (seeds {', '.join(map(str, seeds))}): Rank-1 in %, mean ± sample "
        "std over the draws; RP = Rank-1 / the teacher's holistic Rank-1 "
        f"({', '.join(fmt(v) for v in teacher)} for NM, BG, CL).",
        "",
        "Zero-shot models: the recipe's, trained with top and bottom occlusion only. Adapted models: "
        "trained with top, bottom, crowd, object and cut in equal shares, from the same teacher, with "
        "the same optimiser, steps and data as their zero-shot counterparts; the mimic's VEN retrained "
        "on the same five kinds with the recipe's VEN budget.",
        "",
        markdown_table(["job", "minutes", "s/step", "steps"], jobs) if jobs else "",
    ]
    for kind in KINDS:
        parts += ["", f"## {kind}", "", kind_table(run, kind, ZERO_SHOT + ADAPTED, teacher)]
    parts += ["", "## The mimic against its fair controls, draw by draw", "",
              "Rank-1 points, mean ± sample std of the per-draw differences (both models see the same "
              "occlusions in each draw).", "", lead_table(run),
              "", "## Frames dropped (more than 80 % hidden)", "", dropped_table(run)]
    if notes:
        parts += ["", notes.strip()]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="run directory of cpu-wild.yaml")
    parser.add_argument("--notes", type=Path, help="Markdown appended as the reading")
    parser.add_argument("--time-log", type=Path, help="`/usr/bin/time -v` output of the pipeline")
    parser.add_argument("--brief", action="store_true", help="only the NM table of every model and kind")
    args = parser.parse_args(argv)
    if not (args.run / "reports").is_dir():
        print(f"wild_results: {args.run}/reports not found; give --run RUN of configs/casia-b/cpu-wild.yaml",
              file=sys.stderr)
        return 2
    if args.brief:
        print(brief_table(args.run))
        return 0
    notes = args.notes.read_text() if args.notes else ""
    given = argv if argv is not None else sys.argv[1:]
    command = shlex.join(["python", "benchmarks/wild_results.py", *given])
    sys.stdout.write(render(args.run, notes, time_log(args.time_log), command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
