"""Run a protocol: embed gallery and probes (optionally occluded), rank, and build the report dict.

`evaluate` takes any `embed_fn` and any store with the `SequenceStore` surface (`keys`, `lengths`,
`frames(i)`), so it runs the same for a trained checkpoint, a stand-in model in tests, or a
training-free baseline. Occlusion is drawn per sequence by a pure function of (seed, key, role), so
a report is reproducible from its settings; with `gallery_occlusion="none"` gallery sequences are
embedded exactly as stored (an enrolled holistic gallery). A crowd occlusion's other walkers come
from the evaluated store itself (`OccluderPool.from_store`), so they are evaluated subjects, never
the walker's own; the wild kinds may drop frames (a detector losing the person), counted per role
under `counts.dropped_frames`.

Cross-view protocols (CASIA-B, OU-MVLP) are averaged as OpenGait does (`eval.cross_view`). Probes
with no gallery match count as failures there and in GREW; Gait3D leaves them out
(`Protocol.skip_unmatched`).

Size: a little over 300 lines because the embedder with its per-model cache and the occluder
plumbing (pool, kinds, dropped frames) serve `evaluate` alone.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from typing import Protocol as TypingProtocol

import numpy as np
import torch

from mimicgait.errors import UserError

if TYPE_CHECKING:
    from mimicgait.data.occlusion import OccluderPool
from mimicgait.eval.cross_view import CMC_RANKS, cross_view_cmc, cross_view_tables, nan_to_none
from mimicgait.eval.distances import METRICS, probe_stats
from mimicgait.eval.extract import EmbedFn, extract_embeddings
from mimicgait.eval.metrics import ProbeStats, cmc, summarise
from mimicgait.eval.protocols import Protocol
from mimicgait.eval.verification import pair_distances, roc_curve, verification_metrics

log = logging.getLogger(__name__)

#: (frames [T, H, W] uint8, key (subject, condition, view), role 'probe'|'gallery') -> (frames, kind, amount)
Occluder = Callable[[np.ndarray, tuple[str, str, str], str], tuple[np.ndarray, str, float]]

GALLERY_OCCLUSION = ("same", "none")


class StoreLike(TypingProtocol):
    """The part of `mimicgait.data.store.SequenceStore` evaluation uses."""

    keys: Sequence[tuple[str, str, str]]
    lengths: np.ndarray

    def frames(self, i: int) -> np.ndarray: ...


def parse_kinds(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """`top,bottom` -> ('top', 'bottom'); None, '' or 'none' -> () (no occlusion)."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    kinds = tuple(k.strip() for k in items if k.strip())
    return () if kinds in ((), ("none",)) else kinds


def default_occluder(kinds: Sequence[str], seed: int, pool: OccluderPool | None = None,
                     wild_range: tuple[float, float] | None = None) -> Occluder:
    """The library's evaluation occlusion (`mimicgait.data.occlusion.eval_occlusion`) for these kinds.

    `pool`: the other walkers a crowd draws from (the evaluated sequences); `wild_range`: the wild
    kinds' amount range (default `WILD_RANGE`)."""
    from mimicgait.data.occlusion import WILD_RANGE, check_kind, eval_occlusion

    kinds = [check_kind(k) for k in kinds]
    if "crowd" in kinds and pool is None:
        from mimicgait.data.occlusion.pool import require_pool

        require_pool(pool)
    wild = WILD_RANGE if wild_range is None else wild_range

    def occlude(frames: np.ndarray, key: tuple[str, str, str], role: str) -> tuple[np.ndarray, str, float]:
        return eval_occlusion(frames, kinds, seed, key, role, wild_range=wild, pool=pool)

    return occlude


def occluder_pool(kinds: Sequence[str], store: StoreLike) -> OccluderPool | None:
    """The crowd's other walkers when evaluating `store`: its own sequences (None without a crowd)."""
    from mimicgait.data.occlusion import OccluderPool

    return OccluderPool.from_store(store) if "crowd" in kinds else None


