"""Training data: which subjects, the P x K loader, and the validation split.

A `DataSelection` says which sequences train and validate; `TrainingDataCache` opens a dataset once
and loads a selection's stores once, so the training jobs of one pipeline run share them (a
standalone `mimicgait train` makes its own). The loader is endless and a pure function of (seed,
batch number), so resuming at iteration i only needs the sampler told that i batches were consumed
(see `mimicgait.data.samplers`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch.utils.data import DataLoader

from mimicgait.data.partition import parse_subjects
from mimicgait.data.samplers import FrameSampler, IdentityBatchSampler, TrainingDataset, collate_sequences
from mimicgait.data.store import SequenceStore
from mimicgait.errors import UserError

if TYPE_CHECKING:
    from mimicgait.data.occlusion import OccluderPool
    from mimicgait.data.sources import SequenceSource

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    """The training store, the optional validation store and where they came from."""

    train: SequenceStore
    val: SequenceStore | None
    root: str

    @property
    def num_classes(self) -> int:
        return len(self.train.label_names)

    def occluder_pool(self) -> OccluderPool:
        """The other walkers a training batch's crowd occlusion draws from: the training sequences
        only (entry i is training sequence i, as a batch's `indices` count), never the validation
        subjects'."""
        from mimicgait.data.occlusion import OccluderPool

        return OccluderPool.from_store(self.train)


def _training_hint(message: str) -> str:
    """A data-layer message with its `--partition` advice in the form training takes it."""
    message = re.sub(r"(pass|fix|with) --partition( FILE)?", r"\1 --set data.partition=FILE", message)
    return message.replace("--partition", "--set data.partition=FILE")


@contextmanager
def _training_hints() -> Iterator[None]:
    """The data layer's hints name --partition, which training spells `--set data.partition=FILE`."""
    try:
        yield
    except UserError as err:
        raise UserError(_training_hint(str(err))) from None


@dataclass(frozen=True)
class DataSelection:
    """Which sequences a run trains and validates on (the `data.*` keys that choose them): the
    `partition` file (None: the data's own), the training subjects (`subjects`, else the
    partition's `split`, else all) minus `val_subjects`, sequences of at least `min_frames` frames.
    Subjects are lists or ranges like '001-062'."""

    partition: str | None = None
    subjects: str | list[str] | None = None
    split: str = "train"
    val_subjects: str | list[str] | None = None
    min_frames: int = 1


def open_training_source(data_dir: str | Path, partition: str | None = None) -> SequenceSource:
    """`data_dir` opened as training reads it (errors raise, with training's hints)."""
    from mimicgait.data.sources import open_dataset

    with _training_hints():
        return open_dataset(data_dir, partition=partition)


def select_data(source: SequenceSource, selection: DataSelection, data_dir: str | Path) -> TrainingData:
    """Load the training and validation stores `selection` picks from the opened `source` of
    `data_dir`; subjects it names that the data lacks are refused (`UserError`)."""
    from mimicgait.data.partition import split_subjects

    with _training_hints():
        existing = set(source.subjects())
        chosen = parse_subjects(selection.subjects, "data.subjects")
        if chosen is None and source.partition is not None:
            chosen = split_subjects(source.partition, selection.split, existing)
    if chosen is None:
        chosen = sorted(existing)
    val = parse_subjects(selection.val_subjects, "data.val_subjects") or []
    for name, named in (("data.subjects", chosen), ("data.val_subjects", val)):
        missing = sorted(set(named) - existing)
        if missing:
            raise UserError(
                f"{name} names {len(missing)} subject(s) absent from {data_dir}: "
                f"{', '.join(missing[:10])}; fix the config or --data, or on other data "
                f"--set {name}=null"
            )
    train_subjects = [s for s in chosen if s not in set(val)]
    if not train_subjects:
        raise UserError(f"no training subjects left in {data_dir} after removing data.val_subjects")
    min_frames = selection.min_frames
    train = SequenceStore.from_dataset(source, subjects=train_subjects, min_frames=min_frames)
    val_store = SequenceStore.from_dataset(source, subjects=val, min_frames=min_frames) if val else None
    log.info("training on %s%s", train, f", validating on {val_store}" if val_store is not None else "")
    return TrainingData(train, val_store, str(data_dir))


def load_data(
    data_dir: str,
    partition: str | None = None,
    subjects: str | list[str] | None = None,
    split: str = "train",
    val_subjects: str | list[str] | None = None,
    min_frames: int = 1,
) -> TrainingData:
    """Open `data_dir` and load the stores of that `DataSelection` (see there)."""
    selection = DataSelection(partition, subjects, split, val_subjects, min_frames)
    return TrainingDataCache(data_dir).training(selection)


class TrainingDataCache:
    """The training data of one data directory, opened once per partition file and loaded once per
    selection: the training jobs of one pipeline run share it (every job selects the same data
    unless a variant changes `data.*`). Only the latest selection's stores are kept, so a pipeline
    holds one training set in memory at a time. `sources` are datasets the caller opened already,
    by the partition file they were opened with."""

    def __init__(
        self, data_dir: str | Path, sources: Mapping[str | None, SequenceSource] | None = None
    ) -> None:
        self.data_dir = str(data_dir)
        self._sources: dict[str | None, SequenceSource] = dict(sources or {})
        self._latest: tuple[DataSelection, TrainingData] | None = None

    def source(self, partition: str | None) -> SequenceSource:
        """The dataset opened with `partition` (None: the data's own), opened on first use."""
        if partition not in self._sources:
            self._sources[partition] = open_training_source(self.data_dir, partition)
        return self._sources[partition]

    def training(self, selection: DataSelection) -> TrainingData:
        """The stores `selection` picks, loaded unless the previous call selected the same."""
        if self._latest is None or self._latest[0] != selection:
            self._latest = None  # the previous selection's stores go before the next are loaded
            source = self.source(selection.partition)
            self._latest = (selection, select_data(source, selection, self.data_dir))
        return self._latest[1]


def check_batch(store: SequenceStore, ids_per_batch: int, seqs_per_id: int, where: str) -> None:
    """Refuse data that cannot fill a P x K batch: fewer than P subjects with K sequences each."""
    counts = np.bincount(store.labels)
    full = int((counts >= seqs_per_id).sum())
    if full < ids_per_batch:
        raise UserError(
            f"{where}: a batch needs {ids_per_batch} subjects with {seqs_per_id} sequences each, but only "
            f"{full} of {len(counts)} subjects have {seqs_per_id} or more; lower data.ids_per_batch / "
            "data.seqs_per_id or add subjects"
        )


@dataclass(frozen=True)
class BatchSettings:
    """How training batches are drawn: P subjects x K sequences, which frames, how many workers."""

    ids_per_batch: int
    seqs_per_id: int
    frames: FrameSampler
    workers: int


def training_batches(
    store: SequenceStore,
    settings: BatchSettings,
    seed: int,
    start: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Endless P x K batches (this rank's share), starting after `start` consumed batches."""
    p, k = settings.ids_per_batch, settings.seqs_per_id
    check_batch(store, p, k, "training data")
    sampler = IdentityBatchSampler(store.labels, p, k, seed=seed, rank=rank, world_size=world_size)
    sampler.load_state_dict({"batches": start, "seed": seed})
    dataset = TrainingDataset(store, settings.frames, seed=seed)
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate_sequences,
        num_workers=settings.workers,
        persistent_workers=settings.workers > 0,
    )
    return iter(loader)
