"""Chosen frames of a video side by side in one PNG: how the docs' pictures of annotated videos are made.

    .venv/bin/python benchmarks/video_frames.py --video crossing.mp4 --frames 62,76,80,84,92 \
        --out docs/crossing.png [--rows 15:240] [--force]

`--rows A:B` keeps image rows A to B of every frame (crop away an empty strip). Prints one JSON
object (the frames, the picture's size); a mistake in the arguments is one line on stderr and exit
status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from mimicgait.errors import UserError
from mimicgait.io import check_output_file, write_atomic
from mimicgait.video.decode import FrameReader, require_cv2


def parse_frames(text: str) -> list[int]:
    """`62,76,80` -> [62, 76, 80] (each at least 0)."""
    try:
        frames = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--frames {text}: give frame numbers separated by commas, e.g. 62,76,80") from None
    if not frames or min(frames) < 0:
        raise UserError(f"--frames {text}: give at least one frame number, none negative")
    return frames


def parse_rows(text: str | None, height: int) -> slice:
    """`A:B` -> slice(A, B) within 0..height (all rows when None)."""
    if text is None:
        return slice(0, height)
    try:
        first, last = (int(x) for x in text.split(":"))
    except ValueError:
        raise UserError(f"--rows {text}: give FIRST:LAST, e.g. 15:240") from None
    if not 0 <= first < last <= height:
        raise UserError(f"--rows {text}: the video is {height} rows high; give 0 <= FIRST < LAST <= {height}")
    return slice(first, last)


def pick_frames(video: Path, wanted: list[int], batch: int = 32) -> dict[int, np.ndarray]:
    """The frames `wanted` of `video`, uint8 RGB `[H, W, 3]` each, reading it once in order."""
    reader = FrameReader(video)
    found: dict[int, np.ndarray] = {}
    start = 0
    for frames in reader.batches(batch):  # [B, H, W, 3]
        for i in [w for w in wanted if start <= w < start + len(frames)]:
            found[i] = frames[i - start].copy()
        start += len(frames)
        if len(found) == len(set(wanted)):
            break
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise UserError(f"--video {video}: it has {start} frames, no frame {missing[0]}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", required=True, help="the video (MP4, AVI, GIF or a folder of frames)")
    parser.add_argument("--frames", required=True, help="frame numbers, comma-separated, left to right")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--rows", help="FIRST:LAST image rows to keep (default: all)")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    args = parser.parse_args()
    wanted = parse_frames(args.frames)
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out}: give a file name ending in .png")
    check_output_file(out, args.force, "--out")
    found = pick_frames(Path(args.video), wanted)
    rows = parse_rows(args.rows, next(iter(found.values())).shape[0])
    picture = np.concatenate([found[i][rows] for i in wanted], axis=1)  # [h, W * n, 3] RGB
    ok, png = require_cv2().imencode(".png", np.ascontiguousarray(picture[..., ::-1]))
    if not ok:
        raise UserError(f"--out {out}: OpenCV could not encode the picture")
    write_atomic(out, lambda f: f.write(png.tobytes()))
    print(json.dumps({"video": str(args.video), "frames": wanted, "out": str(out),
                      "size": [int(picture.shape[1]), int(picture.shape[0])]}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as err:
        print(f"video_frames: error: {' '.join(str(err).split())}", file=sys.stderr)
        sys.exit(2)
