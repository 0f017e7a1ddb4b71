"""Sequence identities from file names, and the cv2-missing message."""

import sys

import pytest

from mimicgait.errors import UserError
from mimicgait.video import SequenceId, is_background_clip, parse_id_option, parse_sequence_name, require_cv2


@pytest.mark.parametrize("name, expected", [
    ("001-nm-05-090.avi", SequenceId("001", "nm-05", "090")),
    ("/some/where/124-cl-02-180.mp4", SequenceId("124", "cl-02", "180")),
    ("006-BG-01-000", SequenceId("006", "bg-01", "000")),  # a frame folder; condition lower-cased
    ("walk.avi", None),
    ("001-bkgrd-090.avi", None),
    ("001-nm-05.avi", None),
    ("001-nm-xx-090.avi", None),
])
def test_parse_sequence_name(name, expected):
    assert parse_sequence_name(name) == expected


def test_sequence_id_forms():
    sequence = SequenceId("001", "nm-05", "090")
    assert sequence.name == "001-nm-05-090" and sequence.key == ("001", "nm-05", "090")
    assert parse_id_option("002-nm-01-090") == SequenceId("002", "nm-01", "090")
    for bad in ("002", "002-nm-01-090.avi", "me-walking"):
        with pytest.raises(UserError, match="--id"):
            parse_id_option(bad)


def test_background_clip_names():
    assert is_background_clip("001-bkgrd-090.avi") and is_background_clip("x/017-bkgrd-036.mp4")
    assert not is_background_clip("001-nm-01-090.avi")


def test_missing_opencv_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    with pytest.raises(UserError, match=r"pip install mimicgait\[video\]"):
        require_cv2()