def _has_wild(kinds: Sequence[str]) -> bool:
    from mimicgait.data.occlusion import WILD_KINDS

    return any(k in WILD_KINDS for k in kinds)


def check_input_size(
    model_size: Sequence[int] | None, frame_size: Sequence[int], checkpoint: str = ""
) -> None:
    """Refuse data whose frames differ from the size the model was trained on."""
    if model_size is None:
        return
    if tuple(int(x) for x in model_size) != tuple(int(x) for x in frame_size):
        where = f"checkpoint {checkpoint} was" if checkpoint else "the model was"
        raise UserError(
            f"{where} trained on {tuple(model_size)} frames but the data has {tuple(frame_size)} frames; "
            "evaluate on data pretreated to the same size (or resize it with the data tools)"
        )


#: Embeddings already computed for one model: (occlusion tag, store index) -> (embedding [C, P], kind,
#: frames dropped by the occlusion). The tag is 'holistic', or (role, kinds, seed) for an occluded
#: sequence; see `evaluate(cache=...)`.
EmbeddingCache = dict[tuple[Any, int], tuple[torch.Tensor, str, int]]


class _Embedder:
    """Embeds store sequences for one role, applying the occluder and recording what it drew.

    With a cache, a sequence already embedded under the same occlusion (or none) is not embedded
    again: the holistic, occluded and holistic-gallery reports of one model share their passes."""

    def __init__(self, embed_fn: EmbedFn, store: StoreLike, occluder: Occluder | None, batch_size: int,
                 max_frames: int | None, progress: bool, cache: EmbeddingCache | None = None,
                 occlusion_tag: Any = None):
        self.embed_fn, self.store, self.occluder = embed_fn, store, occluder
        self.batch_size, self.max_frames, self.progress = batch_size, max_frames, progress
        self.cache, self.occlusion_tag = cache, occlusion_tag

    def __call__(self, indices: np.ndarray, role: str,
                 occlude: bool) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """(embeddings [n, C, P], occlusion kind [n], frames dropped [n]) of store sequences `indices`."""
        occlude = occlude and self.occluder is not None
        if self.cache is None:
            return self._embed(indices, role, occlude)
        tag = (role, self.occlusion_tag) if occlude else "holistic"
        missing = np.array([i for i in indices.tolist() if (tag, i) not in self.cache], dtype=np.int64)
        if len(missing):
            feats, kinds, dropped = self._embed(missing, role, occlude)
            for i, f, k, d in zip(missing.tolist(), feats, kinds.tolist(), dropped.tolist(), strict=True):
                self.cache[(tag, i)] = (f, k, d)
        hits = [self.cache[(tag, i)] for i in indices.tolist()]
        return (torch.stack([h[0] for h in hits]), np.array([h[1] for h in hits], dtype=str),
                np.array([h[2] for h in hits], dtype=np.int64))

    def _embed(self, indices: np.ndarray, role: str,
               occlude: bool) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        keys = self.store.keys
        kinds = np.full(len(indices), "none", dtype=object)
        dropped = np.zeros(len(indices), dtype=np.int64)

        def load(pos: int) -> np.ndarray:
            return self.store.frames(int(indices[pos]))

        transform = None
        if occlude:
            def transform(frames: np.ndarray, pos: int) -> np.ndarray:
                out, kind, _amount = self.occluder(frames, tuple(keys[int(indices[pos])]), role)
                kinds[pos] = kind
                dropped[pos] = len(frames) - len(out)
                return out

        lengths = np.asarray(self.store.lengths)[indices]
        feats = extract_embeddings(self.embed_fn, load, lengths, self.batch_size, transform,
                                   self.max_frames, self.progress)
        return feats, kinds.astype(str), dropped


