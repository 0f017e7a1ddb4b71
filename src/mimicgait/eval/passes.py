"""One model's embedding passes over a store, each computed once and held compactly.

A pass embeds the store sequences of one role (gallery or probe), holistic or under one occlusion
draw (kinds, seed), into one float32 array [n, c, p] with the occlusion kind and the frames dropped
per sequence. `ModelPasses` keeps the holistic passes and the passes of the latest draw only: the
reports of one model that share a draw (the paper's protocol, its holistic-gallery variant) are
computed from the same arrays, and asking for another draw frees the previous one, so a model holds
at most four passes however many draws and reports it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mimicgait.eval.extract import EmbedFn, extract_embeddings

if TYPE_CHECKING:
    from mimicgait.eval.evaluate import Occluder, StoreLike


@dataclass
class RolePass:
    """The embeddings of one role's sequences, in the order of `indices` (store positions)."""

    indices: np.ndarray  # [n] int64, store positions
    embeddings: torch.Tensor  # [n, c, p] float32
    kinds: np.ndarray  # [n] str, the occlusion kind drawn ('none' when holistic)
    dropped: np.ndarray  # [n] int64, frames the occlusion removed (wild kinds)


def embed_role(embed_fn: EmbedFn, store: StoreLike, indices: np.ndarray, role: str,
               occluder: Occluder | None, batch_size: int, max_frames: int | None,
               progress: bool) -> RolePass:
    """Embed store sequences `indices` in `role`, occluded by `occluder` when one is given."""
    keys = store.keys
    kinds = np.full(len(indices), "none", dtype=object)
    dropped = np.zeros(len(indices), dtype=np.int64)

    def load(pos: int) -> np.ndarray:
        return store.frames(int(indices[pos]))

    transform = None
    if occluder is not None:
        def transform(frames: np.ndarray, pos: int) -> np.ndarray:
            out, kind, _amount = occluder(frames, tuple(keys[int(indices[pos])]), role)
            kinds[pos] = kind
            dropped[pos] = len(frames) - len(out)
            return out

    lengths = np.asarray(store.lengths)[indices]
    feats = extract_embeddings(embed_fn, load, lengths, batch_size, transform, max_frames, progress)
    return RolePass(np.asarray(indices, dtype=np.int64), feats, kinds.astype(str), dropped)


class ModelPasses:
    """The passes of one model over one store: holistic ones kept, occluded ones for the latest draw.

    `get(role, indices, draw, occluder)`: `draw` is None for holistic input, else a hashable tag of
    the occlusion (kinds, seed) whose `occluder` embeds it; the indices of a role must be the same
    on every call (the protocol's gallery or probes).
    """

    def __init__(self, embed_fn: EmbedFn, store: StoreLike, batch_size: int = 8,
                 max_frames: int | None = None, progress: bool = False) -> None:
        self.embed_fn, self.store = embed_fn, store
        self.batch_size, self.max_frames, self.progress = batch_size, max_frames, progress
        self._holistic: dict[str, RolePass] = {}
        self._draw: Any = None
        self._occluded: dict[str, RolePass] = {}

    def get(self, role: str, indices: Sequence[int] | np.ndarray, draw: Any = None,
            occluder: Occluder | None = None) -> RolePass:
        """The pass of `role` over `indices`, holistic (draw None) or under `draw`."""
        if draw is None or occluder is None:
            held = self._holistic
        else:
            if draw != self._draw:  # a new draw: the previous one's passes are no longer needed
                self._draw, self._occluded = draw, {}
            held = self._occluded
        found = held.get(role)
        if found is None or not np.array_equal(found.indices, indices):
            found = embed_role(self.embed_fn, self.store, np.asarray(indices, dtype=np.int64), role,
                               occluder if held is self._occluded else None, self.batch_size,
                               self.max_frames, self.progress)
            held[role] = found
        return found
