"""Part-wise distances between embeddings [n, c, p], computed in probe chunks.

Two metrics, both as OpenGait defines them: `euc` is the Euclidean distance of each horizontal part
averaged over parts; `cos` is one minus the cosine similarity of each part (features normalised per
part over channels) averaged over parts. Smaller is closer for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

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


class PartGallery:
    """A gallery laid out once for part-wise distances, probes compared to it in bounded blocks.

    The one distance computation of evaluation (ranking and verification, `eval.evaluator`) and of `identify`
    (`deploy.search.ExactIndex`): gallery [p, m, c] (per-part normalised for cos) and, for euc,
    its squared norms [p, 1, m]. Probes are laid out block by block, so no probe-sized copy is made.
    """

    def __init__(self, part_major: torch.Tensor, metric: str = "euc") -> None:
        """`part_major`: the gallery [p, m, c], float32 on the CPU, as `_prepare` lays it out
        (normalised per part for cos); used as it is, not copied."""
        if metric not in METRICS:
            raise UserError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        self.metric = metric
        self.gallery = part_major  # [p, m, c]
        self.parts, self.size, self.channels = part_major.shape
        self.g_sq = None
        if metric == "euc":  # squared norms [p, 1, m], in row chunks: no gallery-sized temporary
            self.g_sq = torch.empty(self.parts, 1, self.size)
            for i in range(0, self.size, 16384):
                block = part_major[:, i : i + 16384]
                self.g_sq[:, 0, i : i + 16384] = (block * block).sum(2)

    @classmethod
    def from_embeddings(cls, gallery: torch.Tensor, metric: str = "euc") -> PartGallery:
        """From gallery embeddings [m, c, p]."""
        if metric not in METRICS:
            raise UserError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        return cls(_prepare(gallery, metric), metric)

    def check(self, probe: torch.Tensor) -> None:
        if probe.ndim != 3 or probe.shape[1:] != (self.channels, self.parts):
            raise ValueError(
                "embeddings must be [n, c, p] with equal c, p; "
                f"got {tuple(probe.shape)} and gallery [{self.size}, {self.channels}, {self.parts}]"
            )

    def rows_per_block(self, n: int) -> int:
        """Probe rows per block, so that one block's [p, rows, m] products stay bounded."""
        return chunk_rows(n, self.size, per_row=self.parts)

    def all_distances(self, probe: torch.Tensor) -> torch.Tensor:
        """The full distance matrix [n, m] of probes [n, c, p] (filled block by block)."""
        out = torch.empty(probe.shape[0], self.size)
        for rows, block in self.iter_distances(probe):
            out[rows] = block
        return out

    def distances(self, probe: torch.Tensor) -> torch.Tensor:
        """Distances [b, m] of one probe block [b, c, p] (callers bound b with `rows_per_block`)."""
        return _block(_prepare(probe, self.metric), self.gallery, self.g_sq, self.metric)

    def stats(self, probe: torch.Tensor, probe_labels: torch.Tensor, gallery_labels: torch.Tensor,
              each_block: Callable[[slice, torch.Tensor], None] | None = None) -> ProbeStats:
        """Per-probe retrieval statistics of probes [n, c, p], each distance block ranked as it comes;
        `each_block(rows, distances [rows, m])` also sees every block (verification splits it into
        pairs), so the distances are computed once for both."""
        probe_labels, gallery_labels = probe_labels.long(), gallery_labels.long()
        parts = []
        for rows, block in self.iter_distances(probe):
            parts.append(stats_from_distances(block, probe_labels[rows], gallery_labels))
            if each_block is not None:
                each_block(rows, block)
        return ProbeStats.concat(parts)

    def iter_distances(self, probe: torch.Tensor) -> Iterator[tuple[slice, torch.Tensor]]:
        """Yield (row slice, distances [rows, m]) over the probes [n, c, p] in bounded blocks."""
        self.check(probe)
        n = probe.shape[0]
        step = self.rows_per_block(n)
        for i in range(0, n, step):
            rows = slice(i, min(n, i + step))
            yield rows, self.distances(probe[rows])


def pairwise_distances(probe: torch.Tensor, gallery: torch.Tensor, metric: str = "euc") -> torch.Tensor:
    """The full distance matrix [n, m]; use `probe_stats` for large sets instead of holding it."""
    _check(probe, gallery, metric)
    return PartGallery.from_embeddings(gallery, metric).all_distances(probe)


def probe_stats(
    probe: torch.Tensor,
    probe_labels: torch.Tensor,
    gallery: torch.Tensor,
    gallery_labels: torch.Tensor,
    metric: str = "euc",
) -> ProbeStats:
    """Per-probe retrieval statistics, streaming distance chunks straight into the ranking."""
    _check(probe, gallery, metric)
    return PartGallery.from_embeddings(gallery, metric).stats(probe, probe_labels, gallery_labels)
