"""Part-wise distances between embeddings [n, c, p], computed in probe chunks.

Two metrics, both as OpenGait defines them: `euc` is the Euclidean distance of each horizontal part
averaged over parts; `cos` is one minus the cosine similarity of each part (features normalised per
part over channels) averaged over parts. Smaller is closer for both.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from mimicgait.errors import UserError
from mimicgait.eval.metrics import ProbeStats, chunk_rows, stats_from_distances

METRICS = ("euc", "cos")


def _check(probe: torch.Tensor, gallery: torch.Tensor, metric: str) -> None:
    if metric not in METRICS:
        raise UserError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if probe.ndim != 3 or gallery.ndim != 3 or probe.shape[1:] != gallery.shape[1:]:
        raise ValueError(
            "embeddings must be [n, c, p] with equal c, p; "
            f"got {tuple(probe.shape)} and {tuple(gallery.shape)}"
        )


def _prepare(x: torch.Tensor, metric: str) -> torch.Tensor:
    x = x.detach().to("cpu", torch.float32)
    if metric == "cos":
        x = torch.nn.functional.normalize(x, p=2, dim=1)
    return x.permute(2, 0, 1).contiguous()  # [p, n, c]


def _block(pp: torch.Tensor, gp: torch.Tensor, g_sq: torch.Tensor | None, metric: str) -> torch.Tensor:
    """Distances of one probe block pp [p, b, c] to all gallery gp [p, m, c] -> [b, m]."""
    inner = torch.bmm(pp, gp.transpose(1, 2))  # [p, b, m]
    if metric == "cos":
        return 1.0 - inner.mean(0)
    p_sq = (pp * pp).sum(2, keepdim=True)  # [p, b, 1]
    sq = (p_sq + g_sq - 2.0 * inner).clamp_(min=0.0)  # [p, b, m]
    return sq.sqrt_().mean(0)


def iter_distances(
    probe: torch.Tensor, gallery: torch.Tensor, metric: str = "euc"
) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield (row slice, distances [rows, m]) over probe chunks sized to bound memory."""
    _check(probe, gallery, metric)
    pp, gp = _prepare(probe, metric), _prepare(gallery, metric)  # [p, n, c], [p, m, c]
    g_sq = (gp * gp).sum(2).unsqueeze(1) if metric == "euc" else None  # [p, 1, m]
    n, m, parts = probe.shape[0], gallery.shape[0], probe.shape[2]
    step = chunk_rows(n, m, per_row=parts)
    for i in range(0, n, step):
        rows = slice(i, min(n, i + step))
        yield rows, _block(pp[:, rows], gp, g_sq, metric)


def pairwise_distances(probe: torch.Tensor, gallery: torch.Tensor, metric: str = "euc") -> torch.Tensor:
    """The full distance matrix [n, m]; use `probe_stats` for large sets instead of holding it."""
    out = torch.empty(probe.shape[0], gallery.shape[0])
    for rows, block in iter_distances(probe, gallery, metric):
        out[rows] = block
    return out


def probe_stats(
    probe: torch.Tensor,
    probe_labels: torch.Tensor,
    gallery: torch.Tensor,
    gallery_labels: torch.Tensor,
    metric: str = "euc",
) -> ProbeStats:
    """Per-probe retrieval statistics, streaming distance chunks straight into the ranking."""
    probe_labels, gallery_labels = probe_labels.long(), gallery_labels.long()
    parts = [stats_from_distances(block, probe_labels[rows], gallery_labels)
             for rows, block in iter_distances(probe, gallery, metric)]
    return ProbeStats.concat(parts)
