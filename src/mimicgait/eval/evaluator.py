"""A retrieval evaluator fed embeddings batch by batch: `reset()`, `process(...)`, `evaluate()`.

The one place where a protocol's gallery is ranked for every probe and Rank-k, mAP, mINP, the
cross-view tables, per-kind Rank-1, CMC curves and verification rates are computed (`mimicgait
eval`, the pipeline and training validation all come here; `identify` ranks with the same
`PartGallery` and turns first hits into Rank-k with the same `cmc`). Embeddings arrive in any number
of batches, each tagged with its role ('gallery' or 'probe'), its sequence keys and what the
occlusion did to it; each role's are kept in one float32 array (a first batch as it is given,
later ones copied into an array grown by doubling unless `reserve` sized it), so memory is the
embeddings themselves plus one bounded distance block. A batch given is not copied: the caller does
not change it afterwards.

Order matters as in any ranking: gallery items at equal distance rank in the order they were fed
(`metrics`' tie rule), and probes are reported in the order fed. Cross-view protocols (CASIA-B,
OU-MVLP) are averaged as OpenGait does (`eval.cross_view`). Probes with no gallery match count as
failures there and in GREW; Gait3D leaves them out (`Protocol.skip_unmatched`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mimicgait.errors import UserError
from mimicgait.eval.cross_view import CMC_RANKS, cross_view_cmc, cross_view_tables
from mimicgait.eval.distances import METRICS, PartGallery
from mimicgait.eval.metrics import ProbeStats, cmc, summarise
from mimicgait.eval.protocols import Protocol
from mimicgait.eval.verification import join_pairs, roc_curve, split_block, verification_metrics

Key = tuple[str, str, str]
ROLES = ("gallery", "probe")


def select_roles(protocol: Protocol, keys: Sequence[Key]) -> tuple[np.ndarray, np.ndarray]:
    """(gallery positions, probe positions) of `keys` under `protocol`, each ascending; a probe is in
    every group whose selector takes it. Raises `UserError` when the gallery or every probe group
    is empty."""
    gallery = np.flatnonzero(protocol.gallery.mask(keys))
    groups = [np.flatnonzero(sel.mask(keys)) for sel in protocol.probes.values()]
    check_not_empty(protocol, len(gallery), [len(g) for g in groups])
    return gallery, np.unique(np.concatenate(groups))


def check_not_empty(protocol: Protocol, gallery: int, groups: Sequence[int]) -> None:
    """Refuse data on which the protocol has no gallery or no probe at all (the wrong protocol)."""
    if gallery == 0:
        raise UserError(
            f"protocol {protocol.name}: the gallery ({protocol.gallery.describe()}) is empty on this data; "
            "check --data / --partition or choose the protocol that matches the dataset"
        )
    if not any(groups):
        names = "; ".join(f"{n}: {sel.describe()}" for n, sel in protocol.probes.items())
        raise UserError(
            f"protocol {protocol.name}: every probe set ({names}) is empty on this data; "
            "check --data / --partition or choose the protocol that matches the dataset"
        )


class _Rows:
    """One role's embeddings [n, c, p] in one float32 array, with per-row key, kind and frame counts."""

    def __init__(self) -> None:
        self.feats: np.ndarray | None = None  # [capacity, c, p] float32
        self.n = 0
        self.keys: list[Key] = []
        self.kinds: list[str] = []
        self.dropped: list[int] = []
        self.frames: list[int] = []

    def reserve(self, rows: int, shape: tuple[int, ...] | None = None) -> None:
        shape = shape if self.feats is None else self.feats.shape[1:]
        if shape is not None and (self.feats is None or len(self.feats) < rows):
            grown = np.empty((rows, *shape), dtype=np.float32)
            if self.feats is not None:
                grown[: self.n] = self.feats[: self.n]
            self.feats = grown

    def append(self, feats: np.ndarray, keys: Sequence[Key], kinds: Sequence[str], dropped: Sequence[int],
               frames: Sequence[int]) -> None:
        if self.feats is not None and feats.shape[1:] != self.feats.shape[1:]:
            raise ValueError(f"embeddings must all be [n, c, p] of one size: got {tuple(feats.shape)} after "
                             f"{tuple(self.feats.shape[1:])}")
        if self.feats is None:  # the first batch is kept as it is: one batch (a whole pass) is not copied
            self.feats, self.n = feats, len(feats)
        else:
            self._store(feats)
        self.keys += [tuple(k) for k in keys]
        self.kinds += [str(k) for k in kinds]
        self.dropped += [int(d) for d in dropped]
        self.frames += [int(f) for f in frames]

    def _store(self, feats: np.ndarray) -> None:
        """Copy `feats` [b, c, p] after the rows held, growing the array when it is full."""
        assert self.feats is not None
        if len(self.feats) < self.n + len(feats):
            self.reserve(max(self.n + len(feats), 2 * self.n))
        self.feats[self.n : self.n + len(feats)] = feats
        self.n += len(feats)

    def embeddings(self) -> torch.Tensor:
        """[n, c, p] float32, a view of the array (no copy)."""
        return torch.from_numpy(self.feats[: self.n]) if self.feats is not None else torch.zeros(0, 0, 0)


