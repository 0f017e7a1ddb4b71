"""Samplers: P x K structure, determinism (seed, resume, workers, ranks), frame choice, collation."""

import itertools
import logging
import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mimicgait.data.records import SequenceRecord
from mimicgait.data.samplers import (
    EvalDataset,
    FrameSampler,
    IdentityBatchSampler,
    SampleIndex,
    TrainingDataset,
    collate_sequences,
)
from mimicgait.data.store import SequenceStore

LABELS = np.repeat(np.arange(6), [5, 5, 4, 6, 2, 5])  # subject 4 has only 2 sequences


def _take(sampler, n):
    return [list(map(int, b)) for b in itertools.islice(iter(sampler), n)]


def test_batches_are_p_subjects_by_k_sequences(caplog):
    with caplog.at_level(logging.WARNING):
        sampler = IdentityBatchSampler(LABELS, ids_per_batch=4, seqs_per_id=3, seed=0)
    assert "fewer than 3 sequences" in caplog.text and ": 4" in caplog.text
    for batch in _take(sampler, 20):
        labels = LABELS[batch].reshape(4, 3)
        assert (labels == labels[:, :1]).all() and len(set(labels[:, 0])) == 4
        for row, label in zip(np.reshape(batch, (4, 3)), labels[:, 0], strict=True):
            if label != 4:  # enough sequences: drawn without replacement
                assert len(set(row)) == 3


def test_stream_is_deterministic_and_resumable():
    first = IdentityBatchSampler(LABELS, 4, 3, seed=7)
    stream = _take(first, 6)
    assert stream == _take(IdentityBatchSampler(LABELS, 4, 3, seed=7), 6)
    assert stream != _take(IdentityBatchSampler(LABELS, 4, 3, seed=8), 6)
    resumed = IdentityBatchSampler(LABELS, 4, 3, seed=7)
    resumed.load_state_dict({"batches": 4, "seed": 7})
    assert _take(resumed, 2) == stream[4:]
    assert first.state_dict() == {"batches": 6, "seed": 7}
    with pytest.raises(ValueError, match="seed 7"):
        IdentityBatchSampler(LABELS, 4, 3, seed=1).load_state_dict({"batches": 0, "seed": 7})


def test_ranks_split_the_global_batch_by_subject():
    whole = IdentityBatchSampler(LABELS, 4, 2, seed=3)
    ranks = [IdentityBatchSampler(LABELS, 4, 2, seed=3, rank=r, world_size=2) for r in (0, 1)]
    for b in range(5):
        parts = [ranks[r].batch(b) for r in (0, 1)]
        assert [int(i) for i in parts[0] + parts[1]] == [int(i) for i in whole.batch(b)]
        assert not set(LABELS[list(map(int, parts[0]))]) & set(LABELS[list(map(int, parts[1]))])
        assert [i.position for i in parts[1]] == [4, 5, 6, 7]
    with pytest.raises(ValueError, match="divisible"):
        IdentityBatchSampler(LABELS, 3, 2, world_size=2, rank=0)
    with pytest.raises(ValueError, match="only 6 subjects"):
        IdentityBatchSampler(LABELS, 8, 2)


def test_rank_and_world_size_come_from_torch_distributed(monkeypatch):
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    sampler = IdentityBatchSampler(LABELS, 4, 2, seed=3)
    assert (sampler.rank, sampler.world_size) == (1, 2)
    assert [int(i) for i in sampler.batch(0)] == [int(i) for i in IdentityBatchSampler(LABELS, 4, 2, seed=3,
                                                                                        rank=0).batch(0)][4:]


def test_sample_index_is_an_int_that_survives_pickling():
    index = SampleIndex(5, batch=3, position=2)
    copy = pickle.loads(pickle.dumps(index))
    assert copy == 5 and (copy.batch, copy.position) == (3, 2)
    assert np.arange(10)[copy] == 5


def test_frame_sampler_modes():
    rng = np.random.default_rng(0)
    window = FrameSampler("fixed", frames=4)(10, rng)
    assert len(window) == 4 and (np.diff(window) == 1).all() and 0 <= window[0] <= 6
    wrapped = FrameSampler("fixed", frames=7)(3, rng)
    assert len(wrapped) == 7 and set(wrapped) == {0, 1, 2} and ((np.diff(wrapped) % 3) == 1).all()
    unordered = FrameSampler("fixed", frames=5, ordered=False)(20, rng)
    assert len(set(unordered)) == 5 and (np.diff(unordered) > 0).all()
    padded = FrameSampler("fixed", frames=5, ordered=False)(3, rng)
    assert len(padded) == 5 and set(padded) == {0, 1, 2} and (np.diff(padded) >= 0).all()
    ranged = FrameSampler("range", min_frames=2, max_frames=4)
    assert {len(ranged(50, rng)) for _ in range(40)} == {2, 3, 4}
    assert FrameSampler("all")(6, rng).tolist() == list(range(6))
    with pytest.raises(ValueError, match="mode"):
        FrameSampler("every")
    with pytest.raises(ValueError, match="empty sequence"):
        FrameSampler()(0, rng)


def _store():
    rng = np.random.default_rng(0)
    records = [SequenceRecord(f"{s:03d}", f"nm-0{q}", "090",
                              (rng.random((6 + q + s, 4, 8)) > 0.5).astype(np.uint8))
               for s in range(4) for q in range(3)]
    return SequenceStore.from_records(records)


def test_training_data_does_not_depend_on_worker_count():
    store = _store()
    dataset = TrainingDataset(store, FrameSampler("range", min_frames=3, max_frames=8), seed=5)
    runs = []
    for workers in (0, 2):
        loader = DataLoader(dataset, batch_sampler=IdentityBatchSampler(store.labels, 2, 2, seed=5),
                            collate_fn=collate_sequences, num_workers=workers)
        runs.append(list(itertools.islice(iter(loader), 3)))
    for a, b in zip(*runs, strict=True):
        assert torch.equal(a["sils"], b["sils"]) and torch.equal(a["indices"], b["indices"])
        assert a["sils"].dtype == torch.uint8 and a["sils"].shape[0] == 4
        assert (a["lengths"] == a["sils"].shape[1]).all()  # one frame count per batch
        assert (a["labels"].numpy() == store.labels[a["indices"].numpy()]).all()
        for row, i in enumerate(a["indices"].tolist()):  # every sample is real frames of its sequence
            frames = torch.from_numpy(store.frames(i))
            assert all(any(torch.equal(f, g) for g in frames) for f in a["sils"][row])


def test_training_dataset_warns_about_short_sequences(caplog):
    store = _store()
    with caplog.at_level(logging.WARNING):
        TrainingDataset(store, FrameSampler("fixed", frames=10))
    assert "9 sequence(s) have fewer than 10 frames" in caplog.text and "min_frames=10" in caplog.text


def test_eval_dataset_and_collate_pad_whole_sequences():
    store = _store()
    batch = collate_sequences([EvalDataset(store)[i] for i in (0, 11)])
    assert batch["lengths"].tolist() == [6, 11]
    assert batch["sils"].shape == (2, 11, 4, 8)
    assert torch.equal(batch["sils"][0, :6], torch.from_numpy(store.frames(0)))
    assert batch["sils"][0, 6:].sum() == 0
    assert batch["labels"].tolist() == [0, 3] and batch["indices"].tolist() == [0, 11]
    with pytest.raises(ValueError, match="empty batch"):
        collate_sequences([])
