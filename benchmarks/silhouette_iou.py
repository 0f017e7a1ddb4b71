"""Silhouettes from the raw CASIA-B videos against the official silhouettes of the same walks.

For each of the 14 walking videos of ../shared/data/casia-b-videos: `mimicgait.video.extract`
with the empty-hall clip `001-bkgrd-090.avi` as background (subject 001's videos only; the clip
is from that session) and with `auto` (all 14); the official sequence `<cond>-<nn>/090` from
../shared/data/casia-b/train; the mean IoU at the best frame offset (`video.agreement`). Prints
one JSON object: per video the IoU both ways, frames kept and the official count, and a summary
(median, videos at or above 0.85).

`--segmenter MODULE:FUNCTION` (or `path/to/file.py:FUNCTION`, the hook of `mimicgait.video.segmenter`)
measures a person segmenter instead: every video once, `extract(..., background=None,
segmenter=...)`, as mode `segmenter` (no `auto`, no `clip`; the summary is `segmenter`), with the
seconds spent inside the segmenter and the frames it saw. A `reset()` in the plugin's module, if
any, is called before each video (a tracking model starts afresh).

    .venv/bin/python benchmarks/silhouette_iou.py [--videos DIR] [--data DIR] [--no-shadow] [--threshold 30]
        [--segmenter MODULE:FUNCTION]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mimicgait.data.sources import open_dataset
from mimicgait.video import ForegroundSettings
from mimicgait.video.agreement import agreement_table

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


class Timed:
    """A segmenter that adds up the seconds spent in it and the frames it was given; `reset` is its
    module's reset() (None when it has none). `benchmarks/crossing.py` uses it too."""

    def __init__(self, segmenter: Callable[[np.ndarray], np.ndarray]) -> None:
        self.seconds, self.frames = 0.0, 0
        self.reset = getattr(segmenter, "__globals__", {}).get("reset")  # the plugin's reset(), if any
        functools.update_wrapper(self, segmenter)  # the hook names the plugin by its __module__:__name__

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        masks = self.__wrapped__(frames)  # type: ignore[attr-defined]
        self.seconds += time.perf_counter() - start
        self.frames += len(frames)
        return masks

    def figures(self) -> dict[str, Any]:
        """Seconds inside the segmenter, frames, and seconds per frame."""
        return {"seconds": round(self.seconds, 2), "frames": self.frames,
                "seconds_per_frame": round(self.seconds / max(self.frames, 1), 5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    videos_default = os.environ.get("MIMICGAIT_CASIA_B_VIDEOS", SHARED / "casia-b-videos")
    data_default = Path(os.environ.get("MIMICGAIT_CASIA_B", SHARED / "casia-b")) / "train"
    parser.add_argument("--videos", default=videos_default, help="the raw videos")
    parser.add_argument("--data", default=data_default, help="the official silhouettes")
    parser.add_argument("--threshold", type=int, default=ForegroundSettings().threshold)
    parser.add_argument("--no-shadow", action="store_true", help="turn shadow suppression off")
    parser.add_argument("--segmenter", metavar="MODULE:FUNCTION",
                        help="measure this person segmenter (no background), not background subtraction")
    args = parser.parse_args()
    settings = ForegroundSettings(threshold=args.threshold, shadow=not args.no_shadow)
    videos = Path(args.videos)
    source = open_dataset(args.data)
    timed = None
    start = time.perf_counter()
    if args.segmenter:
        from mimicgait.video.segmenter import load_segmenter

        timed = Timed(load_segmenter(args.segmenter))
    table = agreement_table(videos, lambda key: source.read(key).frames, settings, timed)
    seconds = time.perf_counter() - start
    rows = {}
    for name, by_mode in table.items():
        row = {"official_frames": next(iter(by_mode.values())).reference_frames}
        for mode, v in by_mode.items():
            row[mode] = {"iou": round(v.agreement.iou, 4), "kept": v.kept, "offset": v.agreement.offset,
                         "pairs": v.agreement.pairs}
        rows[name] = row

    def summary(values: list[float]) -> dict[str, float | int]:
        return {"videos": len(values), "median_iou": round(statistics.median(values), 4),
                "min_iou": round(min(values), 4), "at_least_0.85": sum(v >= 0.85 for v in values)}

    report: dict[str, Any] = {"settings": {"threshold": settings.threshold, "shadow": settings.shadow,
                                           "segmenter": args.segmenter}, "videos": rows}
    if timed is not None:
        report["segmenter"] = summary([r["segmenter"]["iou"] for r in rows.values()])
        figures = timed.figures()
        report["timing"] = {"seconds": round(seconds, 2), "segmenter_seconds": figures["seconds"],
                            "segmenter_frames": figures["frames"],
                            "segmenter_seconds_per_frame": figures["seconds_per_frame"]}
    else:
        clip_first = [r["clip"]["iou"] if "clip" in r else r["auto"]["iou"] for r in rows.values()]
        report["clip_for_001_else_auto"] = summary(clip_first)
        report["auto"] = summary([r["auto"]["iou"] for r in rows.values()])
        report["timing"] = {"seconds": round(seconds, 2)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
