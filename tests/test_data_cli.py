"""`mimicgait data info|convert` on tiny trees, and a smoke test on the real CASIA-B split."""

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from helpers import casia_b_root

from mimicgait.cli import main
from mimicgait.data.sources import open_dataset
from mimicgait.data.store import SequenceStore


def _tree(root: Path) -> Path:
    """A pkl tree: 2 subjects x 2 conditions x 2 views, one sequence missing, one of 3 frames."""
    rng = np.random.default_rng(0)
    for s in ("001", "002"):
        for c in ("nm-01", "bg-01"):
            for v in ("000", "090"):
                if (s, c, v) == ("002", "bg-01", "090"):
                    continue
                t = 3 if (s, c, v) == ("001", "nm-01", "090") else 12
                folder = root / s / c / v
                folder.mkdir(parents=True)
                frames = (rng.random((t, 16, 12)) > 0.5).astype(np.uint8) * np.uint8(255)
                (folder / f"{v}.pkl").write_bytes(pickle.dumps(frames))
    (root / "partition.json").write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": ["002", "003"]}))
    return root


def test_info_reports_counts_and_problems(tmp_path, capsys):
    assert main(["data", "info", "--data", str(_tree(tmp_path / "d"))]) == 0
    out = capsys.readouterr().out
    assert "subjects:   2" in out and "sequences:  7" in out
    assert "frames:     min 3, median 12, max 12" in out and "frame size: 16x12" in out
    assert "1 sequence(s) shorter than 10 frames: 001/nm-01/090 (3)" in out
    assert "1 of 8 subject x condition x view sequences are missing: 002/bg-01/090" in out
    assert "TEST_SET: 1 of 2 subjects are absent from the data: 003" in out
    (tmp_path / "d" / "002" / "nm-01" / "090" / "090.pkl").write_bytes(b"\x80\x04junk")
    (tmp_path / "d" / "002" / "bg-01" / "000" / "000.pkl").unlink()
    assert main(["data", "info", "--data", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "sequences:  5" in out and "002/nm-01/090/090.pkl: corrupt" in out
    assert "002/bg-01/000: no .pkl files" in out
    assert main(["data", "info", "--data", str(tmp_path / "d"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sequences"] == 5 and report["short_sequences"] == [["001/nm-01/090", 3]]


def test_user_errors_exit_2_with_a_message(tmp_path, capsys):
    assert main(["data", "info", "--data", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    src = _tree(tmp_path / "d")
    assert _convert(src, src / "inside", "npz") == 2
    assert "overlaps the source" in capsys.readouterr().err
    assert _convert(src, tmp_path / "o", "npz", "--split", "TEST_SET") == 2
    assert "003" in capsys.readouterr().err


def _convert(src: Path, out: Path, fmt: str, *extra: str) -> int:
    return main(["data", "convert", "--data", str(src), "--out", str(out), "--format", fmt, *extra])


def test_convert_round_trips_and_never_touches_the_source(tmp_path):
    src = _tree(tmp_path / "d")
    before = {p: p.stat().st_mtime_ns for p in src.rglob("*")}
    assert _convert(src, tmp_path / "npz", "npz") == 0
    assert _convert(tmp_path / "npz", tmp_path / "pkl", "pkl") == 0
    assert before == {p: p.stat().st_mtime_ns for p in src.rglob("*")}
    assert sorted(os.listdir(tmp_path / "npz")) == ["001.npz", "002.npz", "partition.json"]
    assert (tmp_path / "pkl" / "001" / "nm-01" / "090" / "090.pkl").is_file()
    assert not list((tmp_path / "pkl").rglob(".*tmp*"))  # no temporary files left behind
    original = SequenceStore.from_dataset(open_dataset(src))
    again = SequenceStore.from_dataset(open_dataset(tmp_path / "pkl"))
    assert again.keys == original.keys and again.frame_size == (16, 12)
    assert all(np.array_equal(again.frames(i), original.frames(i)) for i in range(len(original)))
    raw = pickle.loads((tmp_path / "pkl" / "002" / "nm-01" / "000" / "000.pkl").read_bytes())
    assert raw.dtype == np.uint8 and set(np.unique(raw)) <= {0, 255}
    assert _convert(src, tmp_path / "pkl", "pkl") == 2  # not empty, no --force
    assert _convert(src, tmp_path / "train", "npz", "--split", "TRAIN_SET") == 0
    assert sorted(os.listdir(tmp_path / "train")) == ["001.npz", "partition.json"]


@pytest.mark.skipif(casia_b_root() is None, reason="CASIA-B not found (set MIMICGAIT_CASIA_B)")
def test_casia_b_training_split_smoke():
    source = open_dataset(casia_b_root() / "train")
    assert source.format == "npz" and len(source.subjects()) == 74
    assert len(source.list_keys()) == 8107
    assert source.partition is not None and len(source.partition["TRAIN_SET"]) == 74
    store = SequenceStore.from_dataset(source, subjects=["005", "006"], min_frames=10)
    assert store.frame_size == (64, 64)
    assert ("005", "bg-01", "090") in [k for k, _ in store.dropped]
    assert store.lengths.min() >= 10 and set(np.unique(store.frames(0))) <= {0, 1}
