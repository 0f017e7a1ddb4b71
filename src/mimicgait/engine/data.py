"""Training data from a config: which subjects, the P x K loader, and the validation split.

The loader is endless and a pure function of (seed, batch number), so resuming at iteration i
only needs the sampler told that i batches were consumed (see `mimicgait.data.samplers`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch.utils.data import DataLoader

from mimicgait.data.partition import parse_subjects
from mimicgait.data.samplers import FrameSampler, IdentityBatchSampler, TrainingDataset, collate_sequences
from mimicgait.data.store import SequenceStore
from mimicgait.errors import UserError

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


def _training_hint(message: str) -> str:
    """A data-layer message with its `--partition` advice in the form training takes it."""
    message = re.sub(r"(pass|fix|with) --partition( FILE)?", r"\1 --set data.partition=FILE", message)
    return message.replace("--partition", "--set data.partition=FILE")


def load_data(data_dir: str, data_cfg: dict[str, Any]) -> TrainingData:
    """Open `data_dir`, pick the training subjects (data.subjects, else the partition split, else all)
    minus data.val_subjects, and load both stores."""
    from mimicgait.data.partition import split_subjects
    from mimicgait.data.sources import open_source

    try:
        source = open_source(data_dir, partition=data_cfg.get("partition"))
        existing = set(source.subjects())
        subjects = parse_subjects(data_cfg.get("subjects"), "data.subjects")
        if subjects is None and source.partition is not None:
            subjects = split_subjects(source.partition, data_cfg.get("split", "train"), existing)
    except UserError as err:  # the data layer's hints name --partition, which training spells differently
        raise UserError(_training_hint(str(err))) from None
    if subjects is None:
        subjects = sorted(existing)
    val = parse_subjects(data_cfg.get("val_subjects"), "data.val_subjects") or []
    for name, chosen in (("data.subjects", subjects), ("data.val_subjects", val)):
        missing = sorted(set(chosen) - existing)
        if missing:
            raise UserError(
                f"{name} names {len(missing)} subject(s) absent from {data_dir}: "
                f"{', '.join(missing[:10])}; fix the config or --data, or on other data "
                f"--set {name}=null"
            )
    train_subjects = [s for s in subjects if s not in set(val)]
    if not train_subjects:
        raise UserError(f"no training subjects left in {data_dir} after removing data.val_subjects")
    min_frames = int(data_cfg.get("min_frames", 1))
    train = SequenceStore.from_source(source, subjects=train_subjects, min_frames=min_frames)
    val_store = SequenceStore.from_source(source, subjects=val, min_frames=min_frames) if val else None
    log.info("training on %s%s", train, f", validating on {val_store}" if val_store is not None else "")
    return TrainingData(train, val_store, str(data_dir))


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


def frame_sampler(frames_cfg: dict[str, Any]) -> FrameSampler:
    return FrameSampler(
        mode=frames_cfg.get("mode", "range"),
        frames=int(frames_cfg.get("frames", 30)),
        min_frames=int(frames_cfg.get("min_frames", 20)),
        max_frames=int(frames_cfg.get("max_frames", 40)),
        ordered=bool(frames_cfg.get("ordered", True)),
    )


def training_batches(
    store: SequenceStore,
    data_cfg: dict[str, Any],
    seed: int,
    start: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Endless P x K batches (this rank's share), starting after `start` consumed batches."""
    p, k = int(data_cfg["ids_per_batch"]), int(data_cfg["seqs_per_id"])
    check_batch(store, p, k, "training data")
    sampler = IdentityBatchSampler(store.labels, p, k, seed=seed, rank=rank, world_size=world_size)
    sampler.load_state_dict({"batches": start, "seed": seed})
    dataset = TrainingDataset(store, frame_sampler(data_cfg["frames"]), seed=seed)
    workers = int(data_cfg.get("workers", 0))
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate_sequences,
        num_workers=workers,
        persistent_workers=workers > 0,
    )
    return iter(loader)
