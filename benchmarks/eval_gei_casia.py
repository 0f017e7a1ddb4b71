"""Training-free reference on real data: gait energy image + nearest neighbour under the CASIA-B protocol.

Runs the full `evaluate` path (store, batching, occlusion when asked, cross-view averaging) on
CASIA-B subjects held out from training (default 063-074 of the shipped training split; the
official test split 075-124 is not used). Prints one JSON object with Rank-1 NM/BG/CL and timing.
Usage: python benchmarks/eval_gei_casia.py [--data DIR] [--subjects 063-074] [--occlusion top,bottom]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from mimicgait.commands.eval import parse_subjects
from mimicgait.data.sources import open_dataset
from mimicgait.data.store import SequenceStore
from mimicgait.eval import protocols
from mimicgait.eval.evaluate import evaluate

PARTS = 16


def gei_embed(sils: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean silhouette over the valid frames, cut into horizontal strips: [N, S, H, W] -> [N, H/P*W, P]."""
    n, _s, h, w = sils.shape
    gei = sils.sum(1) / lengths.clamp(min=1).view(n, 1, 1).float()  # [N, H, W]
    return gei.reshape(n, PARTS, (h // PARTS) * w).transpose(1, 2)  # [N, C, P]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/work/shared/data/casia-b/train")
    parser.add_argument("--subjects", default="063-074")
    parser.add_argument("--occlusion", default="none")
    parser.add_argument("--gallery-occlusion", default="same")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    start = time.perf_counter()
    store = SequenceStore.from_dataset(open_dataset(args.data), subjects=parse_subjects(args.subjects))
    loaded = time.perf_counter()
    report = evaluate(gei_embed, store, protocols.casia_b(), occlusion=args.occlusion,
                      gallery_occlusion=args.gallery_occlusion, seed=args.seed, batch_size=16)
    done = time.perf_counter()
    print(json.dumps({
        "benchmark": "eval_gei_casia", "subjects": args.subjects, "sequences": len(store),
        "occlusion": report["occlusion"],
        "metrics": {k: round(v, 2) for k, v in report["metrics"].items() if k.startswith("rank1")},
        "per_kind": report["per_kind"],
        "load_seconds": round(loaded - start, 1), "eval_seconds": round(done - loaded, 1),
    }))


if __name__ == "__main__":
    main()
