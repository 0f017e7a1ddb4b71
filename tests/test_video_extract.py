"""`mimicgait.video.extract` on awkward input: nobody in view, damaged files, frame folders, and a
user's segmenter in place of the background model."""


import numpy as np
import pytest
from helpers import casia_b_videos

from mimicgait.errors import UserError
from mimicgait.video import NoPersonError, SequenceId, aligned_iou, extract, median_background
from mimicgait.video.decode import FrameReader

pytestmark = pytest.mark.skipif(casia_b_videos() is None,
                                reason="no CASIA-B videos (MIMICGAIT_CASIA_B_VIDEOS)")

WALK = "001-nm-01-090.avi"


@pytest.fixture(scope="module")
def reference():
    """The walk extracted from the video with the default settings."""
    return extract(casia_b_videos() / WALK)


def test_result_follows_the_data_layer_convention(reference):
    assert reference.frames.dtype == np.uint8 and reference.frames.shape[1:] == (64, 64)
    assert set(np.unique(reference.frames)) == {0, 1}
    assert reference.sequence == SequenceId("001", "nm-01", "090")
    assert reference.record().key == ("001", "nm-01", "090")
    assert len(reference.frame_index) == len(reference.frames)
    assert np.all(np.diff(reference.frame_index) > 0)
    q = reference.quality
    assert q.total == 106 and q.kept == len(reference.frames) and q.kept + sum(q.dropped.values()) == q.total
    assert q.dropped["missing"] > 0 and q.dropped["edge"] > 0  # walks in and out of view
    assert 120 < q.mean_height < 160 and not q.warnings
    assert q.line("x").startswith("x: kept ")


def test_nobody_in_view_is_a_clear_error():
    clip = casia_b_videos() / "001-bkgrd-090.avi"
    with pytest.raises(NoPersonError, match="no usable person in any of its 55 frames"):
        extract(clip, "auto")
    with pytest.raises(NoPersonError):
        extract(clip, clip)  # its own background: nothing differs


def test_truncated_video_keeps_what_decodes_and_warns(tmp_path):
    data = (casia_b_videos() / WALK).read_bytes()
    cut = tmp_path / "001-nm-01-090.avi"
    cut.write_bytes(data[: len(data) * 2 // 3])
    result = extract(cut, casia_b_videos() / "001-bkgrd-090.avi")
    assert result.quality.total < 106 and result.quality.announced == 106
    assert any("truncated" in w for w in result.quality.warnings)


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00\x00\x00AVI junk" * 50, "head"])
def test_unreadable_video_is_a_user_error(tmp_path, content):
    bad = tmp_path / "001-nm-01-090.avi"
    bad.write_bytes((casia_b_videos() / WALK).read_bytes()[:3000] if content == "head" else content)
    with pytest.raises(UserError, match="001-nm-01-090.avi"):
        extract(bad)


def test_frame_folder_matches_the_video(tmp_path, reference):
    import cv2

    folder = tmp_path / "001-nm-01-090"
    folder.mkdir()
    reader = FrameReader(casia_b_videos() / WALK)
    index = 0
    for frames in reader.batches(32):  # [B, H, W, 3] RGB
        for frame in frames:
            suffix = ".png" if index % 2 else ".jpg"  # both kinds in one folder
            cv2.imwrite(str(folder / f"{index:04d}{suffix}"), frame[..., ::-1])
            index += 1
    result = extract(folder)
    assert result.sequence == SequenceId("001", "nm-01", "090")
    assert result.quality.total == 106 and result.quality.announced is None
    # JPEG's losses move a few boundary pixels; the silhouettes stay the video's
    assert abs(result.quality.kept - reference.quality.kept) <= 2
    assert aligned_iou(result.frames, result.frame_index, reference.frames).iou > 0.95


def test_segmenter_hook_replaces_the_background(reference):
    scene = median_background(FrameReader(casia_b_videos() / WALK))  # [H, W, 3]
    calls = []

    def segment(frames):  # [T, H, W, 3] uint8 -> [T, H, W] probabilities
        calls.append(frames.shape)
        return (np.abs(frames.astype(np.int16) - scene).max(axis=-1) > 30).astype(np.float32)

    result = extract(casia_b_videos() / WALK, None, segment, batch=40)
    assert [c[0] for c in calls] == [40, 40, 26] and calls[0][1:] == (240, 320, 3)
    assert aligned_iou(result.frames, result.frame_index, reference.frames).iou > 0.9

    with pytest.raises(UserError, match="must return masks"):
        extract(casia_b_videos() / WALK, None, lambda frames: frames[..., 0][:, ::2])
    with pytest.raises(UserError, match="background"):
        extract(casia_b_videos() / WALK, None, None)


def test_background_of_another_size_is_refused(tmp_path):
    with pytest.raises(UserError, match="same camera"):
        extract(casia_b_videos() / WALK, np.zeros((10, 10, 3), np.uint8))
