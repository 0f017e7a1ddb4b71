"""Gallery search: query latency and peak memory for exact search (10k and 100k sequences, loaded
from a SQLite gallery as `mimicgait identify` does) and a FAISS shortlist (1M sequences), with the
FAISS shortlist's recall@5 against exact search.

    python benchmarks/identify_speed.py [--sizes 10000,100000] [--faiss-size 1000000]

Embeddings are synthetic, shaped like the CASIA-B CPU recipe's ([128, 16] per sequence): ten
sequences per identity scattered around an identity centre, identities in groups of 100 with
nearby centres, probes drawn like gallery sequences. Each case runs in its own process (and the
gallery is enrolled by another), so its peak resident memory (ru_maxrss) is the search's. Latency is
the median over --queries single-probe top-5 queries after the index is built. Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

C, P = 128, 16
PER_ID = 10


GROUP = 100  # identities per group: people whose gaits resemble each other


def centre(identity: int, seed: int = 0) -> np.ndarray:
    """An identity's centre [C, P]: its group's centre plus its own offset, so every identity has
    near neighbours (as real gaits do) and the ranks after the first are not a toss-up."""
    group = np.random.default_rng([seed, 1 << 41, identity // GROUP]).normal(size=(C, P))
    own = np.random.default_rng([seed, identity]).normal(size=(C, P))
    return (group + 0.7 * own).astype(np.float32)


def rows(start: int, stop: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gallery rows [start, stop): (identity int64 [n], embeddings float32 [n, C, P]), a pure
    function of the row range: identity centres and per-row noise come from seeded generators."""
    ids = np.arange(start, stop) // PER_ID
    centres = {int(i): centre(int(i), seed) for i in np.unique(ids)}
    noise = np.random.default_rng([seed, 1 << 40, start]).normal(size=(stop - start, C, P)).astype(np.float32)
    return ids, np.stack([centres[int(i)] for i in ids]) + 0.4 * noise


def probes(count: int, identities: int, seed: int = 7) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    out = np.stack([centre(int(i)) for i in rng.integers(0, identities, count)])
    return torch.from_numpy(out + 0.4 * rng.normal(size=out.shape).astype(np.float32))


