"""Checks of command-line values where they enter: argparse `type=` functions and small checks.

A value a command cannot use (a negative seed, a NaN threshold, a frame size that would need
terabytes) is refused before any work, in one line naming the option, instead of failing deep inside
with a traceback or, worse, being accepted and ignored. Used as `type=`, a function's
`ArgumentTypeError` becomes argparse's `argument --opt: ...` line (exit 2). The leading underscore
keeps this module out of the dispatcher's sub-command discovery.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mimicgait.engine.config_values import MAX_FRAME_SIDE
from mimicgait.errors import UserError

#: Largest colour distance `silhouettes --threshold` can use: a pixel's distance (max over the RGB
#: channels) is at most 255, and a pixel is foreground when its distance exceeds the threshold.
MAX_THRESHOLD = 254


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high] (no upper bound when `high` is None)."""

    def parse(text: str) -> int:
        value = _integer(text)
        if value < low or (high is not None and value > high):
            span = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be a whole number {span}, got {text}")
        return value

    return parse


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (counts: workers, frames, sequences)."""
    return int_range(1)(text)


def people_count(text: str) -> int | None:
    """An argparse type: how many people to track in a video, a whole number >= 1 or 'all' (None)."""
    if text.strip().lower() == "all":
        return None
    return int_range(1)(text)


def nonneg_int(text: str) -> int:
    """An argparse type: a whole number >= 0 (seeds, thresholds counted in frames)."""
    return int_range(0)(text)


def distance_threshold(text: str) -> float:
    """An argparse type: a finite distance >= 0 (0 accepts no match: every probe is unknown); NaN,
    infinities and negative numbers, which would silently make every answer 'unknown', are refused."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a distance of 0 or more, got {text}")
    return value


def probability(text: str) -> float:
    """An argparse type: a finite number strictly between 0 and 1 (a false accept rate)."""
    value = _number(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, got {text}")
    return value


def frame_side(text: str) -> int:
    """An argparse type: a frame side in pixels, a multiple of 8 from 8 to `MAX_FRAME_SIDE` (synthetic
    frames are bit-packed along the width, 8 pixels a byte)."""
    value = _integer(text)
    if not 8 <= value <= MAX_FRAME_SIDE or value % 8:
        raise argparse.ArgumentTypeError(f"must be a multiple of 8 from 8 to {MAX_FRAME_SIDE}, got {text}")
    return value


def foreground_threshold(text: str) -> int:
    """An argparse type: `silhouettes --threshold`, grey levels from 0 to `MAX_THRESHOLD`."""
    value = _integer(text)
    if not 0 <= value <= MAX_THRESHOLD:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of grey levels from 0 to {MAX_THRESHOLD} (default 30), got {text}"
        )
    return value


def check_frame_size(size: Sequence[int], option: str = "--input") -> tuple[int, int]:
    """(H, W) when both sides lie in [8, MAX_FRAME_SIDE]; else a `UserError` naming `option`.

    Refused from the arithmetic, before a frame of that size is allocated."""
    if len(size) != 2 or not all(8 <= int(v) <= MAX_FRAME_SIDE for v in size):
        raise UserError(f"{option} {' '.join(map(str, size))}: height and width must each lie in "
                        f"8..{MAX_FRAME_SIDE} pixels")
    return int(size[0]), int(size[1])


def check_calibration(calibration: str | None, far: float | None) -> None:
    """`identify`: `--calibration` without `--far` would be read and then ignored; refuse it."""
    if calibration and far is None:
        raise UserError(f"--calibration {calibration} is only used with --far F (the false accept rate "
                        "whose threshold it supplies); add --far, or drop --calibration")


def read_json(path: str | Path, option: str) -> Any:
    """The JSON value in the file `option` names; a `UserError` when it is missing, not UTF-8 text
    (a binary file given by mistake) or not JSON."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{option} {path}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{option} {path}: not a text file (is it the right file?); give a JSON file"
                        ) from None
    except json.JSONDecodeError as err:
        raise UserError(f"{option} {path}: not valid JSON ({err})") from None
