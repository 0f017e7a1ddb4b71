"""Frames per second of `mimicgait watch` end to end, at 640x480 with three people in view, per step.

The clip: CASIA-B's 001-nm-01 walking, 002-nm-01 mirrored and pasted in front of them (the
crossing of `mimicgait.video.crossing`), and 004-nm-01 pasted over both a second later, the whole
scaled to 640x480 and written as an MP4 ('mp4v'), so decoding is part of the measure. Then the
loop of `watch --fast`: decode a batch of `--batch` frames, foreground against the video's median
background, track (detections, matching, splitting merged blobs, pretreatment), identify (embed a
track's silhouettes with the model and rank a gallery) as `video.live.Watcher` schedules it.
The gallery holds `--gallery-size` random embeddings of the model's shape: ranking cost does not
depend on their values, and the answers are not what is measured here.

Prints one JSON object: frames, seconds, frames per second, and each step's seconds and share.

    .venv/bin/python benchmarks/watch_speed.py [--videos DIR] [--model casiab-mimic] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def build_clip(videos: Path, out: Path, size: tuple[int, int]) -> int:
    """Write the three-walker clip at `size` (width, height) to `out`; returns its frame count."""
    import cv2

    from mimicgait.video.crossing import compose, mirror, person_masks, write_video

    back = person_masks(videos / "001-nm-01-090.avi")
    front = mirror(person_masks(videos / "002-nm-01-090.avi"))
    third = person_masks(videos / "004-nm-01-090.avi")
    crossing = compose(back, front)
    frames = crossing.frames.copy()  # [N, H, W, 3]
    delay = 25  # the third walker enters a second after the clip starts
    for t in range(len(frames)):
        source = t - delay
        if 0 <= source < len(third.frames):
            person = third.masks[source]
            frames[t][person] = third.frames[source][person]
    scaled = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in frames])
    write_video(out, scaled)
    return len(scaled)


def measure(clip: Path, model: str, batch: int, gallery_size: int) -> dict:
    """Run the watch loop over `clip`, timing each step."""
    import torch

    from mimicgait import load
    from mimicgait.video.background import median_background
    from mimicgait.video.decode import FrameReader
    from mimicgait.video.foreground import ForegroundSettings, foreground_masks
    from mimicgait.video.live import Watcher
    from mimicgait.video.people import PeopleTracker

    recognizer = load(model)
    blob = np.zeros((10, *recognizer.frame_size), np.uint8)  # [10, H, W]: any silhouette gives the shape
    blob[:, 8:-8, 24:-24] = 1
    probe = recognizer.embed([blob])  # [1, C, P]
    rng = np.random.default_rng(0)
    gallery = torch.from_numpy(rng.standard_normal((gallery_size, *probe.shape[1:])).astype(np.float32))
    names = [f"{i:04d}" for i in range(gallery_size)]
    watcher = Watcher(recognizer, names, np.arange(gallery_size), gallery.permute(2, 0, 1).contiguous())
    reader = FrameReader(clip)
    steps = dict.fromkeys(("decode", "background", "foreground", "track", "identify"), 0.0)
    start = time.perf_counter()
    background = median_background(reader)
    steps["background"] = time.perf_counter() - start
    tracker = PeopleTracker(reader.height, reader.width, size=tuple(recognizer.frame_size))
    settings = ForegroundSettings()
    frames = answers = 0
    most = 0
    batches = reader.batches(batch)
    while True:
        t0 = time.perf_counter()
        chunk = next(batches, None)
        t1 = time.perf_counter()
        steps["decode"] += t1 - t0
        if chunk is None:
            break
        masks = foreground_masks(chunk, background, settings)  # [B, H, W]
        t2 = time.perf_counter()
        steps["foreground"] += t2 - t1
        records = [tracker.update(m, f, frames + i)
                   for i, (m, f) in enumerate(zip(masks, chunk, strict=True))]
        t3 = time.perf_counter()
        steps["track"] += t3 - t2
        for frame_records in records:
            most = max(most, len(frame_records))
            answers += len(watcher.observe(frame_records))
        answers += len(watcher.finish({t.id for t in tracker.live if t.id}))
        steps["identify"] += time.perf_counter() - t3
        frames += len(chunk)
    t0 = time.perf_counter()
    answers += len(watcher.finish())
    steps["identify"] += time.perf_counter() - t0
    total = time.perf_counter() - start
    return {
        "frames": frames, "size": [reader.width, reader.height], "seconds": round(total, 3),
        "fps": round(frames / total, 1), "people_at_most": most, "tracks": len(watcher.tracks),
        "answers": answers,
        "steps": {k: {"seconds": round(v, 3), "share": round(v / total, 3)} for k, v in steps.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "data" / "casia-b-videos",
                        help="folder of the raw CASIA-B videos")
    parser.add_argument("--model", default="casiab-mimic", help="shipped model name or model file")
    parser.add_argument("--batch", type=int, default=8, help="frames segmented together (watch --batch)")
    parser.add_argument("--gallery-size", type=int, default=300, help="gallery sequences (random embeddings)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args(argv)
    missing = [n for n in ("001-nm-01-090.avi", "002-nm-01-090.avi", "004-nm-01-090.avi")
               if not (args.videos / n).is_file()]
    if missing:
        print(f"watch_speed: {args.videos / missing[0]} not found; give --videos DIR (the raw CASIA-B "
              "videos)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "three-walkers.mp4"
        build_clip(args.videos, clip, (args.width, args.height))
        result = measure(clip, args.model, args.batch, args.gallery_size)
    result = {"command": shlex.join(["python", "benchmarks/watch_speed.py", *(argv or sys.argv[1:])]),
              "threads": os.cpu_count(), "batch": args.batch, "gallery_size": args.gallery_size,
              "model": args.model, **result}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
