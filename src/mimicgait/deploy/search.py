"""Nearest identities for probe embeddings: exact search, and FAISS for very large galleries.

Both rank with the metric `mimicgait eval` uses (`eval.distances`: part-wise Euclidean averaged over
parts, or part-wise cosine), so `identify` and `eval --protocol rank` agree. `ExactIndex` lays the
gallery out once (`eval.distances.PartGallery`, the evaluation's own distance code) and ranks
probes in blocks of bounded size. `FaissIndex` shortlists candidates with an inverted-file
product-quantised index on the flattened (per-part normalised, for cosine) embeddings, whose L2
distance orders sequences much like the part-wise metric, then re-ranks the shortlist exactly; its
recall against exact search is measured by `benchmarks/identify_speed.py`.

An identity's distance to a probe is its closest sequence's distance (nearest-neighbour rule of
the evaluation's Rank-k).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mimicgait.eval.distances import METRICS, PartGallery


@dataclass
class Matches:
    """Per probe, the best `k` identities: `identity` int64 [q, k] (gallery identity index, -1 when
    the gallery has fewer), `distance` float32 [q, k] (inf where absent), `sequence` int64 [q, k]
    (row of the closest gallery sequence of that identity)."""

    identity: np.ndarray
    distance: np.ndarray
    sequence: np.ndarray


def best_per_identity(distances: Tensor, identities: Tensor, n_identities: int, k: int) -> Matches:
    """Distances [q, n] to gallery rows whose identity indices are `identities` [n] -> top-k identities."""
    q = distances.shape[0]
    best = torch.full((q, n_identities), float("inf"))
    best.scatter_reduce_(1, identities.expand(q, -1), distances, reduce="amin", include_self=True)
    k_eff = min(k, n_identities)
    dist, ident = torch.topk(best, k_eff, dim=1, largest=False)  # [q, k]
    # the row of the closest sequence of each chosen identity
    hit = (distances.unsqueeze(1) == dist.unsqueeze(2)) & (identities.view(1, 1, -1) == ident.unsqueeze(2))
    rows = hit.float().argmax(2)  # [q, k]
    out = Matches(np.full((q, k), -1, np.int64), np.full((q, k), np.inf, np.float32),
                  np.full((q, k), -1, np.int64))
    out.identity[:, :k_eff] = ident.numpy()
    out.distance[:, :k_eff] = dist.numpy()
    out.sequence[:, :k_eff] = rows.numpy()
    out.identity[~np.isfinite(out.distance)] = -1
    return out


class ExactIndex:
    """Exact search over gallery embeddings [n, C, P] with identity indices [n]."""

    def __init__(self, embeddings: Tensor | None, identities: np.ndarray, metric: str = "euc",
                 part_major: Tensor | None = None) -> None:
        """`embeddings` [n, C, P], or None with `part_major`, the gallery already laid out [P, n, C]
        (`Gallery.load(part_major=True)`), which is used as it is: no second copy in memory."""
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        if part_major is None:
            assert embeddings is not None
            self.gallery = PartGallery.from_embeddings(embeddings, metric)
        else:
            if metric == "cos":
                part_major = torch.nn.functional.normalize(part_major, p=2, dim=2)
            self.gallery = PartGallery(part_major, metric)
        self.metric, self.n = metric, self.gallery.size
        self.identities = torch.as_tensor(identities, dtype=torch.long)
        self.n_identities = int(self.identities.max()) + 1 if self.n else 0

    def distances(self, probes: Tensor) -> Tensor:
        """Distances [q, n] of probes [q, C, P] to every gallery sequence."""
        return self.gallery.all_distances(probes)

    def search(self, probes: Tensor, k: int = 5) -> Matches:
        """The k nearest identities of each probe [q, C, P], ranked block by block."""
        parts = [best_per_identity(block, self.identities, self.n_identities, k)
                 for _, block in self.gallery.iter_distances(probes)]
        return Matches(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("identity", "distance",
                                                                                   "sequence")))


def flatten_for_l2(embeddings: Tensor | np.ndarray, metric: str) -> np.ndarray:
    """[n, C, P] -> float32 [n, C * P] whose L2 geometry approximates the part-wise metric."""
    x = torch.as_tensor(embeddings, dtype=torch.float32)
    if metric == "cos":
        x = torch.nn.functional.normalize(x, p=2, dim=1)
    return np.ascontiguousarray(x.reshape(x.shape[0], -1).numpy())


class FaissIndex:
    """Approximate shortlist (FAISS IVF-PQ on flattened embeddings) + exact re-ranking.

    `fetch(rows) -> [len(rows), C, P]` returns the exact gallery embeddings of shortlisted rows (from
    memory or the gallery database), so the full float gallery need not be held in memory.
    """

    def __init__(self, dim: int, metric: str = "euc", lists: int = 1024, subquantizers: int = 64,
                 nprobe: int = 32) -> None:
        from mimicgait.deploy.onnx_export import require

        self.faiss = require("faiss")
        self.metric = metric
        quantizer = self.faiss.IndexFlatL2(dim)
        while dim % subquantizers:
            subquantizers //= 2
        self.index = self.faiss.IndexIVFPQ(quantizer, dim, lists, subquantizers, 8)
        self.index.nprobe = nprobe

    def train(self, sample: np.ndarray) -> None:
        """Train the coarse quantiser and the product quantiser on a sample [m, dim] (m >= 39 * lists)."""
        self.index.train(np.ascontiguousarray(sample, dtype=np.float32))

    def add(self, vectors: np.ndarray) -> None:
        """Append flattened gallery rows [b, dim] (row ids continue from the previous add)."""
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, probes: Tensor, identities: np.ndarray, fetch: Callable[[np.ndarray], Tensor],
               k: int = 5, shortlist: int = 200) -> Matches:
        """Top-k identities: the `shortlist` nearest rows by the index, re-ranked with the exact metric."""
        _, rows = self.index.search(flatten_for_l2(probes, self.metric), shortlist)  # [q, s]
        results = []
        for i in range(probes.shape[0]):
            cand = rows[i][rows[i] >= 0]
            exact = ExactIndex(fetch(cand), np.asarray(identities)[cand], self.metric)
            local = best_per_identity(exact.distances(probes[i : i + 1]), exact.identities,
                                      int(np.asarray(identities).max()) + 1, k)
            seq = np.where(local.sequence >= 0, cand[np.maximum(local.sequence, 0)], -1)
            results.append(Matches(local.identity, local.distance, seq))
        return Matches(*(np.concatenate([getattr(r, f) for r in results]) for f in ("identity", "distance",
                                                                                     "sequence")))
