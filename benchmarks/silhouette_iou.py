"""Silhouettes from the raw CASIA-B videos against the official silhouettes of the same walks.

For each of the 14 walking videos of ../shared/data/casia-b-videos: `mimicgait.video.extract`
with the empty-hall clip `001-bkgrd-090.avi` as background (subject 001's videos only; the clip
is from that session) and with `auto` (all 14); the official sequence `<cond>-<nn>/090` from
../shared/data/casia-b/train; the mean IoU at the best frame offset (`video.agreement`). Prints
one JSON object: per video the IoU both ways, frames kept and the official count, and a summary
(median, videos at or above 0.85).

    .venv/bin/python benchmarks/silhouette_iou.py [--videos DIR] [--data DIR] [--no-shadow] [--threshold 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from mimicgait.data.sources import open_dataset
from mimicgait.video import ForegroundSettings
from mimicgait.video.agreement import agreement_table

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    videos_default = os.environ.get("MIMICGAIT_CASIA_B_VIDEOS", SHARED / "casia-b-videos")
    data_default = Path(os.environ.get("MIMICGAIT_CASIA_B", SHARED / "casia-b")) / "train"
    parser.add_argument("--videos", default=videos_default, help="the raw videos")
    parser.add_argument("--data", default=data_default, help="the official silhouettes")
    parser.add_argument("--threshold", type=int, default=ForegroundSettings().threshold)
    parser.add_argument("--no-shadow", action="store_true", help="turn shadow suppression off")
    args = parser.parse_args()
    settings = ForegroundSettings(threshold=args.threshold, shadow=not args.no_shadow)
    videos = Path(args.videos)
    source = open_dataset(args.data)
    table = agreement_table(videos, lambda key: source.read(key).frames, settings)
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

    clip_first = [r["clip"]["iou"] if "clip" in r else r["auto"]["iou"] for r in rows.values()]
    print(json.dumps({
        "settings": {"threshold": settings.threshold, "shadow": settings.shadow},
        "videos": rows,
        "clip_for_001_else_auto": summary(clip_first),
        "auto": summary([r["auto"]["iou"] for r in rows.values()]),
    }, indent=1))


if __name__ == "__main__":
    main()
