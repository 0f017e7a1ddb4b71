"""Evaluation reports: one JSON file per run, readable by `compare` and by people.

A report is a plain dict (see `evaluate.evaluate`) with, at least, `protocol` and `metrics` (flat
keys such as `rank1.NM` or `rank1`, values in percent). The eval command adds `checkpoint`, `data`,
`meta` (stage, backbone, inference mode, input size) and an optional `label` used as the column
name by `compare`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mimicgait.errors import UserError
from mimicgait.io import check_output_file, write_atomic

REQUIRED = ("protocol", "metrics")


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    """Write the report as indented JSON, atomically (a partial file never replaces a good one)."""
    text = json.dumps(report, indent=2, sort_keys=False, allow_nan=False) + "\n"
    return write_atomic(path, lambda f: f.write(text.encode()))


def is_report(path: str | Path) -> bool:
    """Whether `path` holds a mimicgait report (so writing a new report over it loses nothing of the
    user's own: it is the output of an earlier evaluation)."""
    try:
        load_report(path)
    except (UserError, OSError):
        return False
    return True


def check_report_path(path: str | Path, what: str = "--json") -> Path:
    """Check, before an evaluation, that its report can be written to `path`: not a directory, a
    writable location, and no existing file other than an earlier report (which is replaced)."""
    return check_output_file(path, what=what, replaceable=is_report)


def load_report(path: str | Path) -> dict[str, Any]:
    """Read and shape-check a report; errors name the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"report {path} not found; write one with `mimicgait eval ... --json {path}`")
    try:
        report = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"report {path} is not valid JSON: {err}") from err
    if not isinstance(report, dict) or any(k not in report for k in REQUIRED):
        raise UserError(
            f"report {path} lacks {' and '.join(REQUIRED)}; is it a `mimicgait eval --json` file?"
        )
    if not isinstance(report["metrics"], dict):
        raise UserError(f"report {path}: 'metrics' must be an object of flat metric keys")
    return report


def report_label(report: dict[str, Any], path: str | Path | None = None) -> str:
    """Column label: the report's `label` field, else the file name without extension."""
    label = report.get("label")
    if label:
        return str(label)
    return Path(path).stem if path is not None else str(report.get("protocol", "report"))


#: Below these a figure is reported with a warning: with fewer evaluation subjects a difference of a
#: few points is within the spread between runs; a TAR at FAR f needs about this many false accepts
#: (impostor pairs x f) at its threshold to be more than a handful of pairs' verdict.
MIN_SUBJECTS = 10
MIN_FALSE_ACCEPTS = 10


def is_count(key: str) -> bool:
    """Whether a flat metric key is a count (printed as a whole number, not with decimals)."""
    return key.endswith(("_pairs", "_count", "_sequences"))


def fmt(value: Any, digits: int = 2, count: bool = False) -> str:
    """A metric value for a table: fixed decimals (a whole number for a count), '-' for missing or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if count and isinstance(value, (int, float)):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def reliability_warnings(report: dict[str, Any]) -> list[str]:
    """Warnings for figures that rest on too few subjects or impostor pairs (see `MIN_SUBJECTS`)."""
    out = []
    subjects = report.get("subjects")
    if isinstance(subjects, list) and 0 < len(subjects) < MIN_SUBJECTS:
        out.append(f"the figures rest on {len(subjects)} evaluation subjects (fewer than {MIN_SUBJECTS}): "
                   "differences of a few points are within noise")
    metrics = report.get("metrics") or {}
    for key, value in metrics.items():
        match = re.match(r"^tar@far=([0-9.]+(?:e[-+]?\d+)?)(\.[A-Za-z].*)?$", key)
        if match is None or value is None:
            continue
        far, suffix = float(match.group(1)), match.group(2) or ""
        pairs = metrics.get(f"impostor_pairs{suffix}", metrics.get("impostor_pairs"))
        if pairs is not None and pairs * far < MIN_FALSE_ACCEPTS:
            out.append(f"{key} rests on {int(pairs)} impostor pairs ({pairs * far:.1f} false accepts at its "
                       f"threshold, fewer than {MIN_FALSE_ACCEPTS}): not a reliable figure")
    return out


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def format_report(report: dict[str, Any]) -> str:
    """Human-readable Markdown: settings, the flat metrics, per-kind Rank-1 and per-view tables."""
    occ = report.get("occlusion", {})
    kinds = ",".join(occ.get("kinds") or []) or "none"
    parts = [
        f"## {report.get('label') or report['protocol']}",
        f"protocol {report['protocol']}, metric {report.get('metric', '?')}, occlusion {kinds} "
        f"(gallery {occ.get('gallery', 'none')}, seed {occ.get('seed', report.get('seed'))})",
        "",
        markdown_table(["metric", "value"],
                       [[k, fmt(v, count=is_count(k))] for k, v in report["metrics"].items()]),
    ]
    per_kind = report.get("per_kind") or {}
    if len(per_kind) > 1 or (per_kind and "none" not in per_kind):
        keys = sorted({k for v in per_kind.values() for k in v})
        rows = [[kind] + [fmt(per_kind[kind].get(k)) for k in keys] for kind in sorted(per_kind)]
        parts += ["", "Rank-1 by probe occlusion kind", "", markdown_table(["kind"] + keys, rows)]
    for group, table in (report.get("tables") or {}).items():
        views = table["views"]
        rows = [[pv] + [fmt(v, 1) for v in row] + [fmt(table["rank1_per_probe_view"].get(pv), 1)]
                for pv, row in zip(views, table["rank1"], strict=True)]
        parts += ["", f"{group}: Rank-1 per probe view (rows) x gallery view (columns); mean excludes "
                  "identical views", "", markdown_table(["probe \\ gallery"] + views + ["mean"], rows)]
    for w in [*(report.get("warnings") or []), *reliability_warnings(report)]:
        parts.append(f"\nwarning: {w}")
    return "\n".join(parts)


def combine_seeds(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report from the same evaluation under several occlusion seeds: the first report with
    `metrics` the mean over seeds, `metrics_std` their sample standard deviation, `seeds` and
    `per_seed` (each seed's metrics). A single report is returned unchanged."""
    import statistics

    if len(reports) == 1:
        return reports[0]
    keys = [k for k, v in reports[0]["metrics"].items()
            if isinstance(v, (int, float)) and all(r["metrics"].get(k) is not None for r in reports)]
    values = {k: [float(r["metrics"][k]) for r in reports] for k in keys}
    return {
        **reports[0],
        "metrics": {k: statistics.mean(v) for k, v in values.items()},
        "metrics_std": {k: statistics.stdev(v) for k, v in values.items()},
        "seeds": [r["seed"] for r in reports],
        "per_seed": [{"seed": r["seed"], "metrics": r["metrics"]} for r in reports],
    }


def with_provenance(report: dict[str, Any], *, label: str | None, checkpoint: str, data: str,
                    subjects: Sequence[str], meta: dict[str, Any], frame_size: Sequence[int],
                    model_keys: Sequence[str] = ("stage", "backbone", "inference")) -> dict[str, Any]:
    """`evaluate`'s report with what it scored: label, model and data paths, subjects, and the
    model's `meta` entries named by `model_keys` (plus the frames' size) under 'meta'."""
    return {
        "label": label,
        "checkpoint": checkpoint,
        "data": data,
        "subjects": sorted(set(subjects)),
        "meta": {**{key: meta.get(key) for key in model_keys}, "input_size": list(frame_size)},
        **report,
    }
