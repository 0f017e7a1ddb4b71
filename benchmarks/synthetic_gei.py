"""Synthetic data: generation speed, and how hard identification is for a training-free matcher.

Generates a synthetic CASIA-B-like dataset (default 50 subjects x 110 sequences), reads it back
through `mimicgait.data.sources.open_dataset`, and scores a plain gait-energy-image (mean
silhouette) nearest-neighbour matcher under the CASIA-B protocol: gallery nm-01..04, probes NM =
nm-05/06, BG = bg-01/02, CL = cl-01/02; Rank-1 per (probe view, gallery view) pair, identical
views excluded, averaged over gallery views then probe views. The scoring is written out here on
purpose (small and self-contained) rather than taken from `mimicgait.eval`.

For reference, GEI + NN scores about 23 / 16 / 7 (NM / BG / CL) on real CASIA-B test subjects;
synthetic data should be similarly far from both chance (1 / subjects) and 100 %.

Prints one JSON object.
    python benchmarks/synthetic_gei.py [--subjects 50] [--seed 0] [--frames 60] [--workers 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mimicgait.data.sources import open_dataset
from mimicgait.data.synthetic import CONDITIONS, VIEWS, generate_dataset

GALLERY = ("nm-01", "nm-02", "nm-03", "nm-04")
PROBES = {"NM": ("nm-05", "nm-06"), "BG": ("bg-01", "bg-02"), "CL": ("cl-01", "cl-02")}


def gei_rank1(geis: np.ndarray, subjects: np.ndarray, conditions: np.ndarray, views: np.ndarray) -> dict:
    """Cross-view Rank-1 (%) of Euclidean nearest neighbour on flattened GEIs [N, D], per probe set."""
    feats = torch.from_numpy(geis.reshape(len(geis), -1)).double()  # [N, D]
    dist = torch.cdist(feats, feats).numpy()  # [N, N]
    in_gallery = np.isin(conditions, GALLERY)
    out = {}
    for name, probe_conds in PROBES.items():
        in_probe = np.isin(conditions, probe_conds)
        per_probe_view = []
        for pv in VIEWS:
            accs = []
            for gv in VIEWS:
                if gv == pv:
                    continue
                p = np.flatnonzero(in_probe & (views == pv))
                g = np.flatnonzero(in_gallery & (views == gv))
                if p.size == 0 or g.size == 0:
                    continue
                nearest = g[dist[np.ix_(p, g)].argmin(1)]  # [P] gallery index of each probe's match
                accs.append(float((subjects[nearest] == subjects[p]).mean()))
            per_probe_view.append(np.mean(accs))
        out[name] = round(100 * float(np.mean(per_probe_view)), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None, help="keep the dataset here (default: a temporary folder)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        start = time.perf_counter()
        generate_dataset(
            out,
            args.subjects,
            args.seed,
            frames=args.frames,
            size=args.size,
            progress=False,
            workers=args.workers,
        )
        seconds = time.perf_counter() - start
        n_seq = args.subjects * len(VIEWS) * len(CONDITIONS)

        source = open_dataset(out)
        geis, subjects, conditions, views, lengths = [], [], [], [], []
        for rec in source.iter_records():  # one GEI per sequence, frames not kept
            geis.append(rec.frames.mean(0, dtype=np.float32))  # [H, W]
            subjects.append(rec.subject)
            conditions.append(rec.condition)
            views.append(rec.view)
            lengths.append(len(rec.frames))
        geis, lengths = np.stack(geis), np.array(lengths)
        subjects, conditions, views = np.array(subjects), np.array(conditions), np.array(views)
        rank1 = gei_rank1(geis, subjects, conditions, views)

    print(
        json.dumps(
            {
                "benchmark": "synthetic_gei",
                "subjects": args.subjects,
                "seed": args.seed,
                "frames": args.frames,
                "size": args.size,
                "workers": args.workers,
                "sequences": n_seq,
                "sequences_read": len(lengths),
                "frames_per_sequence": {"min": int(lengths.min()), "median": float(np.median(lengths))},
                "generate_s": round(seconds, 2),
                "sequences_per_s": round(n_seq / seconds, 1),
                "rank1_gei_nn": rank1,
                "chance": round(100 / args.subjects, 2),
                "cpu": platform.processor() or platform.machine(),
                "torch_threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