def evaluate(
    embed_fn: EmbedFn,
    store: StoreLike,
    protocol: Protocol,
    occlusion: str | Sequence[str] | None = None,
    gallery_occlusion: str = "same",
    seed: int = 0,
    metric: str = "euc",
    batch_size: int = 8,
    max_frames: int | None = None,
    occluder: Occluder | None = None,
    progress: bool = False,
    cache: EmbeddingCache | None = None,
) -> dict[str, Any]:
    """Evaluate `embed_fn` on `store` under `protocol`; return the report dict (see `report.py`).

    `occlusion` is a list of kinds (or 'top,bottom'; None/'none' for holistic data); `occluder`
    overrides the library's occlusion function (tests, custom occlusions). A crowd occludes with
    other walkers of `store` (`occluder_pool`); with a wild kind the report counts the frames
    dropped per role (`counts.dropped_frames`). `cache` (a dict the
    caller keeps per model and store, empty at first) lets several evaluations of one model share
    embeddings: a sequence is embedded once per occlusion (kinds, seed, role) and once holistic; it
    cannot be combined with a custom `occluder`. Raises `ValueError` when the protocol's gallery or
    every probe group is empty on this data.
    """
    if cache is not None and occluder is not None:
        raise ValueError("evaluate: cache works with the library's occlusion only, not a custom occluder")
    if metric not in METRICS:
        raise UserError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if gallery_occlusion not in GALLERY_OCCLUSION:
        raise UserError(f"--gallery-occlusion must be one of {', '.join(GALLERY_OCCLUSION)}")
    kinds = parse_kinds(occlusion)
    if kinds and occluder is None:
        occluder = default_occluder(kinds, seed, occluder_pool(kinds, store))
    if not kinds:
        occluder = None

    keys = list(store.keys)
    subjects = np.array([k[0] for k in keys], dtype=str)
    views_all = np.array([k[2] for k in keys], dtype=str)
    gallery_idx = np.flatnonzero(protocol.gallery.mask(keys))
    groups = {name: np.flatnonzero(sel.mask(keys)) for name, sel in protocol.probes.items()}
    notes: list[str] = []
    if len(gallery_idx) == 0:
        raise UserError(
            f"protocol {protocol.name}: the gallery ({protocol.gallery.describe()}) is empty on this data; "
            "check --data / --partition or choose the protocol that matches the dataset"
        )
    if not any(len(g) for g in groups.values()):
        names = "; ".join(f"{n}: {protocol.probes[n].describe()}" for n in groups)
        raise UserError(
            f"protocol {protocol.name}: every probe set ({names}) is empty on this data; "
            "check --data / --partition or choose the protocol that matches the dataset"
        )
    for name, idx in groups.items():
        if len(idx) == 0:
            notes.append(f"probe set {name} ({protocol.probes[name].describe()}) is empty on this data")

    both = sum(len(np.intersect1d(g, gallery_idx)) for g in groups.values())
    if both:
        notes.append(f"{both} sequence(s) are both probe and gallery: each of them will find itself")

    embed = _Embedder(embed_fn, store, occluder, batch_size, max_frames, progress, cache, (kinds, seed))
    probe_idx = np.unique(np.concatenate([g for g in groups.values() if len(g)]))
    gallery_feats, gallery_kinds, gallery_dropped = embed(gallery_idx, "gallery", gallery_occlusion == "same")
    probe_feats, probe_kinds, probe_dropped = embed(probe_idx, "probe", True)

    _, label_ids = np.unique(subjects, return_inverse=True)
    labels = torch.from_numpy(label_ids.astype(np.int64))
    gallery_labels = labels[gallery_idx]
    position = {int(i): p for p, i in enumerate(probe_idx)}

    metrics: dict[str, float] = {}
    tables: dict[str, Any] = {}
    per_kind: dict[str, dict[str, float]] = {}
    curves: dict[str, Any] = {"cmc": {}}
    counts: dict[str, Any] = {"gallery": int(len(gallery_idx)), "probes": {}, "unmatched_probes": {}}
    single = len(groups) == 1

    for name, idx in groups.items():
        counts["probes"][name] = int(len(idx))
        if len(idx) == 0:
            continue
        pos = np.array([position[int(i)] for i in idx])
        feats, plabels, pkinds = probe_feats[pos], labels[idx], probe_kinds[pos]
        suffix = "" if single else f".{name}"
        if protocol.cross_view:
            views = sorted(set(views_all[idx]) | set(views_all[gallery_idx]))
            stats: dict[tuple[str, str], ProbeStats] = {}
            kind_of: dict[tuple[str, str], np.ndarray] = {}
            unmatched = 0
            for pv in views:
                pm = views_all[idx] == pv
                for gv in views:
                    gm = views_all[gallery_idx] == gv
                    if not gm.any():
                        continue  # no gallery at this view: the cell is undefined (NaN), not a failure
                    s = probe_stats(feats[pm], plabels[pm], gallery_feats[gm], gallery_labels[gm], metric)
                    stats[(pv, gv)], kind_of[(pv, gv)] = s, pkinds[pm]
                    if pv != gv:
                        unmatched += int((~s.matched).sum())
            table = cross_view_tables(stats, views, protocol.ranks)
            tables[name] = table
            for k in protocol.ranks:
                metrics[f"rank{k}{suffix}"] = table[f"rank{k}_mean"]
            curves["cmc"][name] = cross_view_cmc(stats, views)
            for kind in sorted(set(pkinds)):
                sub = {pair: s.subset(kind_of[pair] == kind) for pair, s in stats.items()}
                per_kind.setdefault(kind, {})[f"rank1{suffix}"] = cross_view_tables(sub, views, (1,))[
                    "rank1_mean"
                ]
            counts["unmatched_probes"][name] = unmatched
        else:
            s = probe_stats(feats, plabels, gallery_feats, gallery_labels, metric)
            for key, value in summarise(s, protocol.ranks, protocol.skip_unmatched).items():
                metrics[f"{key}{suffix}"] = value
            curves["cmc"][name] = cmc(s, CMC_RANKS, protocol.skip_unmatched)
            for kind in sorted(set(pkinds)):
                sub = summarise(s.subset(pkinds == kind), (1,), protocol.skip_unmatched)
                per_kind.setdefault(kind, {})[f"rank1{suffix}"] = sub["rank1"]
            counts["unmatched_probes"][name] = int((~s.matched).sum())
            if protocol.verification:
                gen, imp = pair_distances(feats, plabels, gallery_feats, gallery_labels, metric)
                for key, value in verification_metrics(gen, imp, protocol.fars).items():
                    metrics[f"{key}{suffix}"] = value
                curves.setdefault("roc", {})[name] = roc_curve(gen, imp)
        if counts["unmatched_probes"][name]:
            rule = "skipped" if protocol.skip_unmatched and not protocol.cross_view else "counted as failures"
            notes.append(
                f"probe set {name}: {counts['unmatched_probes'][name]} probe ranking(s) found no gallery "
                f"sequence of the probe's subject ({rule})"
            )

    counts["probe_kinds"] = dict(Counter(probe_kinds.tolist()))
    counts["gallery_kinds"] = dict(Counter(gallery_kinds.tolist()))
    if _has_wild(kinds):  # only then: reports of the paper's kinds stay exactly as they were
        counts["dropped_frames"] = {"probe": int(probe_dropped.sum()), "gallery": int(gallery_dropped.sum())}
        counts["frames"] = {"probe": int(np.asarray(store.lengths)[probe_idx].sum()),
                            "gallery": int(np.asarray(store.lengths)[gallery_idx].sum())}
    for w in notes:
        log.warning("%s", w)
    return nan_to_none({
        "protocol": protocol.name,
        "protocol_definition": protocol.describe(),
        "metric": metric,
        "occlusion": {"kinds": list(kinds), "gallery": gallery_occlusion if kinds else "none", "seed": seed},
        "seed": seed,
        "metrics": metrics,
        "tables": tables,
        "per_kind": per_kind,
        "curves": curves,
        "counts": counts,
        "warnings": notes,
    })
