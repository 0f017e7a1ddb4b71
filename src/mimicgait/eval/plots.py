"""Figures from reports (matplotlib, Agg backend so it works without a display).

`plot_cmc`: CMC curves of several reports; `plot_per_kind`: Rank-1 per probe occlusion kind as
grouped bars; `plot_roc`: verification ROC; `plot_view_tables`: CASIA-B style per-view heat maps.
Each returns the written paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

Labelled = list[tuple[str, dict[str, Any]]]


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_cmc(reports: Labelled, out_dir: str | Path) -> list[Path]:
    """One figure per probe group with a CMC curve (rank 1..20) per report."""
    groups: dict[str, list[tuple[str, list[float]]]] = {}
    for label, report in reports:
        for group, curve in (report.get("curves", {}).get("cmc") or {}).items():
            if curve:
                groups.setdefault(group, []).append((label, curve))
    written = []
    for group, curves in groups.items():
        fig, ax = plt.subplots(figsize=(5, 4))
        for label, curve in curves:
            y = np.array([np.nan if v is None else v for v in curve], dtype=float)
            ax.plot(np.arange(1, len(y) + 1), y, marker="o", markersize=3, label=label)
        ax.set(xlabel="rank", ylabel="identification rate (%)", title=f"CMC ({group})", ylim=(0, 100))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        written.append(_save(fig, Path(out_dir) / f"cmc_{group}.png"))
    return written


def plot_per_kind(reports: Labelled, out_dir: str | Path) -> list[Path]:
    """Grouped bars: one group per (metric, occlusion kind), one bar per report."""
    keys = sorted({(k, kind) for _, r in reports for kind, m in (r.get("per_kind") or {}).items() for k in m})
    if not keys:
        return []
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(keys) * max(1, len(reports)) / 2), 4))
    width = 0.8 / max(1, len(reports))
    x = np.arange(len(keys))
    for j, (label, report) in enumerate(reports):
        per_kind = report.get("per_kind") or {}
        values = [per_kind.get(kind, {}).get(k) for k, kind in keys]
        ax.bar(x + j * width, [np.nan if v is None else v for v in values], width, label=label)
    ax.set_xticks(x + width * (len(reports) - 1) / 2, [f"{k}\n{kind}" for k, kind in keys], fontsize=8)
    ax.set(ylabel="Rank-1 (%)", title="Rank-1 by probe occlusion kind", ylim=(0, 100))
    ax.legend(fontsize=8)
    return [_save(fig, Path(out_dir) / "per_kind.png")]


def plot_roc(reports: Labelled, out_dir: str | Path) -> list[Path]:
    """Verification ROC (log FAR axis) of every report that has one."""
    curves = []
    for label, r in reports:
        rocs = r.get("curves", {}).get("roc") or {}
        named = [(f"{label} {group}" if len(rocs) > 1 else label, c) for group, c in rocs.items()]
        curves += [(name, c) for name, c in named if c["far"]]
    if not curves:
        return []
    fig, ax = plt.subplots(figsize=(5, 4))
    for label, c in curves:
        ax.plot(c["far"], c["tar"], label=label)
    ax.set_xscale("log")
    ax.set(xlabel="FAR (%)", ylabel="TAR (%)", title="ROC", ylim=(0, 100))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return [_save(fig, Path(out_dir) / "roc.png")]


def plot_view_tables(report: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Heat map of Rank-1 per (probe view, gallery view) for each probe group of a cross-view report."""
    written = []
    for group, table in (report.get("tables") or {}).items():
        values = np.array([[np.nan if v is None else v for v in row] for row in table["rank1"]], dtype=float)
        views = table["views"]
        fig, ax = plt.subplots(figsize=(1 + 0.5 * len(views), 0.8 + 0.45 * len(views)))
        im = ax.imshow(values, vmin=0, vmax=100, cmap="viridis")
        ax.set_xticks(range(len(views)), views, rotation=90, fontsize=7)
        ax.set_yticks(range(len(views)), views, fontsize=7)
        ax.set(xlabel="gallery view", ylabel="probe view", title=f"Rank-1 {group}")
        fig.colorbar(im, ax=ax, fraction=0.046)
        written.append(_save(fig, Path(out_dir) / f"views_{group}.png"))
    return written


def plot_all(reports: Labelled, out_dir: str | Path) -> list[Path]:
    """Every figure that the reports have data for."""
    written = plot_cmc(reports, out_dir) + plot_per_kind(reports, out_dir) + plot_roc(reports, out_dir)
    if len(reports) == 1:
        written += plot_view_tables(reports[0][1], out_dir)
    return written
