"""Identity from video against identity from the official silhouettes, with a trained model.

Gallery: the official nm-01..nm-04 sequences at view 090 of subjects 001-074 (`--data`, CASIA-B's
training split). Probes: subject 001's six videos nm-05, nm-06, bg-01, bg-02, cl-01, cl-02, each
twice: extracted from the raw video by `mimicgait.video.extract` (`--background`, default auto)
and as the official sequence. Both are embedded by the model (`load_for_inference`) and ranked
with the project's distance (`eval.distances`, the metric the run evaluates with unless
`--metric`). A subject's distance is its nearest gallery sequence. Prints one JSON object: per
probe the top-5 subjects with distances for both, and whether their Rank-1 subjects agree.

    .venv/bin/python benchmarks/video_identity.py --model RUN_OR_MODEL.pt [--data DIR] [--videos DIR]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from mimicgait.data.sources import open_dataset
from mimicgait.eval.distances import METRICS, pairwise_distances
from mimicgait.eval.extract import extract_embeddings
from mimicgait.models.checkpoint import load_for_inference
from mimicgait.video import extract

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PROBES = ("nm-05", "nm-06", "bg-01", "bg-02", "cl-01", "cl-02")
GALLERY = ("nm-01", "nm-02", "nm-03", "nm-04")


def ranking(distances: torch.Tensor, subjects: list[str], top: int = 5) -> list[dict[str, object]]:
    """Top subjects for one probe's distances [m] to gallery sequences of `subjects` [m]."""
    best: dict[str, float] = {}
    for subject, value in zip(subjects, distances.tolist(), strict=True):
        best[subject] = min(value, best.get(subject, float("inf")))
    ordered = sorted(best.items(), key=lambda item: item[1])[:top]
    return [{"subject": s, "distance": round(d, 4)} for s, d in ordered]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a model.pt, checkpoint or run directory")
    data_default = Path(os.environ.get("MIMICGAIT_CASIA_B", SHARED / "casia-b")) / "train"
    videos_default = os.environ.get("MIMICGAIT_CASIA_B_VIDEOS", SHARED / "casia-b-videos")
    parser.add_argument("--data", default=data_default, help="official silhouettes (gallery, probes)")
    parser.add_argument("--videos", default=videos_default, help="the raw videos")
    parser.add_argument("--subject", default="001", help="the probe subject (default 001)")
    parser.add_argument("--gallery-subjects", default="001-074", metavar="FIRST-LAST")
    parser.add_argument("--view", default="090")
    parser.add_argument("--background", default="auto", help="'auto' or a clip of the empty scene")
    parser.add_argument("--metric", choices=METRICS, help="default: the run's evaluation metric, else euc")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))

    model, meta = load_for_inference(args.model)
    metric = args.metric or meta.get("metric") or "euc"
    source = open_dataset(args.data)
    first, last = (int(x) for x in args.gallery_subjects.split("-"))
    wanted = {f"{i:03d}" for i in range(first, last + 1)}
    keys = [k for k in source.list_keys() if k[0] in wanted and k[1] in GALLERY and k[2] == args.view]
    gallery_frames = [source.read(k).frames for k in keys]  # [T, 64, 64] {0, 1} each
    gallery = extract_embeddings(model.embed, lambda i: gallery_frames[i], [len(f) for f in gallery_frames])
    gallery_subjects = [k[0] for k in keys]

    probes: list[tuple[str, str, np.ndarray]] = []  # (condition, 'video' | 'official', frames)
    quality = {}
    for condition in PROBES:
        name = f"{args.subject}-{condition}-{args.view}"
        result = extract(Path(args.videos) / f"{name}.avi", args.background)
        quality[condition] = result.quality.to_dict()
        probes.append((condition, "video", result.frames))
        probes.append((condition, "official", source.read((args.subject, condition, args.view)).frames))
    embedded = extract_embeddings(model.embed, lambda i: probes[i][2], [len(p[2]) for p in probes])
    distances = pairwise_distances(embedded, gallery, metric)  # [probes, gallery]

    rows: dict[str, dict[str, object]] = {}
    for i, (condition, kind, frames) in enumerate(probes):
        row = rows.setdefault(condition, {"frames_kept": quality[condition]["kept"]})
        row[kind] = {"frames": len(frames), "top5": ranking(distances[i], gallery_subjects)}
    for row in rows.values():
        row["same_rank1"] = row["video"]["top5"][0]["subject"] == row["official"]["top5"][0]["subject"]
        row["video_rank1_correct"] = row["video"]["top5"][0]["subject"] == args.subject
        row["official_rank1_correct"] = row["official"]["top5"][0]["subject"] == args.subject
    print(json.dumps({
        "model": str(meta.get("file", args.model)), "stage": meta.get("stage"), "metric": metric,
        "gallery": {"subjects": len(set(gallery_subjects)), "sequences": len(keys),
                    "conditions": list(GALLERY), "view": args.view},
        "background": str(args.background), "probes": rows,
        "all_same_rank1": all(r["same_rank1"] for r in rows.values()),
    }, indent=1))


if __name__ == "__main__":
    main()
