"""Several people in one video (`mimicgait.video.people`): tracks through crossings and gaps, merged
blobs split, hidden shares, and the commands that use them (silhouettes, identify, watch)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import scenes

from mimicgait.video.blobs import find_people
from mimicgait.video.people import PeopleSettings, PeopleStream, extract_people


def track_masks(video: np.ndarray) -> tuple[dict, dict]:
    """The tracker on frames, with the true background: per track, masks `[T, H, W]` and hidden `[T]`."""
    stream = PeopleStream(video.shape[1], video.shape[2], scenes.scene(), None)
    masks: dict[int, np.ndarray] = {}
    hidden: dict[int, np.ndarray] = {}
    for records in stream.push(video):
        for r in records:
            masks.setdefault(r.track, np.zeros(video.shape[:3], bool))
            hidden.setdefault(r.track, np.full(len(video), np.nan))
            if r.visible is not None:
                x0, y0, x1, y1 = r.crop
                masks[r.track][r.frame, y0:y1, x0:x1] = r.visible
            hidden[r.track][r.frame] = r.hidden
    return masks, hidden


def cli(capsys, *args: object) -> tuple[int, str]:
    """(exit status, stdout and stderr together) of `mimicgait ARGS` run in this process."""
    from mimicgait.cli import main

    capsys.readouterr()
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out + captured.err


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame IoU of `[T, H, W]` masks (1 where both are empty)."""
    inter, union = (a & b).sum((1, 2)), (a | b).sum((1, 2))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def owner_by_frame(masks: dict, truth: np.ndarray) -> np.ndarray:
    """For each walker `[k]` and frame, the track whose mask overlaps it most (0: none) `[k, T]`."""
    tracks = sorted(masks)
    overlap = np.stack([(masks[t][None] & truth).sum((2, 3)) for t in tracks])  # [tracks, k, T]
    best = np.asarray(tracks)[overlap.argmax(0)]
    return np.where(overlap.max(0) > 0, best, 0)


def merged_frames(truth: np.ndarray) -> np.ndarray:
    """Frames `[T]` where two walkers' masks touch, so the foreground holds one blob for both."""
    grown = np.stack([[cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)) for m in walker]
                      for walker in truth]).astype(bool)  # [2, T, H, W]
    return (grown[0] & grown[1]).any((1, 2))


def test_two_walkers_crossing_keep_two_tracks_and_are_split():
    video, truth, whole = scenes.crossing()
    masks, hidden = track_masks(video)
    owner = owner_by_frame(masks, truth)
    both = (truth.sum((2, 3)) > 200).all(0)  # frames where both walkers show
    for k in range(2):  # each walker keeps one track through the crossing: no switch
        assert len(set(owner[k, both].tolist()) - {0}) == 1, f"walker {k} changed track"
    back, front = (int(np.bincount(owner[k, both]).argmax()) for k in range(2))
    assert back != front
    merged = np.flatnonzero(both & merged_frames(truth))
    assert merged.size >= 5, "the scene must hold frames where the two form one blob"
    # the merged blob is split: both walkers keep a share, close to their true visible masks
    assert iou(masks[front][merged], truth[1][merged]).mean() > 0.85
    assert iou(masks[back][merged], truth[0][merged]).mean() > 0.6
    # the walker behind is reported hidden while the one in front covers them, and not when apart
    true_hidden = 1 - truth[0].sum((1, 2)) / np.maximum(whole[0].sum((1, 2)), 1)  # [T]
    deep = merged[true_hidden[merged] > 0.3]
    assert deep.size and np.nanmean(hidden[back][deep]) > 0.2
    apart = np.flatnonzero(both & ~merged_frames(truth))
    assert np.nanmax(hidden[front][apart]) < 0.05


def test_walker_missing_for_a_few_frames_keeps_the_id():
    walker = scenes.Walker(20, 2.5, 200, 130, (30, 60, 200), (20, 20, 40), absent=range(40, 50))
    video, truth, _ = scenes.render([walker], 100)
    masks, _ = track_masks(video)
    assert len(masks) == 1, f"one track through a gap of 10 frames, got {sorted(masks)}"
    only = next(iter(masks.values()))
    assert not only[40:50].any() and only[55].any()
    assert iou(only[55:90], truth[0][55:90]).mean() > 0.9


def test_walker_gone_longer_than_the_gap_is_a_new_track():
    walker = scenes.Walker(20, 2.0, 200, 130, (30, 60, 200), (20, 20, 40), absent=range(30, 70))
    video, _, _ = scenes.render([walker], 110)
    masks, _ = track_masks(video)
    assert len(masks) == 2


