"""Several reports side by side, with relative performance against holistic reports.

RP (the paper's "relative performance") = occluded score / holistic score of the same backbone.
A holistic report is matched to an occluded one by `meta.backbone`; when backbones are unknown and
exactly one holistic report is given, it serves every column. RP is computed for rank, mAP and
mINP keys that both reports have.
"""

from __future__ import annotations

from typing import Any

from mimicgait.errors import UserError
from mimicgait.eval.report import fmt, markdown_table, reliability_warnings

Labelled = list[tuple[str, dict[str, Any]]]
RP_PREFIXES = ("rank", "mAP", "mINP")


def backbone(report: dict[str, Any]) -> str | None:
    return (report.get("meta") or {}).get("backbone")


def match_holistic(report: dict[str, Any], holistic: Labelled) -> dict[str, Any] | None:
    """The holistic report of the same backbone (or the only one, when backbones are unknown)."""
    name = backbone(report)
    same = [r for _, r in holistic if name is not None and backbone(r) == name]
    if same:
        return same[0]
    if len(holistic) == 1 and (name is None or backbone(holistic[0][1]) is None):
        return holistic[0][1]
    return None


def relative_performance(report: dict[str, Any], holistic: dict[str, Any]) -> dict[str, float | None]:
    """RP per shared rank/mAP/mINP key: occluded / holistic (None where the holistic score is 0 or absent)."""
    out: dict[str, float | None] = {}
    for key, value in report["metrics"].items():
        if not key.startswith(RP_PREFIXES):
            continue
        base = holistic["metrics"].get(key)
        out[key] = value / base if value is not None and base else None
    return out


def _metric_keys(reports: Labelled) -> list[str]:
    keys: list[str] = []
    for _, r in reports:
        keys += [k for k in r["metrics"] if k not in keys]
    return keys


def compare_markdown(reports: Labelled, holistic: Labelled = ()) -> str:
    """Markdown: a metrics table (reports then holistic as columns, RP rows) and a per-kind table."""
    holistic = list(holistic)
    columns = list(reports) + [(f"{label} (holistic)", r) for label, r in holistic]
    if not columns:
        raise UserError("nothing to compare: give at least one report")
    protocols = sorted({str(r.get("protocol")) for _, r in columns})
    keys = _metric_keys(columns)
    header = ["metric"] + [label for label, _ in columns]
    rows = [[key] + [fmt(r["metrics"].get(key)) for _, r in columns] for key in keys]
    rps = [relative_performance(r, h) if (h := match_holistic(r, holistic)) else {} for _, r in reports]
    rp_keys = [k for k in keys if any(k in rp for rp in rps)]
    rows += [[f"RP {key}"] + [fmt(rp.get(key)) for rp in rps] + ["-"] * len(holistic) for key in rp_keys]
    settings = [
        ["occlusion"] + [",".join((r.get("occlusion") or {}).get("kinds") or []) or "none"
                         for _, r in columns],
        ["gallery occl."] + [str((r.get("occlusion") or {}).get("gallery", "none")) for _, r in columns],
        ["backbone"] + [str(backbone(r) or "?") for _, r in columns],
        ["stage"] + [str((r.get("meta") or {}).get("stage") or "?") for _, r in columns],
    ]
    parts = [f"Protocol: {', '.join(protocols)}", "", markdown_table(header, settings + rows)]
    if len(protocols) > 1:
        parts.insert(1, "\nwarning: the reports use different protocols; their scores are not comparable")
    kinds = sorted({kind for _, r in reports for kind in (r.get("per_kind") or {}) if kind != "none"})
    if kinds:
        kind_keys = sorted({k for _, r in reports for m in (r.get("per_kind") or {}).values() for k in m})
        kind_rows = [
            [f"{key} @ {kind}"] + [fmt((r.get("per_kind") or {}).get(kind, {}).get(key)) for _, r in reports]
            for kind in kinds for key in kind_keys
        ]
        parts += ["", "Rank-1 by probe occlusion kind", "",
                  markdown_table(["metric"] + [label for label, _ in reports], kind_rows)]
    missing = [label for (label, _), rp in zip(reports, rps, strict=True) if holistic and not rp]
    if missing:
        parts.append(f"\nno holistic report of the same backbone for: {', '.join(missing)} (RP left blank)")
    warned: dict[str, list[str]] = {}  # one line per warning, naming the columns it applies to
    for label, r in columns:
        for text in reliability_warnings(r):
            warned.setdefault(text, []).append(label)
    for text, labels in warned.items():
        where = "every column" if len(labels) == len(columns) else ", ".join(labels)
        parts.append(f"\nwarning ({where}): {text}")
    return "\n".join(parts)
