"""Sources: format detection, the three layouts, and every kind of bad input named clearly."""

import json
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from mimicgait.data.partition import load_partition, split_subjects
from mimicgait.data.pickle_safe import load_array
from mimicgait.data.records import DataError, to_binary
from mimicgait.data.sources import detect_format, open_dataset
from mimicgait.errors import UserError

KEYS = [("001", "nm-01", "000"), ("001", "nm-01", "090"), ("001", "bg-01", "090"), ("002", "nm-01", "000")]


def _frames(seed: int, t: int = 5, h: int = 16, w: int = 16) -> np.ndarray:
    return (np.random.default_rng(seed).random((t, h, w)) > 0.5).astype(np.uint8)  # [T, H, W] {0, 1}


def write_npz(root, keys=KEYS, w=16):
    root.mkdir(parents=True, exist_ok=True)
    for subject in sorted({k[0] for k in keys}):
        entries = {f"{c}/{v}": np.packbits(_frames(i, w=w), axis=-1)
                   for i, (s, c, v) in enumerate(keys) if s == subject}
        np.savez_compressed(root / f"{subject}.npz", **entries)
    return root


def write_pkl(root, keys=KEYS):
    for i, key in enumerate(keys):
        folder = root.joinpath(*key)
        folder.mkdir(parents=True)
        (folder / f"{key[2]}.pkl").write_bytes(pickle.dumps(_frames(i) * np.uint8(255)))
    return root


def test_npz_and_pkl_yield_the_same_records(tmp_path):
    npz = open_dataset(write_npz(tmp_path / "npz"))
    pkl = open_dataset(write_pkl(tmp_path / "pkl"))
    assert (npz.format, pkl.format) == ("npz", "pkl")
    assert npz.list_keys() == pkl.list_keys() == sorted(KEYS)
    assert npz.subjects() == ["001", "002"]
    for a, b in zip(npz.iter_records(), pkl.iter_records(), strict=True):
        assert a.key == b.key
        assert a.frames.dtype == np.uint8 and a.frames.shape == (5, 16, 16)
        assert np.array_equal(a.frames, b.frames)
        assert np.array_equal(a.frames, _frames(KEYS.index(a.key)))
    assert [r.subject for r in pkl.iter_records(["002"])] == ["002"]
    with pytest.raises(ValueError, match="003"):
        pkl.list_keys(["003"])


def test_npz_width_entry_allows_widths_not_multiple_of_8(tmp_path):
    frames = _frames(0, w=12)
    np.savez_compressed(tmp_path / "001.npz", **{"nm-01/000": np.packbits(frames, axis=-1),
                                                 "__width__": np.array([12])})
    source = open_dataset(tmp_path)
    assert source.list_keys() == [("001", "nm-01", "000")]
    assert np.array_equal(next(source.iter_records()).frames, frames)


def test_detection_errors_name_the_directory_and_fix(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        open_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        open_dataset(tmp_path / "empty")
    odd = tmp_path / "odd" / "001" / "nm-01" / "000"
    odd.mkdir(parents=True)
    (odd / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="unknown data format"):
        detect_format(tmp_path / "odd")
    write_npz(tmp_path / "data" / "train")
    with pytest.raises(ValueError, match="train"):
        open_dataset(tmp_path / "data")


def test_partition_picked_from_parent_and_checked(tmp_path):
    write_npz(tmp_path / "train")
    (tmp_path / "partition.json").write_text(json.dumps({"TRAIN_SET": ["001", "002"], "TEST_SET": ["075"]}))
    source = open_dataset(tmp_path / "train")
    assert source.partition == {"TRAIN_SET": ["001", "002"], "TEST_SET": ["075"]}
    assert split_subjects(source.partition, "train", source.subjects()) == ["001", "002"]
    with pytest.raises(ValueError, match="075"):
        split_subjects(source.partition, "TEST_SET", source.subjects())
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"TRAIN_SET": ["500"], "TEST_SET": ["501"]}))
    with pytest.raises(ValueError, match="names none"):
        open_dataset(tmp_path / "train", partition=other)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        load_partition(bad)
    bad.write_text(json.dumps({"TRAIN_SET": ["1"], "TEST_SET": ["1"]}))
    with pytest.raises(ValueError, match="both"):
        load_partition(bad)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(DataError, match=r"evil\.pkl.*refusing to load (posix|os)\.system"):
        load_array(path)
    path.write_bytes(pickle.dumps({"frames": [1, 2]}))
    with pytest.raises(DataError, match="dict"):
        load_array(path)
    for protocol in (2, 4, 5):
        path.write_bytes(pickle.dumps(np.arange(6, dtype=np.uint8).reshape(1, 2, 3), protocol=protocol))
        assert load_array(path).tolist() == [[[0, 1, 2], [3, 4, 5]]]


