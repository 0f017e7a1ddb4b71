"""The sequence store: packed and plain storage agree, indexing, sub-stores, filters, bad input."""

import logging

import numpy as np
import pytest

from mimicgait.data.records import DataError, SequenceRecord
from mimicgait.data.sources import open_dataset
from mimicgait.data.store import SequenceStore


def _records(lengths=(5, 12, 1, 9, 7), subjects=("b", "b", "a", "c", "a"), h=8, w=12):
    rng = np.random.default_rng(0)
    return [SequenceRecord(s, f"nm-0{i}", "090", (rng.random((t, h, w)) > 0.5).astype(np.uint8))
            for i, (t, s) in enumerate(zip(lengths, subjects, strict=True))]


@pytest.mark.parametrize("packed", [True, False])
def test_store_returns_exactly_what_went_in(packed):
    records = _records()
    store = SequenceStore.from_records(records, packed=packed)
    assert len(store) == 5 and store.frame_size == (8, 12)
    assert store.lengths.tolist() == [5, 12, 1, 9, 7]
    assert store.label_names.tolist() == ["a", "b", "c"]
    assert store.labels.tolist() == [1, 1, 0, 2, 0]
    assert store.subjects.tolist() == ["b", "b", "a", "c", "a"]
    for i, record in enumerate(records):
        assert np.array_equal(store.frames(i), record.frames)
        assert np.array_equal(store[i], record.frames)
    idx = np.array([11, 0, 3, 3])
    assert np.array_equal(store.frames_slice(1, idx), records[1].frames[idx])
    with pytest.raises(IndexError, match="12 frames"):
        store.frames_slice(1, np.array([12]))
    assert store.index("c", "nm-03", "090") == 3
    with pytest.raises(KeyError, match="c/nm-09/090"):
        store.index("c", "nm-09", "090")


def test_packed_store_is_eight_times_smaller():
    packed = SequenceStore.from_records(_records(w=64), packed=True)
    plain = SequenceStore.from_records(_records(w=64), packed=False)
    frames = 5 + 12 + 1 + 9 + 7
    assert packed._buffer.nbytes == frames * 8 * 8
    assert plain._buffer.nbytes == frames * 8 * 64
    assert packed.nbytes < plain.nbytes


def test_select_shares_frames_and_renumbers_labels():
    store = SequenceStore.from_records(_records())
    sub = store.select(store.subjects != "a")
    assert sub.keys == [store.keys[i] for i in (0, 1, 3)]
    assert sub.labels.tolist() == [0, 0, 1] and sub.label_names.tolist() == ["b", "c"]
    assert sub._buffer is store._buffer
    assert np.array_equal(sub.frames(2), store.frames(3))
    assert store.select([4]).index("a", "nm-04", "090") == 0


def test_min_frames_drops_and_logs(caplog):
    with caplog.at_level(logging.WARNING):
        store = SequenceStore.from_records(_records(), min_frames=6)
    assert store.lengths.tolist() == [12, 9, 7]
    assert [k for k, _ in store.dropped] == [("b", "nm-00", "090"), ("a", "nm-02", "090")]
    assert "a/nm-02/090 (1)" in caplog.text and "b/nm-00/090 (5)" in caplog.text
    with pytest.raises(ValueError, match="no usable sequences"):
        SequenceStore.from_records(_records(), min_frames=100)


def test_mixed_frame_sizes_are_an_error():
    records = _records() + [SequenceRecord("z", "nm-01", "000", np.zeros((3, 8, 16), np.uint8))]
    with pytest.raises(DataError, match="z/nm-01/000.*8x16.*8x12"):
        SequenceStore.from_records(records)


def test_from_source_skips_unreadable_entries_when_asked(tmp_path):
    good = (np.random.default_rng(1).random((4, 8, 16)) > 0.5).astype(np.uint8)
    np.savez_compressed(tmp_path / "001.npz", **{"nm-01/000": np.packbits(good, axis=-1),
                                                 "nm-01/018": np.zeros((4, 8), np.uint8)})  # 2-D: wrong shape
    with pytest.raises(DataError, match=r"001.npz\[nm-01/018\]"):
        SequenceStore.from_dataset(open_dataset(tmp_path))
    store = SequenceStore.from_dataset(open_dataset(tmp_path, errors="skip"), packed=False)
    assert store.keys == [("001", "nm-01", "000")]
    assert np.array_equal(store.frames(0), good)
    assert store.dropped[0][0] == ("001", "nm-01", "018") and "(T, H, W/8)" in store.dropped[0][1]
