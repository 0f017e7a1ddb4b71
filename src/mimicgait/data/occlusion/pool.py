"""The other walkers a `crowd` occlusion draws from: (subject, frames) entries of one split.

A pool is built from the store the caller already holds: training builds it from the training
store (`TrainingData.occluder_pool`), evaluation from the store it evaluates, so an occluder can only
come from the split being trained or evaluated. Entries are addressed by index; `pick` turns a
uniform draw into an entry of another subject, so a walker is never their own occluder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mimicgait.errors import UserError


class OccluderPool:
    """Silhouette sequences `[T, H, W]` of some subjects, loaded on demand by entry index.

    `subjects[i]` is entry i's subject; `load(i)` returns its frames. With a store, entry i is the
    store's sequence i (`from_store`), so a training batch's `indices` name their own subjects.
    """

    def __init__(self, subjects: Sequence[str], load: Callable[[int], np.ndarray]) -> None:
        self.subjects = np.asarray([str(s) for s in subjects], dtype=str)  # [E]
        self._load = load

    @classmethod
    def from_store(cls, store) -> OccluderPool:
        """Every sequence of a `SequenceStore` (or anything with `keys` and `frames(i)`)."""
        return cls([k[0] for k in store.keys], store.frames)

    @classmethod
    def from_sequences(cls, entries: Sequence[tuple[str, np.ndarray]]) -> OccluderPool:
        """A pool of in-memory (subject, frames [T, H, W]) pairs (tests, small tools)."""
        frames = [np.asarray(f) for _, f in entries]
        return cls([s for s, _ in entries], frames.__getitem__)

    def __len__(self) -> int:
        return len(self.subjects)

    def __repr__(self) -> str:
        return f"OccluderPool({len(self)} sequences, {len(np.unique(self.subjects))} subjects)"

    def frames(self, index: int) -> np.ndarray:
        """Entry `index`'s silhouettes `[T, H, W]`."""
        return np.asarray(self._load(int(index)))

    def pick(self, u: float, exclude: str | None) -> int:
        """The entry a uniform draw `u` in [0, 1) selects among those not of subject `exclude`."""
        others = np.flatnonzero(self.subjects != exclude) if exclude is not None else np.arange(len(self))
        if len(others) == 0:
            raise UserError(
                f"the crowd occlusion needs a walker of another subject than {exclude!r}, but the "
                f"occluder pool holds only {', '.join(sorted(set(self.subjects.tolist()))) or 'nothing'}; "
                "use data with two or more subjects or leave 'crowd' out of the kinds"
            )
        return int(others[min(int(u * len(others)), len(others) - 1)])


def require_pool(pool: OccluderPool | None) -> OccluderPool:
    """`pool`, or a `UserError` saying a crowd occlusion needs one."""
    if pool is None:
        raise UserError(
            "the crowd occlusion needs other walkers to draw from: pass an OccluderPool "
            "(training and evaluation build one from their data) or leave 'crowd' out of the kinds"
        )
    return pool
