"""Averaging a cross-view protocol's results (CASIA-B, OU-MVLP) as OpenGait does.

Rank-k is computed for every (probe view, gallery view) pair; for each probe view the pairs with a
different gallery view are averaged, then the probe views are averaged. Cells with no probes or no
gallery are NaN and left out of the means (and written as null: JSON has no NaN).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from mimicgait.eval.metrics import ProbeStats, cmc, summarise

#: Length of the CMC curves in reports.
CMC_RANKS = 20


def cross_view_tables(
    stats: dict[tuple[str, str], ProbeStats], views: list[str], ranks: Sequence[int]
) -> dict[str, Any]:
    """Per view pair Rank-k tables and the OpenGait means (identical views excluded)."""
    out: dict[str, Any] = {"views": views}
    for k in ranks:
        table = np.full((len(views), len(views)), np.nan)
        for (pv, gv), s in stats.items():
            if len(s):
                table[views.index(pv), views.index(gv)] = summarise(s, (k,))[f"rank{k}"]
        off = table.copy()
        np.fill_diagonal(off, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # empty rows are expected: NaN
            per_view = np.nanmean(off, axis=1) if len(views) > 1 else np.full(len(views), np.nan)
            mean = float(np.nanmean(per_view)) if np.isfinite(per_view).any() else float("nan")
        out[f"rank{k}"] = nan_to_none(table.tolist())
        out[f"rank{k}_per_probe_view"] = dict(zip(views, nan_to_none(per_view.tolist()), strict=True))
        out[f"rank{k}_mean"] = None if np.isnan(mean) else mean
    return out


def cross_view_cmc(stats: dict[tuple[str, str], ProbeStats], views: list[str]) -> list[float]:
    """CMC averaged like Rank-1: over gallery views other than the probe's, then over probe views."""
    per_view = []
    for pv in views:
        curves = [cmc(s, CMC_RANKS) for (p, g), s in stats.items() if p == pv and g != pv and len(s)]
        if curves:
            per_view.append(np.mean(curves, axis=0))
    return np.mean(per_view, axis=0).tolist() if per_view else []


def nan_to_none(x):
    """JSON has no NaN: nested lists/dicts of floats with NaN replaced by None."""
    if isinstance(x, list):
        return [nan_to_none(v) for v in x]
    if isinstance(x, dict):
        return {k: nan_to_none(v) for k, v in x.items()}
    if isinstance(x, float) and np.isnan(x):
        return None
    return x
