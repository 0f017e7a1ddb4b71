"""Silhouettes from the raw CASIA-B videos against the official silhouettes of the same walks.

Issue 17's acceptance: mean IoU per video at the best frame offset; with the empty-hall clip as
background for subject 001's ten videos (auto for the other four), and with `auto` for all 14:
median over the videos >= 0.90 and at least 12 of 14 >= 0.85. As measured, all 14 reach 0.85 both
ways; the lowest is 002-nm-01 (about 0.88): a light grey shirt against the light wall, whose
weaker colour difference loses a few pixels at the shirt's edges (docs/video.md). The extraction
also keeps the frames the release kept: within two frames of the official count on every video.
"""

import statistics
from pathlib import Path

import pytest
from helpers import casia_b_root, casia_b_videos

from mimicgait.data.sources import open_dataset
from mimicgait.video.agreement import agreement_table


def official_dir() -> Path | None:
    """The official silhouettes: MIMICGAIT_CASIA_B/train, or ../shared/data/casia-b/train."""
    root = casia_b_root()
    return root / "train" if root is not None and (root / "train" / "001.npz").is_file() else None


pytestmark = [
    pytest.mark.skipif(casia_b_videos() is None, reason="no CASIA-B videos (MIMICGAIT_CASIA_B_VIDEOS)"),
    pytest.mark.skipif(official_dir() is None, reason="CASIA-B not found (MIMICGAIT_CASIA_B)"),
]


@pytest.fixture(scope="module")
def measured():
    """{name: {'auto': iou, 'clip': iou (001 only)}} and the kept / official frame counts."""
    source = open_dataset(official_dir())
    table = {}
    for name, by_mode in agreement_table(casia_b_videos(), lambda key: source.read(key).frames).items():
        row = {"official": next(iter(by_mode.values())).reference_frames}
        for mode, v in by_mode.items():
            row[mode], row[f"{mode}_kept"] = v.agreement.iou, v.kept
        table[name] = row
    return table


def _check(values):
    assert len(values) == 14
    assert statistics.median(values) >= 0.90, values
    assert sum(v >= 0.85 for v in values) >= 12, values


def test_clip_background_for_subject_001(measured):
    _check([row.get("clip", row["auto"]) for row in measured.values()])


def test_auto_background_for_all(measured):
    _check([row["auto"] for row in measured.values()])


def test_frames_kept_as_the_release_keeps_them(measured):
    for name, row in measured.items():
        assert abs(row["auto_kept"] - row["official"]) <= 2, (name, row)