def test_corrupt_files_raise_or_are_skipped_with_their_name(tmp_path, caplog):
    root = write_pkl(tmp_path / "pkl")
    victim = root / "001" / "nm-01" / "090" / "090.pkl"
    victim.write_bytes(victim.read_bytes()[:40])  # truncated
    with pytest.raises(DataError, match="090.pkl.*truncated"):
        list(open_dataset(root).iter_records())
    skipping = open_dataset(root, errors="skip")
    assert len(list(skipping.iter_records())) == 3
    assert "090.pkl" in skipping.problems[0][1] and "090.pkl" in caplog.text

    npz = write_npz(tmp_path / "npz")
    (npz / "002.npz").write_bytes((npz / "002.npz").read_bytes()[:30])
    skipping = open_dataset(npz, errors="skip")
    assert {k[0] for k in skipping.list_keys()} == {"001"}
    assert "002.npz" in skipping.problems[0][1]
    with pytest.raises(DataError, match="002.npz"):
        open_dataset(npz).list_keys()


def test_several_pickles_in_a_folder_use_the_first_silhouette_array(tmp_path):
    folder = tmp_path / "001" / "nm-01" / "000"
    folder.mkdir(parents=True)
    (folder / "0-pose.pkl").write_bytes(pickle.dumps(np.zeros((5, 17, 3), np.float32)))  # not uint8
    (folder / "1-sils.pkl").write_bytes(pickle.dumps(_frames(1) * np.uint8(255)))
    (folder / "2-other.pkl").write_bytes(pickle.dumps(_frames(2)))
    record = next(open_dataset(tmp_path).iter_records())
    assert np.array_equal(record.frames, _frames(1))


def test_value_rules():
    grey = np.array([[[0, 127, 128, 255]]], dtype=np.uint8)
    assert to_binary(grey, "x").tolist() == [[[0, 0, 1, 1]]]
    assert to_binary(np.array([[[True, False]]]), "x").tolist() == [[[1, 0]]]
    with pytest.raises(DataError, match="seq.pkl.*NaN"):
        to_binary(np.array([[[0.0, np.nan]]]), "seq.pkl")
    with pytest.raises(DataError, match="fractional"):
        to_binary(np.array([[[0.0, 0.5]]]), "seq.pkl")
    with pytest.raises(DataError, match="-3"):
        to_binary(np.array([[[-3, 1]]]), "seq.pkl")
    with pytest.raises(DataError, match=r"\(T, H, W\)"):
        to_binary(np.zeros((4, 4), np.uint8), "seq.pkl")


def test_png_folders_are_pretreated(tmp_path):
    folder = tmp_path / "001" / "nm-01" / "090"
    folder.mkdir(parents=True)
    for i in range(3):
        image = np.zeros((120, 160), np.uint8)
        image[20:100, 40 + 10 * i : 80 + 10 * i] = 255  # an 80 x 40 person, moving right
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    Image.fromarray(np.zeros((120, 160), np.uint8)).save(folder / "003.png")  # empty frame: dropped
    source = open_dataset(tmp_path, frame_size=(32, 32))
    assert source.format == "png"
    frames = next(source.iter_records()).frames
    assert frames.shape == (3, 32, 32)
    # every frame: the person fills the height, is 16 wide (aspect kept) and centred.
    assert np.array_equal(frames[0], frames[2])
    assert frames[0].any(axis=1).all()
    cols = np.flatnonzero(frames[0].any(axis=0))
    assert (cols[0], cols[-1]) == (8, 23)
