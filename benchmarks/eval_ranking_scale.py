"""Ranking cost at GREW scale on CPU: 6000 probes x 6000 gallery, embeddings [n, 256, 16].

Prints one JSON object: seconds for the streamed ranking (distances + Rank-k/mAP/mINP), the peak
resident memory growth during it, and the metrics (random embeddings with planted matches, so the
numbers only prove the pipeline runs, not model quality).
Usage: python benchmarks/eval_ranking_scale.py [--n 6000] [--channels 256] [--parts 16]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from mimicgait.eval.distances import probe_stats
from mimicgait.eval.metrics import summarise


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--parts", type=int, default=16)
    parser.add_argument("--metric", default="euc", choices=("euc", "cos"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(0)
    ids = torch.arange(args.n) // 2  # two gallery sequences per identity
    centres = torch.randn(args.n, args.channels, args.parts, generator=g)
    gallery = centres[ids] + 2.5 * torch.randn(args.n, args.channels, args.parts, generator=g)
    probe = centres[ids] + 2.5 * torch.randn(args.n, args.channels, args.parts, generator=g)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    stats = probe_stats(probe, ids, gallery, ids, args.metric)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "benchmark": "eval_ranking_scale",
        "probes": args.n, "gallery": args.n, "channels": args.channels, "parts": args.parts,
        "metric": args.metric, "threads": torch.get_num_threads(),
        "seconds": round(seconds, 2),
        "peak_rss_growth_mb": round((after - before) / 1024, 1),
        "full_matrix_mb": round(args.n * args.n * 4 / 2**20, 1),
        "metrics": {k: round(v, 2) for k, v in summarise(stats, (1, 5, 10, 20)).items()},
    }))


if __name__ == "__main__":
    main()
