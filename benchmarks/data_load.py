"""Data-layer speed and memory: load a split into a SequenceStore, then draw P x K training batches.

Prints one JSON object: load time and resident-memory growth of the store, and batches per second
for P=8 x K=4 x 30 frames through a DataLoader with collation, with 0 and 2 workers.

    python benchmarks/data_load.py [--data DIR] [--batches 100]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from mimicgait.data.samplers import FrameSampler, IdentityBatchSampler, TrainingDataset, collate_sequences
from mimicgait.data.sources import open_dataset
from mimicgait.data.store import SequenceStore


def rss_mib() -> float:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def default_data() -> Path:
    env = os.environ.get("MIMICGAIT_CASIA_B")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data" / "casia-b"
    return root / "train"


def throughput(store: SequenceStore, workers: int, batches: int, warmup: int = 5) -> float:
    """Training batches per second (after `warmup` batches, which include worker start-up)."""
    dataset = TrainingDataset(store, FrameSampler("fixed", frames=30), seed=0)
    sampler = IdentityBatchSampler(store.labels, ids_per_batch=8, seqs_per_id=4, seed=0)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_sequences, num_workers=workers)
    stream = iter(loader)
    for batch in itertools.islice(stream, warmup):
        assert batch["sils"].shape == (32, 30, *store.frame_size)
    start = time.perf_counter()
    for _ in itertools.islice(stream, batches):
        pass
    elapsed = time.perf_counter() - start
    del stream  # shuts the workers down
    return batches / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--min-frames", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)

    before = rss_mib()
    start = time.perf_counter()
    source = open_dataset(args.data)
    store = SequenceStore.from_dataset(source, packed=True, min_frames=args.min_frames)
    load_s = time.perf_counter() - start
    after = rss_mib()

    result = {
        "benchmark": "data_load",
        "data": str(args.data),
        "format": source.format,
        "subjects": len(store.label_names),
        "sequences": len(store),
        "dropped_short": len(store.dropped),
        "frames": int(store.lengths.sum()),
        "load_s": round(load_s, 2),
        "rss_delta_mib": round(after - before, 1),
        "store_mib": round(store.nbytes / 2**20, 1),
        "batch": "8 ids x 4 seqs x 30 frames",
        "batches_timed": args.batches,
        "batches_per_s_workers0": round(throughput(store, 0, args.batches), 1),
        "batches_per_s_workers2": round(throughput(store, 2, args.batches), 1),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
