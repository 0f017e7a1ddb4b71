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
    """Rank-1 per probe occlusion kind: one panel per Rank-1 metric (probe group), kinds along x,
    one bar per report that has the value. Nothing is drawn when no report has an occluded kind
    (an evaluation without occlusion has only 'none', which the metrics table already shows)."""
    per_kind = [(label, r.get("per_kind") or {}) for label, r in reports]
    kinds = sorted({kind for _, pk in per_kind for kind in pk}, key=lambda k: (k != "none", k))
    if not [k for k in kinds if k != "none"]:
        return []
    metrics = sorted({m for _, pk in per_kind for values in pk.values() for m in values
                      if m.startswith("rank1")})
    shown = [(label, pk) for label, pk in per_kind if any(pk.values())]
    if not metrics or not shown:
        return []
    width = 0.8 / len(shown)
    size = (min(12.0, 2.0 + 0.35 * len(kinds) * len(shown)), 1.0 + 2.4 * len(metrics))
    fig, axes = plt.subplots(len(metrics), 1, squeeze=False, figsize=size)
    x = np.arange(len(kinds))
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        for j, (label, pk) in enumerate(shown):
            values = [pk.get(kind, {}).get(metric) for kind in kinds]
            ax.bar(x + j * width, [np.nan if v is None else v for v in values], width, label=label)
        ax.set_xticks(x + width * (len(shown) - 1) / 2, kinds, fontsize=8)
        ax.set(ylabel="Rank-1 (%)", title=metric, ylim=(0, 100))
        ax.grid(alpha=0.3, axis="y")
    axes[0, 0].legend(fontsize=7, ncol=min(4, len(shown)))
    fig.suptitle("Rank-1 by probe occlusion kind", fontsize=10)
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
        if values.shape[0] == values.shape[1]:
            np.fill_diagonal(values, np.nan)  # identical views are excluded from the means: not drawn
        fig, ax = plt.subplots(figsize=(1.5 + 0.55 * len(views), 1.0 + 0.5 * len(views)))
        cmap = plt.get_cmap("viridis").with_extremes(bad="white")
        im = ax.imshow(np.ma.masked_invalid(values), vmin=0, vmax=100, cmap=cmap)
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=6,
                        color="black" if v > 60 else "white")
        ax.set_xticks(range(len(views)), views, rotation=90, fontsize=7)
        ax.set_yticks(range(len(views)), views, fontsize=7)
        ax.set(xlabel="gallery view", ylabel="probe view", title=f"Rank-1 {group} (identical views excluded)")
        fig.colorbar(im, ax=ax, fraction=0.046)
        written.append(_save(fig, Path(out_dir) / f"views_{group}.png"))
    return written


def plot_all(reports: Labelled, out_dir: str | Path) -> list[Path]:
    """Every figure that the reports have data for."""
    written = plot_cmc(reports, out_dir) + plot_per_kind(reports, out_dir) + plot_roc(reports, out_dir)
    if len(reports) == 1:
        written += plot_view_tables(reports[0][1], out_dir)
    return written
