"""Batches for training and evaluation: which sequences, which frames, and how they are stacked.

Training batches are P subjects x K sequences (what batch-hard triplet losses and MiCKD need:
every anchor has positives and negatives in the batch). Everything random here is a pure function
of (seed, batch number, position in the global batch), so:
- the number of DataLoader workers does not change the data (workers only change who computes it);
- a run resumed from `state_dict()` sees exactly the batches an uninterrupted run would have seen;
- with torch.distributed, every rank computes the same global batch and keeps its own subjects,
  and the frames chosen for a sequence do not depend on the number of ranks.

The batch sampler passes the batch number and position to the dataset inside the indices it
yields: `SampleIndex` is an `int` (usable anywhere an index is) carrying both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mimicgait.data.store import SequenceStore
from mimicgait.errors import UserError

log = logging.getLogger(__name__)


class SampleIndex(int):
    """A sequence index that also says which global batch and position it was drawn for."""

    batch: int
    position: int

    def __new__(cls, index: int, batch: int, position: int) -> SampleIndex:
        obj = super().__new__(cls, index)
        obj.batch = batch
        obj.position = position
        return obj

    def __reduce__(self) -> tuple[type, tuple[int, int, int]]:  # survives the trip to DataLoader workers
        return (SampleIndex, (int(self), self.batch, self.position))

    def __repr__(self) -> str:
        return f"SampleIndex({int(self)}, batch={self.batch}, position={self.position})"


def _distributed(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """(rank, world size): as given, else from an initialised torch.distributed, else (0, 1)."""
    if rank is not None or world_size is not None:
        rank, world_size = rank or 0, world_size or 1
    elif torch.distributed.is_available() and torch.distributed.is_initialized():
        rank, world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
    else:
        rank, world_size = 0, 1
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside world size {world_size}")
    return rank, world_size


class IdentityBatchSampler:
    """An endless stream of P x K batches of sequence indices, for `DataLoader(batch_sampler=...)`.

    Each global batch draws `ids_per_batch` (P) distinct subjects, then `seqs_per_id` (K) sequences
    of each: without replacement, or with replacement for subjects that have fewer than K (logged
    once). With `world_size > 1` the global batch is split by subject: rank r yields the K sequences
    of subjects r*P/W .. (r+1)*P/W-1, so each rank still sees whole P x K groups.
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray,
        ids_per_batch: int,
        seqs_per_id: int,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        labels = np.asarray(labels)
        if ids_per_batch < 1 or seqs_per_id < 1:
            raise UserError(f"need ids_per_batch >= 1 and seqs_per_id >= 1, got {ids_per_batch}, "
                             f"{seqs_per_id}")
        self.rank, self.world_size = _distributed(rank, world_size)
        if ids_per_batch % self.world_size:
            raise UserError(f"ids_per_batch={ids_per_batch} must be divisible by the world size "
                             f"{self.world_size} so each rank gets whole subjects")
        ids, inverse = np.unique(labels, return_inverse=True)
        if len(ids) < ids_per_batch:
            raise UserError(f"ids_per_batch={ids_per_batch} but the data has only {len(ids)} subjects; "
                             "lower ids_per_batch or load more subjects")
        order = np.argsort(inverse, kind="stable")
        self._pools = np.split(order, np.cumsum(np.bincount(inverse))[:-1])  # sequence indices per id
        short = [str(ids[i]) for i, pool in enumerate(self._pools) if len(pool) < seqs_per_id]
        if short:
            log.warning("%d subject(s) have fewer than %d sequences and are sampled with replacement: %s",
                        len(short), seqs_per_id, ", ".join(short[:20]) + (", ..." if len(short) > 20 else ""))
        self.ids_per_batch = ids_per_batch
        self.seqs_per_id = seqs_per_id
        self.seed = seed
        self._batches = 0

    def global_batch(self, batch: int) -> np.ndarray:
        """The whole batch number `batch` across all ranks: `[P, K]` sequence indices."""
        rng = np.random.default_rng([self.seed, batch])
        chosen = rng.choice(len(self._pools), self.ids_per_batch, replace=False)  # [P]
        rows = []
        for c in chosen:
            pool = self._pools[c]
            rows.append(pool[rng.choice(len(pool), self.seqs_per_id, replace=len(pool) < self.seqs_per_id)])
        return np.stack(rows)  # [P, K]

    def batch(self, batch: int) -> list[SampleIndex]:
        """This rank's part of batch number `batch`, as indices tagged with (batch, position)."""
        per_rank = self.ids_per_batch // self.world_size
        grid = self.global_batch(batch)  # [P, K]
        first = self.rank * per_rank * self.seqs_per_id
        mine = grid[self.rank * per_rank : (self.rank + 1) * per_rank].reshape(-1)  # [P/W * K]
        return [SampleIndex(int(i), batch, first + p) for p, i in enumerate(mine)]

    def __iter__(self) -> Iterator[list[SampleIndex]]:
        while True:
            self._batches += 1  # counted before yielding: the state names the next batch to produce
            yield self.batch(self._batches - 1)

    def state_dict(self) -> dict[str, int]:
        """{'batches': batches produced so far, 'seed'}.

        A DataLoader draws batches ahead of the training loop (prefetching); to resume exactly,
        save `{'batches': steps_consumed, 'seed': seed}` from the training loop instead.
        """
        return {"batches": self._batches, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue the stream after `state['batches']` batches."""
        if state.get("seed", self.seed) != self.seed:
            raise UserError(f"sampler state is for seed {state['seed']}, this sampler uses seed {self.seed}")
        self._batches = int(state["batches"])


class FrameSampler:
    """Which frames of a sequence go into a training sample.

    Modes: 'fixed' (`frames` frames), 'range' (a count drawn from [min_frames, max_frames], the
    same for every sequence of a batch so batches stay rectangular), 'all' (every frame in order,
    for evaluation). `ordered=True` takes a contiguous random window (wrapping around to the start
    when the sequence is shorter); `ordered=False` takes sorted random frames (every frame once,
    plus random repeats, when the sequence is shorter).
    """

    def __init__(
        self,
        mode: str = "fixed",
        frames: int = 30,
        min_frames: int = 20,
        max_frames: int = 40,
        ordered: bool = True,
    ) -> None:
        if mode not in ("fixed", "range", "all"):
            raise UserError(f"frame sampling mode must be 'fixed', 'range' or 'all', not {mode!r}")
        if mode == "fixed" and frames < 1:
            raise UserError(f"frames must be >= 1, got {frames}")
        if mode == "range" and not 1 <= min_frames <= max_frames:
            raise UserError(f"need 1 <= min_frames <= max_frames, got {min_frames}, {max_frames}")
        self.mode, self.frames, self.ordered = mode, frames, ordered
        self.min_frames, self.max_frames = min_frames, max_frames

    def count(self, rng: np.random.Generator) -> int | None:
        """Frames per sequence for one batch (None for 'all')."""
        if self.mode == "fixed":
            return self.frames
        if self.mode == "range":
            return int(rng.integers(self.min_frames, self.max_frames + 1))
        return None

    def __call__(self, length: int, rng: np.random.Generator, n: int | None = None) -> np.ndarray:
        """Frame indices into a sequence of `length` frames; `n` overrides the drawn count."""
        if length < 1:
            raise UserError("cannot sample frames from an empty sequence; load the store with "
                             "min_frames >= 1")
        if self.mode == "all":
            return np.arange(length)
        n = self.count(rng) if n is None else n
        if self.ordered:
            if length >= n:
                return int(rng.integers(0, length - n + 1)) + np.arange(n)
            return (int(rng.integers(0, length)) + np.arange(n)) % length
        if length >= n:
            return np.sort(rng.choice(length, n, replace=False))
        return np.sort(np.concatenate([np.arange(length), rng.integers(0, length, n - length)]))


class TrainingDataset(Dataset):
    """Training samples: a few frames of one sequence, chosen by a `FrameSampler`.

    Indexed by the `SampleIndex`es of `IdentityBatchSampler` (frames then depend only on seed,
    batch and position) or by plain ints (frames depend on seed, `epoch` and index; call
    `set_epoch` to vary them between epochs).
    """

    def __init__(self, store: SequenceStore, frame_sampler: FrameSampler, seed: int = 0) -> None:
        if len(store) and store.lengths.min() < 1:
            raise UserError("the store holds sequences with 0 frames; load it with min_frames >= 1")
        needed = {"fixed": frame_sampler.frames, "range": frame_sampler.min_frames}.get(frame_sampler.mode, 1)
        short = int((store.lengths < needed).sum())
        if short:
            log.warning("%d sequence(s) have fewer than %d frames; their frames will be repeated "
                        "(load the store with min_frames=%d to drop them)", short, needed, needed)
        self.store = store
        self.frame_sampler = frame_sampler
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, item: int) -> dict[str, Any]:
        i = int(item)
        if isinstance(item, SampleIndex):
            batch_rng = np.random.default_rng([self.seed, 0, item.batch])
            item_rng = np.random.default_rng([self.seed, 1, item.batch, item.position])
        else:
            batch_rng = np.random.default_rng([self.seed, 2, self.epoch])
            item_rng = np.random.default_rng([self.seed, 3, self.epoch, i])
        n = self.frame_sampler.count(batch_rng)
        idx = self.frame_sampler(int(self.store.lengths[i]), item_rng, n)
        sils = torch.from_numpy(self.store.frames_slice(i, idx))  # [S, H, W] uint8
        return {"sils": sils, "label": int(self.store.labels[i]), "index": i}


class EvalDataset(Dataset):
    """Every sequence of a store, whole and in order, for feature extraction."""

    def __init__(self, store: SequenceStore) -> None:
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i: int) -> dict[str, Any]:
        i = int(i)
        sils = torch.from_numpy(self.store.frames(i))  # [T, H, W] uint8
        return {"sils": sils, "label": int(self.store.labels[i]), "index": i}


def collate_sequences(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack variable-length samples: 'sils' `[N, S_max, H, W]` uint8 zero-padded after each
    sequence's end, 'lengths' `[N]`, 'labels' `[N]`, 'indices' `[N]` (all long)."""
    if not items:
        raise ValueError("cannot collate an empty batch")
    lengths = torch.tensor([it["sils"].shape[0] for it in items], dtype=torch.long)  # [N]
    _, height, width = items[0]["sils"].shape
    sils = torch.zeros((len(items), int(lengths.max()), height, width), dtype=torch.uint8)  # [N, S, H, W]
    for row, it in enumerate(items):
        sils[row, : it["sils"].shape[0]] = it["sils"]
    return {
        "sils": sils,
        "lengths": lengths,
        "labels": torch.tensor([it["label"] for it in items], dtype=torch.long),
        "indices": torch.tensor([it["index"] for it in items], dtype=torch.long),
    }