def enrol(path: str, size: int) -> None:
    """Fill a gallery file with `size` rows (run in its own process, so that the search process's
    peak memory is the search's)."""
    from mimicgait.deploy.gallery import Gallery

    meta = {"fingerprint": "benchmark", "stage": "teacher", "inference": None, "backbone": "synthetic",
            "frame_size": [64, 64], "embedding": {"metric": "euc", "channels": C, "parts": P}}
    with Gallery(path, create=True) as gallery:
        for lo in range(0, size, 20_000):
            ids, emb = rows(lo, min(size, lo + 20_000))
            gallery.enroll(meta, [f"{i:07d}" for i in ids], torch.from_numpy(emb))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency(search, queries: torch.Tensor) -> float:
    search(queries[:1])
    times = []
    for i in range(len(queries)):
        start = time.perf_counter()
        search(queries[i : i + 1])
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def exact_case(size: int, queries: int) -> dict:
    from mimicgait.deploy.gallery import Gallery
    from mimicgait.deploy.search import ExactIndex

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.db"
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--enrol", str(path), "--size", str(size)], check=True)
        enrol_s = time.perf_counter() - start
        start = time.perf_counter()
        with Gallery(path) as gallery:
            names, identity, embeddings, _ = gallery.load(part_major=True)  # as `identify` loads it
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        index = ExactIndex(None, identity, part_major=embeddings)
        build_s = time.perf_counter() - start
        ms = latency(lambda q: index.search(q, 5), probes(queries, size // PER_ID))
        db_mb = path.stat().st_size / 2**20
    return {"case": f"exact-{size}", "sequences": size, "identities": size // PER_ID,
            "query_ms": round(ms, 2),
            "enrol_s": round(enrol_s, 1), "load_s": round(load_s, 2), "index_build_s": round(build_s, 2),
            "gallery_file_mb": round(db_mb), "peak_rss_mb": round(peak_mb())}


def faiss_case(size: int, queries: int, shortlist: int, nprobe: int) -> dict:
    """IVF-PQ shortlist + exact re-rank; the exact vectors live in a file-backed array (as they live
    in the gallery database), read only for the shortlisted rows."""
    from mimicgait.deploy.search import ExactIndex, FaissIndex, flatten_for_l2

    chunk = 50_000
    index = FaissIndex(C * P, lists=1024, subquantizers=64, nprobe=nprobe)
    start = time.perf_counter()
    _, sample = rows(0, 80_000, seed=3)
    index.train(flatten_for_l2(sample, "euc"))
    del sample
    train_s = time.perf_counter() - start
    row_bytes = C * P * 4
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "gallery.f32", "w+b") as store:
        start = time.perf_counter()
        for lo in range(0, size, chunk):
            _, emb = rows(lo, min(size, lo + chunk))
            store.write(emb.tobytes())
            index.add(flatten_for_l2(emb, "euc"))
        store.flush()
        add_s = time.perf_counter() - start
        identity = np.arange(size) // PER_ID

        def fetch(r: np.ndarray) -> torch.Tensor:  # one read per shortlisted row, as from a database
            out = np.empty((len(r), C, P), np.float32)
            for i, row in enumerate(r.tolist()):
                raw = os.pread(store.fileno(), row_bytes, row * row_bytes)
                out[i] = np.frombuffer(raw, np.float32).reshape(C, P)
            return torch.from_numpy(out)

        q = probes(queries, size // PER_ID)
        ms = latency(lambda x: index.search(x, identity, fetch, 5, shortlist), q)
        approx = index.search(q, identity, fetch, 5, shortlist)
        peak = peak_mb()  # before the exact reference pass below, which is not part of the search
        best = np.full((queries, size // PER_ID), np.inf, np.float32)  # exact, streamed in chunks
        for lo in range(0, size, chunk):
            n = min(chunk, size - lo)
            raw = os.pread(store.fileno(), n * row_bytes, lo * row_bytes)
            part = torch.from_numpy(np.frombuffer(raw, np.float32).reshape(n, C, P).copy())
            dist = ExactIndex(part, np.zeros(n, np.int64)).distances(q).numpy()  # [q, n]
            best[:, lo // PER_ID : (lo + n) // PER_ID] = dist.reshape(queries, -1, PER_ID).min(2)
    exact_top5 = np.argsort(best, axis=1)[:, :5]
    pairs = zip(approx.identity, exact_top5, strict=True)
    recall = float(np.mean([len(set(a) & set(e)) / 5 for a, e in pairs]))
    top1 = float(np.mean(approx.identity[:, 0] == exact_top5[:, 0]))
    return {"case": f"faiss-{size}", "sequences": size, "identities": size // PER_ID,
            "query_ms": round(ms, 2),
            "recall_at_5": round(recall, 4), "top1_agreement": round(top1, 4), "shortlist": shortlist,
            "nprobe": nprobe, "index": "IVF1024,PQ64 on flattened embeddings, exact re-rank from disk",
            "train_s": round(train_s, 1), "add_s": round(add_s, 1), "peak_rss_mb": round(peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="exact-search gallery sizes")
    parser.add_argument("--faiss-size", type=int, default=1_000_000, help="0 to skip")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--shortlist", type=int, default=200)
    parser.add_argument("--nprobe", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--enrol", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.enrol:
        enrol(args.enrol, args.size)
        return
    if args.case:
        kind, size = args.case.split("-")
        result = (exact_case(int(size), args.queries) if kind == "exact"
                  else faiss_case(int(size), args.queries, args.shortlist, args.nprobe))
        print(json.dumps(result))
        return
    cases = [f"exact-{int(s)}" for s in args.sizes.split(",") if s] + (
        [f"faiss-{args.faiss_size}"] if args.faiss_size else [])
    results = []
    for case in cases:
        cmd = [sys.executable, __file__, "--case", case, "--queries", str(args.queries), "--shortlist",
               str(args.shortlist), "--nprobe", str(args.nprobe), "--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(json.dumps({"benchmark": "identify_speed", "embedding": [C, P], "sequences_per_identity": PER_ID,
                      "top_k": 5, "threads": args.threads, "load_average": os.getloadavg()[0],
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
