"""Speed of `mimicgait.video.extract` on a 320x240 CASIA-B video of 100 frames (001-cl-01-090).

Prints one JSON object: seconds per video (median of `--repeats` runs) with the `auto` background
and with the empty-hall clip, frames per second, and the share of each step (decode, background
median, foreground, tracking + pretreatment) timed separately on the same video. OpenCV gets
`--threads` threads (default 2, the target machine's cores).

    .venv/bin/python benchmarks/silhouette_speed.py [--video FILE] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from mimicgait.data.pretreat import pretreat_frame
from mimicgait.video import FrameReader, PersonTracker, extract, foreground_masks, median_background

VIDEOS = Path(os.environ.get("MIMICGAIT_CASIA_B_VIDEOS",
                             Path(__file__).resolve().parents[2] / "shared" / "data" / "casia-b-videos"))


def timed(fn, repeats: int) -> float:
    """Median wall time of `repeats` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", default=VIDEOS / "001-cl-01-090.avi")
    parser.add_argument("--clip", default=VIDEOS / "001-bkgrd-090.avi")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    reader = FrameReader(args.video)
    frames = np.concatenate(list(reader.batches(64)))  # [T, H, W, 3], for the per-step timings
    scene = median_background(reader)  # [H, W, 3]

    def track_and_pretreat() -> None:
        for person in PersonTracker().update(masks):
            if person.mask is not None:
                pretreat_frame(person.mask.view(np.uint8) * np.uint8(255))

    masks = foreground_masks(frames, scene)
    steps = {
        "decode": timed(lambda: sum(len(b) for b in reader.batches(64)), args.repeats),
        "background_auto": timed(lambda: median_background(reader), args.repeats),
        "foreground": timed(lambda: foreground_masks(frames, scene), args.repeats),
        "track_pretreat": timed(track_and_pretreat, args.repeats),
    }
    auto = timed(lambda: extract(args.video, "auto"), args.repeats)
    clip = timed(lambda: extract(args.video, args.clip), args.repeats)
    print(json.dumps({
        "video": Path(args.video).name, "frames": len(frames), "size": [reader.width, reader.height],
        "threads": args.threads, "cpu": platform.processor() or platform.machine(), "repeats": args.repeats,
        "seconds_auto": round(auto, 3), "seconds_clip": round(clip, 3),
        "fps_auto": round(len(frames) / auto, 1), "fps_clip": round(len(frames) / clip, 1),
        "steps_seconds": {k: round(v, 4) for k, v in steps.items()},
        "target_seconds": 1.0, "meets_target": auto < 1.0 and clip < 1.0,
    }, indent=1))


if __name__ == "__main__":
    main()
