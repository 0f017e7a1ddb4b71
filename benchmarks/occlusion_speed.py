"""Occlusion throughput: our vectorised forms against a straightforward per-frame OpenCV version.

Prints one JSON object: sequences/s of `OcclusionPolicy` (numpy, one sequence per call) and of
`policy.sample` + `occlude_batch` (torch, a whole batch per call; CUDA too when present) on
CASIA-B-sized sequences (80 frames of 64 x 64, 0/255 uint8), next to a per-frame OpenCV
implementation of the same operations (cv2.resize INTER_LINEAR + cv2.threshold per frame for
top/bottom/changing, cv2.rectangle per frame for middle/patch/pole) timed in the same run on the
same draws. Also checks that the two agree pixel for pixel (no resize ties exist at H = 64).

    .venv/bin/python benchmarks/occlusion_speed.py [--sequences 192] [--batch 16] [--repeats 7] [--threads 1]

All three run single-threaded by default: the per-frame and per-sequence forms cannot use more
threads, and on a busy 2-core machine torch's thread pool only adds waiting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import cv2
import numpy as np
import torch

from mimicgait.data.occlusion import KINDS, SPEED_SCALE, Occlusion, OcclusionPolicy, occlude, occlude_batch

T, H, W = 80, 64, 64


def walkers(count: int, seed: int = 0) -> np.ndarray:
    """[N, T, H, W] uint8 0/255: an ellipse body with swinging legs, drifting a little per frame."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:H, :W]
    t = np.arange(T)[:, None, None]
    out = np.empty((count, T, H, W), np.uint8)
    for n in range(count):
        cx = 32 + rng.uniform(-4, 4) + 2 * np.sin(t / 7.0)
        body = ((x - cx) / 8.0) ** 2 + ((y - 24) / 18.0) ** 2 <= 1
        swing = 6 * np.sin(t / 4.0 + rng.uniform(0, 6))
        legs = (y >= 38) & (np.abs(x - cx - swing * (y - 38) / 26) <= 3) | (
            (y >= 38) & (np.abs(x - cx + swing * (y - 38) / 26) <= 3)
        )
        out[n] = np.where(body | legs, 255, 0)
    return out


def opencv_per_frame(frames: np.ndarray, occ: Occlusion) -> np.ndarray:
    """The obvious implementation: one cv2 call per frame (the reference the speed is judged by)."""
    out = frames.copy()
    length = len(frames)
    crop = min(max(int(np.floor((1 - occ.amount) * H + 0.5)), 1), H)
    band = min(max(int(np.floor(occ.amount * H + 0.5)), 0), H)
    for t in range(length):
        kind = occ.kind
        if kind == "changing":
            kind = ("top", "bottom")[(t >= length // 2) != occ.reverse]
        if kind in ("top", "bottom"):
            kept = frames[t, H - crop :] if kind == "top" else frames[t, :crop]
            resized = cv2.resize(kept, (W, H), interpolation=cv2.INTER_LINEAR)
            _, out[t] = cv2.threshold(resized, 127, 255, cv2.THRESH_BINARY)
        elif kind == "middle":
            start = (H - band) // 2
            if band:
                cv2.rectangle(out[t], (0, start), (W - 1, start + band - 1), 0, thickness=-1)
        elif kind in ("patch", "pole"):
            span = int(np.floor((occ.width if kind == "patch" else occ.amount) * W + 0.5))
            top = H - band if kind == "patch" else 0
            pos = (int(round(occ.speed * SPEED_SCALE)) * t) // SPEED_SCALE
            left = W - span - pos if occ.reverse else pos
            if span and left < W and left + span > 0:
                cv2.rectangle(out[t], (left, top), (left + span - 1, H - 1), 0, thickness=-1)
    return out


def rates(runs: dict, count: int, repeats: int) -> dict[str, tuple[float, float]]:
    """(median, best) sequences/s over `repeats` rounds of each run; rounds interleave the runs so
    a busy machine's changing load hits every implementation alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: (count / statistics.median(t), count / min(t)) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=192, help="sequences per timed pass")
    parser.add_argument("--batch", type=int, default=16, help="sequences per torch batch")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (median and best reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    data = walkers(args.sequences)
    policy = OcclusionPolicy({k: 1 / 6 for k in KINDS[1:]})
    draws = [policy.draw(np.random.default_rng(i)) for i in range(args.sequences)]

    reference = [opencv_per_frame(x, o) for x, o in zip(data, draws, strict=True)]
    ours = [occlude(x, o) for x, o in zip(data, draws, strict=True)]
    agree = sum(np.array_equal(a, b) for a, b in zip(reference, ours, strict=True))

    def opencv() -> None:
        for x, o in zip(data, draws, strict=True):
            opencv_per_frame(x, o)

    def numpy_policy() -> None:
        rng = np.random.default_rng(0)
        for x in data:
            policy(x, rng)

    def torch_batched(device: str, dtype: torch.dtype):
        batches = [
            torch.from_numpy(data[i : i + args.batch]).to(device=device, dtype=dtype)
            for i in range(0, args.sequences, args.batch)
        ]
        gen = torch.Generator().manual_seed(0)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

        def run() -> None:
            for sils in batches:
                kind, amount = policy.sample(len(sils), gen)
                occlude_batch(sils, kind, amount, generator=gen, classes=policy.classes)
            sync()

        run()  # warm-up
        return run

    runs = {
        "opencv": opencv,
        "numpy": numpy_policy,
        "torch_cpu_uint8": torch_batched("cpu", torch.uint8),
        "torch_cpu_float32": torch_batched("cpu", torch.float32),
    }
    if torch.cuda.is_available():
        runs["torch_cuda_float32"] = torch_batched("cuda", torch.float32)
    measured = rates(runs, args.sequences, args.repeats)
    median = {name: round(m, 1) for name, (m, _) in measured.items()}
    best = {name: round(b, 1) for name, (_, b) in measured.items()}

    def speedups(rate: dict[str, float]) -> dict[str, float]:
        return {k: round(v / rate["opencv"], 2) for k, v in rate.items() if k != "opencv"}

    result = {
        "benchmark": "occlusion_speed",
        "sequence_shape": [T, H, W],
        "sequences": args.sequences,
        "kinds": list(policy.classes[1:]),
        "rounds": args.repeats,
        "seq_per_s_median": median,
        "seq_per_s_best": best,
        "speedup_vs_opencv_median": speedups(median),
        "speedup_vs_opencv_best": speedups(best),
        "torch_batch_size": args.batch,
        "outputs_equal_to_opencv": f"{agree}/{args.sequences}",
        "torch_threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "opencv": cv2.__version__,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    if torch.cuda.is_available():
        result["cuda_device"] = torch.cuda.get_device_name()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
