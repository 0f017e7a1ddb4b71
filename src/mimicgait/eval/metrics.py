"""Retrieval metrics from a probe-by-gallery distance matrix: Rank-k (CMC), mAP and mINP.

Everything is derived from per-probe statistics (`ProbeStats`): the rank of the first true match,
the average precision and the inverse negative penalty. They are computed chunk by chunk, so a
GREW-sized problem never sorts more than a slab of rows at once, and protocols can regroup them
(per view pair, per occlusion kind) without recomputing distances.

Tie rule: gallery items are ordered by a *stable* sort on distance, so items at equal distance keep
their gallery order (the item listed first in the gallery ranks first). Results are therefore
deterministic, and a tie between a true and a false match is won by whichever comes first in the
gallery.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

# Work on at most this many distance entries per chunk (float32: 64 MiB).
CHUNK_ELEMENTS = 1 << 24


@dataclass
class ProbeStats:
    """Per-probe retrieval statistics; entries of probes without any gallery match are -1 / NaN."""

    first_hit: np.ndarray  # [n] int64, 0-based rank of the first true match, -1 when none
    ap: np.ndarray  # [n] float64, average precision in [0, 1], NaN when no match
    inp: np.ndarray  # [n] float64, inverse negative penalty in [0, 1], NaN when no match

    @property
    def matched(self) -> np.ndarray:
        """[n] bool: the probe's identity occurs in the gallery."""
        return self.first_hit >= 0

    def __len__(self) -> int:
        return len(self.first_hit)

    def subset(self, mask: np.ndarray) -> ProbeStats:
        """The statistics of the probes selected by a boolean mask or index array."""
        return ProbeStats(self.first_hit[mask], self.ap[mask], self.inp[mask])

    @staticmethod
    def from_first_hits(first_hit: np.ndarray) -> ProbeStats:
        """Statistics that know only each probe's first true match (a top-k list: -1 when not in it)."""
        first_hit = np.asarray(first_hit, dtype=np.int64)
        return ProbeStats(first_hit, np.full(len(first_hit), np.nan), np.full(len(first_hit), np.nan))

    @staticmethod
    def concat(parts: Iterable[ProbeStats]) -> ProbeStats:
        parts = list(parts)
        if not parts:
            return ProbeStats(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        return ProbeStats(
            np.concatenate([p.first_hit for p in parts]),
            np.concatenate([p.ap for p in parts]),
            np.concatenate([p.inp for p in parts]),
        )


def _as_tensor(x, dtype=None) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    t = t.detach().cpu()
    return t.to(dtype) if dtype is not None else t


def stats_from_distances(
    distances: torch.Tensor, probe_labels: torch.Tensor, gallery_labels: torch.Tensor
) -> ProbeStats:
    """Per-probe statistics of one block of distances [n, m] (no chunking;
    `distances.PartGallery.stats` feeds it block by block)."""
    n, m = distances.shape
    if m == 0:
        return ProbeStats(np.full(n, -1, np.int64), np.full(n, np.nan), np.full(n, np.nan))
    order = torch.sort(distances, dim=1, stable=True).indices  # [n, m]
    matches = gallery_labels[order] == probe_labels[:, None]  # [n, m] bool, in ranked order
    n_match = matches.sum(1)  # [n]
    has = n_match > 0
    first = torch.where(has, matches.to(torch.uint8).argmax(1), torch.full_like(n_match, -1))
    positions = torch.arange(1, m + 1, dtype=torch.float64)  # [m] 1-based ranks
    hits = matches.to(torch.float64)
    precision = hits.cumsum(1) / positions  # [n, m] precision at every cut-off
    denom = n_match.clamp(min=1).to(torch.float64)
    ap = (precision * hits).sum(1) / denom
    # Last true match position: the largest rank where a match occurs.
    last = (hits * positions).amax(1)  # [n], 0 when no match
    inp = n_match.to(torch.float64) / last.clamp(min=1)
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    return ProbeStats(
        first.to(torch.int64).numpy(),
        torch.where(has, ap, nan).numpy(),
        torch.where(has, inp, nan).numpy(),
    )


def chunk_rows(n_rows: int, n_cols: int, per_row: int = 1) -> int:
    """Rows per chunk so that one chunk holds about `CHUNK_ELEMENTS` values."""
    return max(1, min(max(n_rows, 1), CHUNK_ELEMENTS // max(1, n_cols * per_row)))


def summarise(
    stats: ProbeStats, ranks: Sequence[int] = (1, 5, 10), skip_unmatched: bool = False
) -> dict[str, float]:
    """Aggregate per-probe statistics into percentages.

    `rankK` is the percentage of probes whose true identity is among the K nearest gallery items;
    probes without any gallery match count as failures unless `skip_unmatched` (Gait3D's rule), in
    which case they are left out. `mAP` and `mINP` always average over matched probes only. An
    empty set gives NaN.
    """
    matched = stats.matched
    pool = stats.first_hit[matched] if skip_unmatched else stats.first_hit
    out: dict[str, float] = {}
    for k in ranks:
        hit = (pool >= 0) & (pool < k)
        out[f"rank{k}"] = float(100.0 * hit.mean()) if len(pool) else float("nan")
    out["mAP"] = float(100.0 * stats.ap[matched].mean()) if matched.any() else float("nan")
    out["mINP"] = float(100.0 * stats.inp[matched].mean()) if matched.any() else float("nan")
    return out


def cmc(stats: ProbeStats, max_rank: int = 20, skip_unmatched: bool = False) -> list[float]:
    """Cumulative match characteristic: percent of probes matched within rank 1..max_rank."""
    pool = stats.first_hit[stats.matched] if skip_unmatched else stats.first_hit
    if len(pool) == 0:
        return [float("nan")] * max_rank
    counts = np.bincount(pool[pool >= 0], minlength=max_rank)[:max_rank]
    return (100.0 * np.cumsum(counts) / len(pool)).tolist()


def rank_metrics(
    distances,
    probe_labels,
    gallery_labels,
    ranks: Sequence[int] = (1, 5, 10),
    skip_unmatched: bool = False,
) -> dict[str, float]:
    """Rank-k accuracy, mAP and mINP (percent) from distances [n_probe, n_gallery] (smaller is closer).

    Accepts torch tensors or numpy arrays; labels may be any comparable integers (map strings to
    integers first). Rows are processed in chunks to bound memory. See the module docstring for the
    tie rule and `summarise` for how unmatched probes are handled.
    """
    d = _as_tensor(distances, torch.float32)
    if d.ndim != 2:
        raise ValueError(f"distances must be [n_probe, n_gallery], got shape {tuple(d.shape)}")
    p = _as_tensor(probe_labels).long()
    g = _as_tensor(gallery_labels).long()
    if p.shape[0] != d.shape[0] or g.shape[0] != d.shape[1]:
        raise ValueError(
            f"labels ({p.shape[0]} probe, {g.shape[0]} gallery) do not match distances {tuple(d.shape)}"
        )
    step = chunk_rows(d.shape[0], d.shape[1], per_row=4)
    parts = [stats_from_distances(d[i : i + step], p[i : i + step], g) for i in range(0, d.shape[0], step)]
    return summarise(ProbeStats.concat(parts), ranks, skip_unmatched)
