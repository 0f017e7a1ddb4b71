"""All sequences of a split in memory, compact and indexed, loaded and validated once.

Training draws thousands of random frame windows per second; re-reading files for each would be
the bottleneck, and holding CASIA-B's training split unpacked would take about 2.7 GB. The store
keeps every frame in one contiguous buffer, bit-packed along the width by default (8 pixels per
byte: about 330 MB for CASIA-B's 74 training subjects) or as plain uint8, with per-sequence offsets
and lengths. Decoding a few frames of one sequence unpacks only those frames.

Sub-stores made by `select` share the buffer, so train/validation splits cost no copies; their
`labels` are renumbered 0..n_ids-1 over their own subjects (what a classifier head needs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from mimicgait.data.records import DataError, SequenceRecord
from mimicgait.errors import UserError

if TYPE_CHECKING:
    from mimicgait.data.sources import SequenceSource

log = logging.getLogger(__name__)

Key = tuple[str, str, str]


class SequenceStore:
    """In-memory silhouette sequences with an index by subject / condition / view.

    Public arrays (one entry per sequence): `subjects`, `conditions`, `views` (str), `lengths`
    (frames, int64), `labels` (int64 subject index in sorted subject order); `label_names` maps a
    label back to its subject id. `dropped` lists `(key, reason)` for sequences left out on load.
    """

    def __init__(
        self,
        buffer: np.ndarray,
        offsets: np.ndarray,
        lengths: np.ndarray,
        keys: list[Key],
        width: int,
        packed: bool,
        dropped: list[tuple[Key, str]] | None = None,
    ) -> None:
        self._buffer = buffer  # [total_frames, H, ceil(W/8)] packed, or [total_frames, H, W]
        self._offsets = np.asarray(offsets, dtype=np.int64)  # [n] first frame of each sequence
        self.lengths = np.asarray(lengths, dtype=np.int64)  # [n]
        self.keys = list(keys)
        self.packed = packed
        self.frame_size = (int(buffer.shape[1]), int(width))
        self.dropped = list(dropped or [])
        columns = list(zip(*self.keys, strict=True)) if self.keys else [(), (), ()]
        self.subjects = np.asarray(columns[0], dtype=str)
        self.conditions = np.asarray(columns[1], dtype=str)
        self.views = np.asarray(columns[2], dtype=str)
        self.label_names = np.unique(self.subjects)  # sorted subject ids
        self.labels = np.searchsorted(self.label_names, self.subjects).astype(np.int64)
        self._index: dict[Key, int] | None = None

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_dataset(
        cls,
        source: SequenceSource,
        subjects: Iterable[str] | None = None,
        packed: bool = True,
        min_frames: int = 1,
    ) -> SequenceStore:
        """Load every sequence of `source` (or of the given subjects).

        Unreadable files raise, or are dropped with their reason when the source was opened with
        `errors='skip'`. Sequences shorter than `min_frames` are dropped and logged.
        """

        def items() -> Iterator[tuple[Key, np.ndarray | None, int | str]]:
            for key in source.list_keys(subjects):
                seen = len(source.problems)
                got = source.try_read_packed(key) if packed else _unpacked(source.try_read(key))
                if got is None:
                    reason = source.problems[-1][1] if len(source.problems) > seen else "unreadable"
                    yield key, None, reason
                else:
                    yield key, got[0], got[1]

        return cls._assemble(items(), packed, min_frames, strict=source.errors == "raise", origin=source.root)

    @classmethod
    def from_records(
        cls, records: Iterable[SequenceRecord], packed: bool = True, min_frames: int = 1
    ) -> SequenceStore:
        """Build a store from records already in memory (tests, synthetic data, converters)."""

        def items() -> Iterator[tuple[Key, np.ndarray, int]]:
            for record in records:
                frames = record.frames  # [T, H, W] uint8 {0, 1}
                if frames.ndim != 3 or frames.dtype != np.uint8:
                    raise DataError(f"sequence {'/'.join(record.key)}: frames must be (T, H, W) uint8, "
                                    f"got {frames.dtype} {frames.shape}")
                if packed:
                    yield record.key, np.packbits(frames, axis=-1), frames.shape[-1]
                else:
                    yield record.key, frames, frames.shape[-1]

        return cls._assemble(items(), packed, min_frames, strict=True, origin="records")

    @classmethod
    def _assemble(
        cls,
        items: Iterable[tuple[Key, np.ndarray | None, int | str]],
        packed: bool,
        min_frames: int,
        strict: bool,
        origin: object,
    ) -> SequenceStore:
        buffer = _GrowingBuffer()
        lengths: list[int] = []
        keys: list[Key] = []
        dropped: list[tuple[Key, str]] = []
        shape: tuple[int, int, int] | None = None  # (H, stored width, W) of the first sequence
        for key, frames, extra in items:
            if frames is None:
                dropped.append((key, str(extra)))
                continue
            if len(frames) < min_frames:
                dropped.append((key, f"{len(frames)} frames < min_frames={min_frames}"))
                continue
            this = (frames.shape[1], frames.shape[2], int(extra))
            if shape is None:
                shape = this
            elif this != shape:
                reason = (f"frame size {this[0]}x{this[2]} differs from the first sequence's "
                          f"{shape[0]}x{shape[2]}")
                if strict:
                    raise DataError(f"{origin}: sequence {'/'.join(key)}: {reason}; re-run the pretreatment "
                                    "so every sequence has one frame size")
                dropped.append((key, reason))
                continue
            buffer.append(frames)
            lengths.append(len(frames))
            keys.append(key)
        short = [f"{'/'.join(k)} ({r.split(' ', 1)[0]})" for k, r in dropped if "min_frames" in r]
        if short:
            log.warning("dropped %d sequence(s) with fewer than %d frames: %s", len(short), min_frames,
                        ", ".join(short[:20]) + (", ..." if len(short) > 20 else ""))
        if shape is None:
            raise UserError(f"{origin}: no usable sequences (loaded 0, dropped {len(dropped)}); "
                             "check --data and min_frames")
        counts = np.asarray(lengths, dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
        return cls(buffer.finish(), offsets, counts, keys, shape[2], packed, dropped)

    # -- access --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.frames(i)

    def frames(self, i: int) -> np.ndarray:
        """All frames of sequence i: `[T, H, W]` uint8 in {0, 1} (a fresh array)."""
        start = self._offsets[i]
        return self._decode(self._buffer[start : start + self.lengths[i]])

    def frames_slice(self, i: int, idx: np.ndarray) -> np.ndarray:
        """Frames `idx` (positions within sequence i) only: `[len(idx), H, W]` uint8 in {0, 1}."""
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.lengths[i]):
            raise IndexError(f"frame indices {idx.min()}..{idx.max()} outside sequence {i} "
                             f"of {self.lengths[i]} frames")
        chunk = self._buffer[self._offsets[i] + idx]  # fancy indexing: already a copy
        return np.unpackbits(chunk, axis=-1, count=self.frame_size[1]) if self.packed else chunk

    def _decode(self, chunk: np.ndarray) -> np.ndarray:
        if self.packed:
            return np.unpackbits(chunk, axis=-1, count=self.frame_size[1])
        return chunk.copy()  # never hand out a view that could write into the store

    def index(self, subject: str, condition: str, view: str) -> int:
        """Position of one sequence; `KeyError` naming it when absent."""
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.keys)}
        try:
            return self._index[(subject, condition, view)]
        except KeyError:
            raise KeyError(f"no sequence {subject}/{condition}/{view} in this store") from None

    def select(self, mask_or_indices: np.ndarray | Iterable[int]) -> SequenceStore:
        """A sub-store of the chosen sequences (bool mask or indices) sharing this store's frames."""
        chosen = np.asarray(mask_or_indices)
        if chosen.dtype == np.bool_:
            if chosen.shape != (len(self),):
                raise ValueError(f"mask has shape {chosen.shape}, expected ({len(self)},)")
            chosen = np.flatnonzero(chosen)
        chosen = chosen.astype(np.int64, copy=False).reshape(-1)
        return SequenceStore(self._buffer, self._offsets[chosen], self.lengths[chosen],
                             [self.keys[i] for i in chosen], self.frame_size[1], self.packed, self.dropped)

    @property
    def nbytes(self) -> int:
        """Bytes held: the frame buffer (shared with sub-stores) plus the per-sequence arrays."""
        arrays = (self._buffer, self._offsets, self.lengths, self.labels, self.subjects, self.conditions,
                  self.views)
        return int(sum(a.nbytes for a in arrays))

    def __repr__(self) -> str:
        h, w = self.frame_size
        return (f"SequenceStore({len(self)} sequences, {len(self.label_names)} subjects, {h}x{w}, "
                f"{'packed' if self.packed else 'uint8'}, {self.nbytes / 2**20:.1f} MiB)")


class _GrowingBuffer:
    """Frames appended sequence by sequence into one array that grows in place.

    `ndarray.resize` reallocates (on Linux large blocks are remapped, not copied), so the peak
    memory stays near the final size instead of the 2x of collecting chunks and concatenating.
    """

    def __init__(self) -> None:
        self._array: np.ndarray | None = None
        self._used = 0

    def append(self, frames: np.ndarray) -> None:
        if self._array is None:
            self._array = np.empty((max(1024, len(frames)), *frames.shape[1:]), dtype=frames.dtype)
        needed = self._used + len(frames)
        if needed > len(self._array):
            self._array.resize((max(needed, 2 * len(self._array)), *self._array.shape[1:]), refcheck=False)
        self._array[self._used : needed] = frames
        self._used = needed

    def finish(self) -> np.ndarray:
        """The filled part, trimmed in place: `[total_frames, ...]`."""
        assert self._array is not None
        self._array.resize((self._used, *self._array.shape[1:]), refcheck=False)
        return self._array


def _unpacked(record: SequenceRecord | None) -> tuple[np.ndarray, int] | None:
    return None if record is None else (record.frames, record.frames.shape[-1])
