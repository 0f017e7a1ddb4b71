"""`mimicgait silhouettes` end to end: dataset layouts the data layer reads, refusal to overwrite,
nobody in view, unnamed inputs, the preview GIF and the `--segmenter module:function` hook."""


import numpy as np
import pytest
from helpers import casia_b_videos
from PIL import Image

from mimicgait.cli import main
from mimicgait.data.sources import open_dataset
from mimicgait.video import aligned_iou

pytestmark = pytest.mark.skipif(casia_b_videos() is None,
                                reason="no CASIA-B videos (MIMICGAIT_CASIA_B_VIDEOS)")


@pytest.fixture
def video_folder(tmp_path):
    """Two walks and the background clip, linked into a folder of their own."""
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("001-nm-01-090.avi", "001-cl-01-090.avi", "001-bkgrd-090.avi"):
        (folder / name).symlink_to(casia_b_videos() / name)
    return folder


def test_folder_of_videos_to_each_layout(tmp_path, video_folder, capsys):
    out = tmp_path / "npz"
    assert main(["silhouettes", "--video", str(video_folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "001-nm-01-090: kept 54 of 106 frames" in printed and "wrote 2 sequences" in printed
    source = open_dataset(out)
    assert source.format == "npz" and source.list_keys() == [("001", "cl-01", "090"), ("001", "nm-01", "090")]
    frames = source.read(("001", "nm-01", "090")).frames
    assert frames.shape == (54, 64, 64)
    assert main(["data", "info", "--data", str(out)]) == 0

    # again: refused before any work, nothing touched
    before = (out / "001.npz").stat().st_mtime_ns
    assert main(["silhouettes", "--video", str(video_folder), "--out", str(out)]) == 2
    assert "001.npz already exists" in capsys.readouterr().err
    assert (out / "001.npz").stat().st_mtime_ns == before

    for fmt in ("pkl", "png"):
        dest = tmp_path / fmt
        args = ["silhouettes", "--video", str(video_folder / "001-nm-01-090.avi"), "--out", str(dest)]
        assert main([*args, "--format", fmt]) == 0
        again = open_dataset(dest)
        assert again.format == fmt
        read = again.read(("001", "nm-01", "090")).frames
        if fmt == "pkl":
            assert np.array_equal(read, frames)
        else:  # the data layer pretreats PNG folders again on reading: a resample, nearly the same
            assert read.shape == frames.shape
            assert aligned_iou(read, np.arange(len(read)), frames).iou > 0.95


def test_force_adds_to_an_existing_archive(tmp_path, video_folder):
    out = tmp_path / "out"
    walk, coat = (str(video_folder / n) for n in ("001-nm-01-090.avi", "001-cl-01-090.avi"))
    assert main(["silhouettes", "--video", walk, "--out", str(out)]) == 0
    assert main(["silhouettes", "--video", coat, "--out", str(out)]) == 2
    assert main(["silhouettes", "--video", coat, "--out", str(out), "--force"]) == 0
    assert open_dataset(out).list_keys() == [("001", "cl-01", "090"), ("001", "nm-01", "090")]


def test_nobody_in_view_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    clip = str(casia_b_videos() / "001-bkgrd-090.avi")
    assert main(["silhouettes", "--video", clip, "--id", "001-nm-01-090", "--out", str(out)]) == 2
    assert "no usable person" in capsys.readouterr().err
    assert not out.exists()


def test_unnamed_video_needs_an_id_to_follow_one_person(tmp_path, capsys):
    walk = tmp_path / "walk.avi"
    walk.symlink_to(casia_b_videos() / "001-nm-01-090.avi")
    out = tmp_path / "out"
    assert main(["silhouettes", "--video", str(walk), "--out", str(out), "--people", "1"]) == 2
    assert "pass --id" in capsys.readouterr().err
    # tracking people, an unnamed video's tracks are named after it
    assert main(["silhouettes", "--video", str(walk), "--out", str(tmp_path / "tracked")]) == 0
    assert open_dataset(tmp_path / "tracked").list_keys() == [("walk", "vid-01", "000")]
    preview = tmp_path / "look.gif"
    assert main(["silhouettes", "--video", str(walk), "--id", "007-nm-01-090", "--out", str(out),
                 "--preview", str(preview), "--background", str(casia_b_videos() / "001-bkgrd-090.avi")]) == 0
    assert open_dataset(out).list_keys() == [("007", "nm-01", "090")]
    with Image.open(preview) as gif:
        assert gif.n_frames == 106 and gif.size == (160 + 160 + 120, 120)


SEGMENTER = '''
import numpy as np
CALLS = []

def segment(frames):
    """Stand-in: differences to the per-pixel median of the batch (a walker covers few frames)."""
    CALLS.append(frames.shape)
    scene = np.median(frames, axis=0)
    return np.abs(frames - scene).max(axis=-1) > 30

def wrong(frames):
    return frames
'''


def test_segmenter_hook(tmp_path, monkeypatch, capsys):
    (tmp_path / "standin_segmenter.py").write_text(SEGMENTER)
    monkeypatch.syspath_prepend(str(tmp_path))
    walk = str(casia_b_videos() / "001-nm-01-090.avi")
    assert main(["silhouettes", "--video", walk, "--out", str(tmp_path / "a"),
                 "--segmenter", "standin_segmenter:segment"]) == 0
    import standin_segmenter

    assert standin_segmenter.CALLS and standin_segmenter.CALLS[0][1:] == (240, 320, 3)
    kept = open_dataset(tmp_path / "a").read(("001", "nm-01", "090")).frames
    assert 45 <= len(kept) <= 60
    file_form = f"{tmp_path / 'standin_segmenter.py'}:segment"
    assert main(["silhouettes", "--video", walk, "--out", str(tmp_path / "b"), "--segmenter", file_form]) == 0
    capsys.readouterr()
    assert main(["silhouettes", "--video", walk, "--out", str(tmp_path / "c"),
                 "--segmenter", "standin_segmenter:wrong"]) == 2
    assert "must return masks" in capsys.readouterr().err
    assert main(["silhouettes", "--video", walk, "--out", str(tmp_path / "d"),
                 "--segmenter", "no_such_module_here:segment"]) == 2
    assert "cannot import" in capsys.readouterr().err