def test_find_people_one_detection_per_person_with_split_off_parts():
    mask = np.zeros((240, 320), np.uint8)
    mask[60:200, 40:80] = 1  # a body
    mask[45:57, 52:68] = 1  # its head, split off by a light collar
    mask[60:200, 200:240] = 1  # another person
    found = find_people(mask)
    assert len(found) == 2
    first = found.index[50, 60]
    assert first == found.index[100, 60] and found.index[100, 220] not in (-1, first)
    assert found.boxes[first].tolist() == [40, 45, 80, 200]


def test_extract_people_names_tracks_and_counts(tmp_path):
    video, _, _ = scenes.crossing()
    folder = scenes.write_frames(tmp_path / "002-nm-01-090", video)
    result = extract_people(folder)
    assert [t.track for t in result.tracks] == [1, 2]
    assert [t.name for t in result.tracks] == ["002-nm-01-090-t1-nm-01-090", "002-nm-01-090-t2-nm-01-090"]
    for track in result.tracks:
        q = track.quality
        assert q.total == len(video) and q.kept == len(track.frames) == len(track.hidden)
        assert q.kept + sum(q.dropped.values()) == q.total
        assert track.frames.shape[1:] == (64, 64) and set(np.unique(track.frames)) <= {0, 1}
        assert np.isfinite(result.boxes[track.track][track.frame_index]).all()
    assert result.masks[1].shape == (len(video), 240, 320) and result.masks[1].dtype == bool


def test_frames_split_from_a_shared_blob_leave_the_sequence_unless_kept(tmp_path):
    video, truth, _ = scenes.crossing()
    folder = scenes.write_frames(tmp_path / "002-nm-01-090", video)
    dropped = extract_people(folder)
    kept = extract_people(folder, settings=PeopleSettings(keep_merged=True))
    shared = merged_frames(truth)  # [T]
    for lean, full in zip(dropped.tracks, kept.tracks, strict=True):
        merged = lean.quality.dropped["merged"]
        assert merged >= 5 and full.quality.dropped["merged"] == 0
        assert full.quality.kept == lean.quality.kept + merged
        assert not shared[lean.frame_index].any(), "a frame of a shared blob stayed in the sequence"
        assert set(lean.frame_index) < set(full.frame_index)
        # the masks and hidden shares still cover the merged frames: only the sequence leaves them out
        both = np.flatnonzero(shared & (truth.sum((2, 3)) > 200).all(0))
        assert dropped.masks[lean.track][both].any((1, 2)).all()
        assert np.isfinite(dropped.hidden[lean.track][both]).all()


def test_nobody_in_view_is_an_error_not_an_empty_success(tmp_path, capsys):
    still = np.repeat(scenes.scene()[None], 30, axis=0)
    folder = scenes.write_frames(tmp_path / "001-nm-01-090", still)
    code, err = cli(capsys, "silhouettes", "--frames", folder, "--out", tmp_path / "out")
    assert code == 2 and "no usable person" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_watch_on_a_file_with_nobody_is_an_error(gallery, tmp_path, capsys):
    still = scenes.write_video(tmp_path / "still.avi", np.repeat(scenes.scene()[None], 30, axis=0))
    code, err = cli(capsys, "watch", "--model", "casiab-mimic", "--gallery", gallery, "--video", still,
                    "--fast")
    assert code == 2 and "nobody was tracked" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def crossing_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crossing")
    video, _, _ = scenes.crossing()
    return folder, scenes.write_video(folder / "002-nm-01-090.avi", video), video