class RetrievalEvaluator:
    """Ranks a protocol's gallery for its probes from embeddings fed in batches (see the module)."""

    def __init__(self, protocol: Protocol, metric: str = "euc", count_dropped: bool = False) -> None:
        """`count_dropped`: report the frames the occlusion dropped per role (`counts.dropped_frames`
        and `counts.frames`), as for the wild kinds."""
        if metric not in METRICS:
            raise UserError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        self.protocol, self.metric, self.count_dropped = protocol, metric, count_dropped
        self.reset()

    def reset(self) -> None:
        """Forget every embedding fed so far."""
        self._rows = {role: _Rows() for role in ROLES}

    def reserve(self, role: str, rows: int, shape: tuple[int, int]) -> None:
        """Size `role`'s array for `rows` embeddings of shape [c, p] at once (no growing copies)."""
        self._role(role).reserve(rows, tuple(shape))

    def process(self, embeddings: torch.Tensor | np.ndarray, keys: Sequence[Key], role: str,
                kinds: Sequence[str] | None = None, dropped: Sequence[int] | None = None,
                frames: Sequence[int] | None = None) -> None:
        """Add a batch: embeddings [n, c, p] of the sequences `keys` (subject, condition, view) in
        `role`, with the occlusion kind drawn for each (default 'none'), the frames it dropped
        (default 0) and the sequence's stored frame count (only summed, for `counts.frames`)."""
        feats = embeddings.detach().to("cpu", torch.float32).numpy() if isinstance(embeddings, torch.Tensor) \
            else np.asarray(embeddings, dtype=np.float32)
        n = len(keys)
        if feats.ndim != 3 or len(feats) != n:
            raise ValueError(f"embeddings must be [n, c, p] with one row per key: got {tuple(feats.shape)} "
                             f"for {n} keys")
        self._role(role).append(feats, keys, kinds if kinds is not None else ["none"] * n,
                                dropped if dropped is not None else [0] * n,
                                frames if frames is not None else [0] * n)

    def _role(self, role: str) -> _Rows:
        if role not in self._rows:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        return self._rows[role]

    def evaluate(self) -> dict[str, Any]:
        """The report's pieces: metrics, tables, per_kind, curves, counts, warnings (NaN kept)."""
        gallery, probes = self._rows["gallery"], self._rows["probe"]
        groups = {name: np.flatnonzero(sel.mask(probes.keys)) for name, sel in self.protocol.probes.items()}
        check_not_empty(self.protocol, gallery.n, [len(g) for g in groups.values()])
        notes = [f"probe set {name} ({self.protocol.probes[name].describe()}) is empty on this data"
                 for name, idx in groups.items() if len(idx) == 0]
        in_gallery = set(gallery.keys)
        both = sum(probes.keys[i] in in_gallery for idx in groups.values() for i in idx.tolist())
        if both:
            notes.append(f"{both} sequence(s) are both probe and gallery: each of them will find itself")

        subjects = sorted({k[0] for k in gallery.keys} | {k[0] for k in probes.keys})
        label_of = {s: i for i, s in enumerate(subjects)}
        gallery_labels = torch.tensor([label_of[k[0]] for k in gallery.keys], dtype=torch.long)
        probe_labels = torch.tensor([label_of[k[0]] for k in probes.keys], dtype=torch.long)
        gallery_views = np.array([k[2] for k in gallery.keys], dtype=str)
        probe_views = np.array([k[2] for k in probes.keys], dtype=str)
        probe_kinds = np.array(probes.kinds, dtype=str)
        gallery_feats, probe_feats = gallery.embeddings(), probes.embeddings()

        out: dict[str, Any] = {"metrics": {}, "tables": {}, "per_kind": {}, "curves": {"cmc": {}}}
        counts: dict[str, Any] = {"gallery": gallery.n, "probes": {}, "unmatched_probes": {}}
        single = len(groups) == 1
        laid_out = None  # the gallery laid out once for the protocols that rank against all of it
        for name, idx in groups.items():
            counts["probes"][name] = int(len(idx))
            if len(idx) == 0:
                continue
            suffix = "" if single else f".{name}"
            feats = probe_feats if len(idx) == probes.n else probe_feats[idx]  # idx ascending: all, in order
            group = _Group(feats, probe_labels[idx], probe_kinds[idx], probe_views[idx], suffix)
            if self.protocol.cross_view:
                unmatched = self._cross_view(group, name, gallery_feats, gallery_labels, gallery_views, out)
            else:
                laid_out = laid_out or PartGallery.from_embeddings(gallery_feats, self.metric)
                unmatched = self._all_probes(group, name, laid_out, gallery_labels, out)
            counts["unmatched_probes"][name] = unmatched
            if unmatched:
                rule = ("skipped" if self.protocol.skip_unmatched and not self.protocol.cross_view
                        else "counted as failures")
                notes.append(f"probe set {name}: {unmatched} probe ranking(s) found no gallery "
                             f"sequence of the probe's subject ({rule})")

        counts["probe_kinds"] = dict(Counter(probes.kinds))
        counts["gallery_kinds"] = dict(Counter(gallery.kinds))
        if self.count_dropped:
            counts["dropped_frames"] = {"probe": sum(probes.dropped), "gallery": sum(gallery.dropped)}
            counts["frames"] = {"probe": sum(probes.frames), "gallery": sum(gallery.frames)}
        return {**out, "counts": counts, "warnings": notes}

    def _cross_view(self, group: _Group, name: str, gallery: torch.Tensor, gallery_labels: torch.Tensor,
                    gallery_views: np.ndarray, out: dict[str, Any]) -> int:
        """Rank-k per (probe view, gallery view) and the OpenGait means; returns the unmatched count."""
        ranks = self.protocol.ranks
        views = sorted(set(group.views) | set(gallery_views))
        stats: dict[tuple[str, str], ProbeStats] = {}
        kind_of: dict[tuple[str, str], np.ndarray] = {}
        # each gallery view laid out once; a view without gallery is an undefined cell (NaN), not a failure
        laid_out = {gv: (PartGallery.from_embeddings(gallery[gm], self.metric), gallery_labels[gm])
                    for gv in views if (gm := gallery_views == gv).any()}
        unmatched = 0
        for pv in views:
            pm = group.views == pv
            for gv, (at_view, labels_at_view) in laid_out.items():
                s = at_view.stats(group.feats[pm], group.labels[pm], labels_at_view)
                stats[(pv, gv)], kind_of[(pv, gv)] = s, group.kinds[pm]
                if pv != gv:
                    unmatched += int((~s.matched).sum())
        table = cross_view_tables(stats, views, ranks)
        out["tables"][name] = table
        for k in ranks:
            out["metrics"][f"rank{k}{group.suffix}"] = table[f"rank{k}_mean"]
        out["curves"]["cmc"][name] = cross_view_cmc(stats, views)
        for kind in sorted(set(group.kinds)):
            sub = {pair: s.subset(kind_of[pair] == kind) for pair, s in stats.items()}
            out["per_kind"].setdefault(kind, {})[f"rank1{group.suffix}"] = cross_view_tables(
                sub, views, (1,))["rank1_mean"]
        return unmatched

    def _all_probes(self, group: _Group, name: str, laid_out: PartGallery, gallery_labels: torch.Tensor,
                    out: dict[str, Any]) -> int:
        """Rank-k, mAP, mINP (and verification) over the whole gallery; returns the unmatched count.
        Each distance block is ranked and, for verification, split into pairs as it comes."""
        skip = self.protocol.skip_unmatched
        pairs: list[tuple[np.ndarray, np.ndarray]] = []  # (genuine, impostor) per distance block

        def split(rows: slice, block: torch.Tensor) -> None:
            pairs.append(split_block(block, group.labels[rows], gallery_labels))

        s = laid_out.stats(group.feats, group.labels, gallery_labels,
                           split if self.protocol.verification else None)
        for key, value in summarise(s, self.protocol.ranks, skip).items():
            out["metrics"][f"{key}{group.suffix}"] = value
        out["curves"]["cmc"][name] = cmc(s, CMC_RANKS, skip)
        for kind in sorted(set(group.kinds)):
            sub = summarise(s.subset(group.kinds == kind), (1,), skip)
            out["per_kind"].setdefault(kind, {})[f"rank1{group.suffix}"] = sub["rank1"]
        if self.protocol.verification:
            gen, imp = join_pairs(pairs)
            for key, value in verification_metrics(gen, imp, self.protocol.fars).items():
                out["metrics"][f"{key}{group.suffix}"] = value
            out["curves"].setdefault("roc", {})[name] = roc_curve(gen, imp)
        return int((~s.matched).sum())


class _Group:
    """One probe group's rows: embeddings [n, c, p], labels [n], occlusion kinds [n], views [n]."""

    def __init__(self, feats: torch.Tensor, labels: torch.Tensor, kinds: np.ndarray, views: np.ndarray,
                 suffix: str) -> None:
        self.feats, self.labels, self.kinds, self.views, self.suffix = feats, labels, kinds, views, suffix
