"""Run a protocol: embed gallery and probes (optionally occluded), rank, and build the report dict.

`evaluate` takes any `embed_fn` and any store with the `SequenceStore` surface (`keys`, `lengths`,
`frames(i)`), so it runs the same for a trained checkpoint, a stand-in model in tests, or a
training-free baseline. Occlusion is drawn per sequence by a pure function of (seed, key, role), so
a report is reproducible from its settings; with `gallery_occlusion="none"` gallery sequences are
embedded exactly as stored (an enrolled holistic gallery). A crowd occlusion's other walkers come
from the evaluated store itself (`OccluderPool.from_store`), so they are evaluated subjects, never
the walker's own; the wild kinds may drop frames (a detector losing the person), counted per role
under `counts.dropped_frames`.

The work is split in three: `passes.ModelPasses` embeds each role's sequences once per occlusion
draw into one float32 array, `evaluator.RetrievalEvaluator` ranks and scores what it is fed, and
`evaluate_passes` here chooses the roles and the occlusion and assembles the report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from typing import Protocol as TypingProtocol

import numpy as np

from mimicgait.errors import UserError

if TYPE_CHECKING:
    from mimicgait.data.occlusion import OccluderPool
from mimicgait.eval.cross_view import nan_to_none
from mimicgait.eval.distances import METRICS
from mimicgait.eval.evaluator import RetrievalEvaluator, select_roles
from mimicgait.eval.extract import EmbedFn
from mimicgait.eval.passes import ModelPasses
from mimicgait.eval.protocols import Protocol

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
    from mimicgait.data.occlusion import WILD_RANGE, check_kind, eval_occlusion, kinds_need_pool

    kinds = [check_kind(k) for k in kinds]
    if kinds_need_pool(kinds) and pool is None:
        from mimicgait.data.occlusion.pool import require_pool

        require_pool(pool)
    wild = WILD_RANGE if wild_range is None else wild_range

    def occlude(frames: np.ndarray, key: tuple[str, str, str], role: str) -> tuple[np.ndarray, str, float]:
        return eval_occlusion(frames, kinds, seed, key, role, wild_range=wild, pool=pool)

    return occlude


def occluder_pool(kinds: Sequence[str], store: StoreLike) -> OccluderPool | None:
    """The crowd's other walkers when evaluating `store`: its own sequences (None without a crowd)."""
    from mimicgait.data.occlusion import OccluderPool, kinds_need_pool

    return OccluderPool.from_store(store) if kinds_need_pool(kinds) else None


def _has_wild(kinds: Sequence[str]) -> bool:
    """Whether a kind may drop frames (then the report counts them)."""
    from mimicgait.data.occlusion import kinds_drop_frames

    return kinds_drop_frames(kinds)


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
) -> dict[str, Any]:
    """Evaluate `embed_fn` on `store` under `protocol`; return the report dict (see `report.py`).

    `occlusion` is a list of kinds (or 'top,bottom'; None/'none' for holistic data); `occluder`
    overrides the library's occlusion function (tests, custom occlusions). A crowd occludes with
    other walkers of `store` (`occluder_pool`); with a wild kind the report counts the frames
    dropped per role (`counts.dropped_frames`). Raises `UserError` when the protocol's gallery or
    every probe group is empty on this data.
    """
    passes = ModelPasses(embed_fn, store, batch_size, max_frames, progress)
    return evaluate_passes(passes, protocol, occlusion, gallery_occlusion, seed, metric, occluder)


def evaluate_passes(
    passes: ModelPasses,
    protocol: Protocol,
    occlusion: str | Sequence[str] | None = None,
    gallery_occlusion: str = "same",
    seed: int = 0,
    metric: str = "euc",
    occluder: Occluder | None = None,
) -> dict[str, Any]:
    """`evaluate` with the model's passes given: several reports of one model (holistic, occluded,
    holistic gallery) evaluated one after the other share the passes they have in common, as long
    as the reports of one occlusion draw come one after the other (`ModelPasses`)."""
    if metric not in METRICS:
        raise UserError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if gallery_occlusion not in GALLERY_OCCLUSION:
        raise UserError(f"--gallery-occlusion must be one of {', '.join(GALLERY_OCCLUSION)}")
    store = passes.store
    kinds = parse_kinds(occlusion)
    if kinds and occluder is None:
        occluder = default_occluder(kinds, seed, occluder_pool(kinds, store))
    if not kinds:
        occluder = None
    gallery_idx, probe_idx = select_roles(protocol, store.keys)
    evaluator = RetrievalEvaluator(protocol, metric, count_dropped=_has_wild(kinds))
    lengths = np.asarray(store.lengths)
    for role, indices, occluded in (("gallery", gallery_idx, gallery_occlusion == "same"),
                                    ("probe", probe_idx, True)):
        drawn = passes.get(role, indices, (kinds, seed) if occluded else None, occluder if occluded else None)
        evaluator.process(drawn.embeddings, [store.keys[i] for i in indices.tolist()], role, drawn.kinds,
                          drawn.dropped, lengths[indices])
    pieces = evaluator.evaluate()
    for w in pieces["warnings"]:
        log.warning("%s", w)
    return nan_to_none({
        "protocol": protocol.name,
        "protocol_definition": protocol.describe(),
        "metric": metric,
        "occlusion": {"kinds": list(kinds), "gallery": gallery_occlusion if kinds else "none", "seed": seed},
        "seed": seed,
        **pieces,
    })
