"""The pipeline's figures: CMC and per-kind curves for both gallery settings, per-view maps."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mimicgait.pipeline.evaluate import evaluations
from mimicgait.pipeline.plan import PipelinePlan
from mimicgait.pipeline.summary import select_reports


def plot_reports(
    reports: Mapping[str, Mapping[str, Any]], config: Mapping[str, Any], run_dir: Path,
    planned: PipelinePlan | None = None,
) -> list[Path]:
    """CMC and per-kind figures for both gallery settings, per-view maps of teacher and mimic."""
    from mimicgait.eval.plots import plot_cmc, plot_per_kind, plot_view_tables

    items = {e.name: e for e in evaluations(config, run_dir, planned)}
    plots = run_dir / "plots"
    written: list[Path] = []
    for gallery, sub in (("same", plots), ("none", plots / "holistic-gallery")):
        chosen = select_reports(reports, items, gallery)
        if chosen:
            written += plot_cmc(chosen, sub) + plot_per_kind(chosen, sub)
    for name in ("teacher-holistic", "mimic"):
        if name in reports:
            written += plot_view_tables(dict(reports[name]), plots / name)
    return written