def test_silhouettes_writes_tracks_masks_and_annotation(crossing_files, tmp_path, capsys):
    _, path, video = crossing_files
    code, out = cli(capsys, "silhouettes", "--video", path, "--out", tmp_path / "d",
                    "--masks", tmp_path / "m", "--annotate", tmp_path / "a.mp4")
    assert code == 0, out
    assert "002-nm-01-090-t1" in out and "002-nm-01-090-t2" in out and "wrote 2 sequences" in out
    written = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert written == ["002-nm-01-090-t1.npz", "002-nm-01-090-t2.npz"]
    with np.load(tmp_path / "m" / "002-nm-01-090.npz") as masks:
        assert sorted(masks.files) == ["track_1", "track_2"]
        assert masks["track_1"].shape == (len(video), 240, 320) and masks["track_1"].dtype == bool
    capture = cv2.VideoCapture(str(tmp_path / "a.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == len(video)
    size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    assert size == (320, 240)
    # nothing is replaced without --force, checked before any decoding
    code, err = cli(capsys, "silhouettes", "--video", path, "--out", tmp_path / "d")
    assert code == 2 and "already exists" in err
    # --keep-merged: the frames split from the shared blob stay in each sequence
    code, out = cli(capsys, "silhouettes", "--video", path, "--out", tmp_path / "k", "--keep-merged")
    assert code == 0 and " 0 merged" in out, out
    for name in written:
        with np.load(tmp_path / "d" / name) as lean, np.load(tmp_path / "k" / name) as full:
            assert len(full[full.files[0]]) > len(lean[lean.files[0]])


def test_people_one_keeps_the_single_person_extraction(crossing_files, tmp_path, capsys):
    from mimicgait.data.sources import open_dataset
    from mimicgait.video import extract

    _, path, _ = crossing_files
    code, out = cli(capsys, "silhouettes", "--video", path, "--out", tmp_path / "d", "--people", "1")
    assert code == 0 and "wrote 1 sequences" in out
    written = open_dataset(tmp_path / "d").read(("002", "nm-01", "090")).frames
    assert np.array_equal(written, extract(path).frames)
    code, err = cli(capsys, "silhouettes", "--video", path, "--out", tmp_path / "e", "--people", "1",
                    "--masks", tmp_path / "m")
    assert code == 2 and "--masks needs tracking" in err
    code, err = cli(capsys, "silhouettes", "--video", path, "--out", tmp_path / "e", "--people", "1",
                    "--keep-merged")
    assert code == 2 and "--keep-merged needs tracking" in err


def test_annotation_gif_has_the_frame_count_and_size(crossing_files, tmp_path):
    from PIL import Image

    from mimicgait.video.annotate import annotate_people

    _, path, video = crossing_files
    people = extract_people(path)
    out = annotate_people(people, {1: "t1 someone 0.50"}, tmp_path / "a.gif")
    with Image.open(out) as gif:
        assert gif.n_frames == len(video) and gif.size == (320, 240)


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    """The shipped casiab-mimic model and a gallery of synthetic subjects."""
    from helpers import make_dataset

    from mimicgait.cli import main

    folder = tmp_path_factory.mktemp("gallery")
    data = make_dataset(folder / "data", subjects=3, conditions=1, views=1, frames=20, size=64)
    file = folder / "g.db"
    assert main(["gallery", "enroll", "--model", "casiab-mimic", "--data", str(data), "--gallery", str(file),
                 "--no-progress"]) == 0
    return file


def test_identify_answers_per_track_and_watch_agrees(crossing_files, gallery, tmp_path, capsys):
    _, path, video = crossing_files
    code, out = cli(capsys, "identify", "--model", "casiab-mimic", "--gallery", gallery, "--video", path,
                    "--top-k", "2", "--no-progress", "--annotate", tmp_path / "a.gif")
    assert code == 0, out
    rows = [line.split("\t") for line in out.splitlines() if line.startswith(str(path))]
    assert [r[0] for r in rows] == [f"{path}#t1", f"{path}#t2"]
    assert all("frames, hidden" in r[3] for r in rows)
    identified = {r[0].rsplit("#t", 1)[1]: r[1] for r in rows}
    assert (tmp_path / "a.gif").exists()

    code, out = cli(capsys, "watch", "--model", "casiab-mimic", "--gallery", gallery, "--video", path,
                    "--fast", "--min-frames", "10", "--every", "10")
    assert code == 0, out
    final = {line.split()[3][1:]: line.split()[5] for line in out.splitlines() if " final " in line}
    assert final == identified, out
    assert f'"frames": {len(video)}' in out


def test_watch_refuses_a_corrupt_video_in_one_line(gallery, tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    code, err = cli(capsys, "watch", "--model", "casiab-mimic", "--gallery", gallery, "--video", bad,
                    "--fast")
    assert code == 2 and str(bad) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_annotate_needs_tracking_and_a_known_suffix(crossing_files, gallery, tmp_path, capsys):
    _, path, _ = crossing_files
    base = ["identify", "--model", "casiab-mimic", "--gallery", gallery, "--video", path]
    code, err = cli(capsys, *base, "--annotate", tmp_path / "a.txt")
    assert code == 2 and ".mp4" in err
    code, err = cli(capsys, *base, "--people", "1", "--annotate", tmp_path / "a.mp4")
    assert code == 2 and "--people" in err
    code, err = cli(capsys, *base, "--annotate", path)
    assert code == 2 and "--annotate" in err
