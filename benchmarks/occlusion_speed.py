"""Occlusion throughput: our vectorised forms against a straightforward per-frame OpenCV version.

Prints one JSON object: sequences/s of `OcclusionPolicy` (numpy, one sequence per call) and of
`policy.sample` + `occlude_batch` (torch, a whole batch per call; CUDA too when present) on
CASIA-B-sized sequences (80 frames of 64 x 64, 0/255 uint8), next to a per-frame OpenCV
implementation of the same operations (cv2.resize INTER_LINEAR + cv2.threshold per frame for
top/bottom/changing, cv2.rectangle per frame for middle/patch/pole) timed in the same run on the
same draws. Also checks that the two agree pixel for pixel (no resize ties exist at H = 64).

The wild kinds (crowd, object, cut) are timed the same way, each on its own (`wild` in the JSON):
`occlude` per sequence (NumPy), `policy.sample` + `occlude_batch` per batch (torch), against a
per-frame OpenCV implementation of the same operation: the same level search (`wild.search_levels`),
where every count renders each frame's occluder with OpenCV (cv2.rectangle for a cut's missing side
and an object's parts, cv2.flip + cv2.remap nearest for the other walker) and counts
cv2.countNonZero(cv2.bitwise_and(walker, occluder)); then the frame-dropping rule and, per kept
frame, cv2.boundingRect + cv2.remap (nearest, the exact half-pixel-centre source rows and columns)
+ centring. For the crowd the OpenCV form maps each pixel to the other walker's pixel its centre
falls in, in floating point, where ours places their row runs as rectangles, so the two could
differ by a pixel at an edge; `outputs_equal_to_opencv` says how often they agree exactly.

    .venv/bin/python benchmarks/occlusion_speed.py [--sequences 192] [--batch 16] [--repeats 7] [--threads 1]
        [--wild-sequences 32] [--wild-repeats 3]

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

from mimicgait.data.occlusion import (
    DROP_ABOVE,
    KINDS,
    SPEED_SCALE,
    WILD_KINDS,
    OccluderPool,
    Occlusion,
    OcclusionPolicy,
    draw_occlusion,
    occlude,
    occlude_batch,
)
from mimicgait.data.occlusion.object_shapes import SHAPE_NAMES, SHAPES
from mimicgait.data.occlusion.sprite import SCALE_RANGE, anchor_columns
from mimicgait.data.occlusion.wild import occlude_wild_many, search_levels

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


def _bounds(low: float, high: float, size: int) -> tuple[int, int]:
    """The pixels whose centre lies in [low, high), clipped (the library's rounding rule)."""
    a = int(min(max(np.ceil(low - 0.5), 0), size))
    return a, max(a, int(min(max(np.ceil(high - 0.5), 0), size)))


def _scale(level: float) -> float:
    lo, hi = SCALE_RANGE
    return lo * (hi / lo) ** level


def opencv_cover(kind: str, occ: Occlusion, walker: np.ndarray, t: int, level: float, length: int,
                 other: np.ndarray | None, variant: int) -> np.ndarray:
    """Frame t's occluder at `level`, drawn with OpenCV: [H, W] uint8 0/255."""
    cover = np.zeros((H, W), np.uint8)
    if kind == "cut":
        if not walker[t].any():
            return cover
        x, y, w, h = cv2.boundingRect(walker[t])
        extent = h if occ.variant >= 2 else w
        cut = int(np.floor(level * extent + 0.5))
        if cut:
            corners = {0: ((0, 0), (x + cut - 1, H - 1)), 1: ((x + w - cut, 0), (W - 1, H - 1)),
                       2: ((0, 0), (W - 1, y + cut - 1)), 3: ((0, y + h - cut), (W - 1, H - 1))}[occ.variant]
            cv2.rectangle(cover, *corners, 255, thickness=-1)
        return cover
    x_t = anchor_columns(length, occ.speed, occ.reverse, occ.offset, W)[t]
    if kind == "object":
        nominal, parts = SHAPES[SHAPE_NAMES[variant]]
        size = nominal * H * _scale(level)
        for u0, u1, v0, v1 in parts:
            x0, x1 = _bounds(x_t + u0 * size, x_t + u1 * size, W)
            y0, y1 = _bounds(H - v1 * size, H - v0 * size, H)
            if x1 > x0 and y1 > y0:
                cv2.rectangle(cover, (x0, y0), (x1 - 1, y1 - 1), 255, thickness=-1)
        return cover
    count, ho, wo = other.shape
    frame = cv2.flip(other[(int(occ.phase * count) + t) % count], 1)
    size = H / ho * _scale(level)  # pixels per pixel of the other walker
    left, top = x_t - wo / 2 * size, H - ho * size  # where their frame's corner lands
    # each of our pixels shows the pixel of theirs its centre falls in (none outside their frame)
    map_x = np.floor((np.arange(W) + 0.5 - left) / size).astype(np.float32)
    map_y = np.floor((np.arange(H) + 0.5 - top) / size).astype(np.float32)
    map_x[(map_x < 0) | (map_x >= wo)] = -1
    map_y[(map_y < 0) | (map_y >= ho)] = -1
    return cv2.remap(frame, np.ascontiguousarray(np.broadcast_to(map_x, (H, W))),
                     np.ascontiguousarray(np.broadcast_to(map_y[:, None], (H, W))), cv2.INTER_NEAREST,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def opencv_realign(visible: np.ndarray) -> np.ndarray:
    """Crop to the visible box, scale to the frame height, centre on the half mass: [H, W] uint8."""
    out = np.zeros((H, W), np.uint8)
    if not visible.any():
        return out
    x, y, w, h = cv2.boundingRect(visible)
    crop = visible[y : y + h, x : x + w]
    scaled = max((2 * w * H + h) // (2 * h), 1)
    # nearest neighbour at half-pixel centres, with the exact source of each row and column
    map_x = np.broadcast_to(((2 * np.arange(scaled) + 1) * w // (2 * scaled)).astype(np.float32), (H, scaled))
    map_y = np.broadcast_to(((2 * np.arange(H) + 1) * h // (2 * H)).astype(np.float32)[:, None], (H, scaled))
    resized = cv2.remap(crop, np.ascontiguousarray(map_x), np.ascontiguousarray(map_y), cv2.INTER_NEAREST)
    mass = np.count_nonzero(crop, axis=0).cumsum()
    centre = int(np.argmax(2 * mass > mass[-1]))
    left = ((2 * centre + 1) * scaled) // (2 * w) - W // 2
    lo, hi = max(left, 0), min(left + W, scaled)
    if hi > lo:
        out[:, lo - left : hi - left] = resized[:, lo:hi]
    return out


def opencv_wild(frames: np.ndarray, occ: Occlusion, pool: OccluderPool, variant: int) -> np.ndarray:
    """A wild occlusion of one sequence, frame by frame with OpenCV (see the module docstring)."""
    length = len(frames)
    walker = np.where(frames != 0, 255, 0).astype(np.uint8)  # [T, H, W]
    other = pool.frames(occ.source) if occ.kind == "crowd" else None
    totals = [cv2.countNonZero(walker[t]) for t in range(length)]

    def hidden_at(level: float) -> list[int]:
        return [cv2.countNonZero(cv2.bitwise_and(walker[t], opencv_cover(
            occ.kind, occ, walker, t, level, length, other, variant))) for t in range(length)]

    level = float(search_levels(lambda lv: np.array([sum(hidden_at(float(lv[0])))]),
                                np.array([occ.amount]), np.array([sum(totals)]))[0])
    kept, best = [], (-1, None)
    for t in range(length):
        cover = opencv_cover(occ.kind, occ, walker, t, level, length, other, variant)
        visible = cv2.bitwise_and(walker[t], cv2.bitwise_not(cover))
        left = cv2.countNonZero(visible)
        aligned = None
        if left > 0 and not totals[t] - left > DROP_ABOVE * totals[t]:
            aligned = opencv_realign(visible)
            kept.append(np.where(aligned > 0, frames[t].max(), 0).astype(frames.dtype))
        if left > best[0]:
            best = (left, (t, visible))
    if not kept:  # the detector lost them everywhere: keep the frame with most of them left
        t, visible = best[1]
        kept.append(np.where(opencv_realign(visible) > 0, frames[t].max(), 0).astype(frames.dtype))
    return np.stack(kept)


def wild_benchmark(kind: str, data: np.ndarray, args: argparse.Namespace) -> dict:
    """sequences/s of one wild kind: OpenCV per frame, NumPy per sequence, torch per batch."""
    subjects = [f"{i:04d}" for i in range(len(data))]
    pool = OccluderPool.from_sequences(list(zip(subjects, data, strict=True)))
    draws = [draw_occlusion(kind, np.random.default_rng(i), pool=pool, subject=subjects[i])
             for i in range(len(data))]
    exact = occlude_wild_many(data, draws, np.full(len(data), T), pool)  # the shapes objects ended with
    variants = exact.variant.tolist()
    ours = [occlude(x, o, pool) for x, o in zip(data, draws, strict=True)]
    reference = [opencv_wild(x, o, pool, v) for x, o, v in zip(data, draws, variants, strict=True)]
    agree = sum(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(ours, reference, strict=True))
    policy = OcclusionPolicy({kind: 1.0})

    def opencv() -> None:
        for x, o, v in zip(data, draws, variants, strict=True):
            opencv_wild(x, o, pool, v)

    def numpy_occlude() -> None:
        for x, o in zip(data, draws, strict=True):
            occlude(x, o, pool)

    def torch_batched(device: str):
        batches = [(torch.from_numpy(data[i : i + args.batch]).to(device), subjects[i : i + args.batch])
                   for i in range(0, len(data), args.batch)]
        gen = torch.Generator().manual_seed(0)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

        def run() -> None:
            for sils, names in batches:
                kinds, amount = policy.sample(len(sils), gen)
                occlude_batch(sils, kinds, amount, generator=gen, classes=policy.classes, pool=pool,
                              subjects=names)
            sync()

        run()  # warm-up
        return run

    runs = {"opencv": opencv, "numpy": numpy_occlude, "torch_cpu_uint8": torch_batched("cpu")}
    if torch.cuda.is_available():
        runs["torch_cuda_uint8"] = torch_batched("cuda")
    measured = rates(runs, len(data), args.wild_repeats)
    median = {name: round(m, 1) for name, (m, _) in measured.items()}
    return {
        "sequences": len(data),
        "seq_per_s_median": median,
        "speedup_vs_opencv_median": {k: round(v / median["opencv"], 2) for k, v in median.items()
                                     if k != "opencv"},
        "outputs_equal_to_opencv": f"{agree}/{len(data)}",
        "frames_dropped": int(T * len(data) - exact.kept.sum()),
        "mean_hidden_fraction": round(float(exact.hidden_fraction.mean()), 3),
    }


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
    parser.add_argument("--wild-sequences", type=int, default=32, help="sequences per wild kind's timed pass")
    parser.add_argument("--wild-repeats", type=int, default=3, help="timed rounds of each wild kind")
    parser.add_argument("--only-wild", action="store_true", help="time the wild kinds only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    if args.only_wild:
        print(json.dumps({"benchmark": "occlusion_speed", "sequence_shape": [T, H, W],
                          "torch_batch_size": args.batch, "wild": wild_results(args), **environment()}))
        return
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
        "wild": wild_results(args),
        **environment(),
    }
    print(json.dumps(result))


def wild_results(args: argparse.Namespace) -> dict:
    """Every wild kind's timings on the same walkers."""
    data = walkers(args.wild_sequences, seed=1)
    return {kind: wild_benchmark(kind, data, args) for kind in WILD_KINDS}


def environment() -> dict:
    """Threads, load and versions the figures were measured with."""
    out = {
        "torch_threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "opencv": cv2.__version__,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    if torch.cuda.is_available():
        out["cuda_device"] = torch.cuda.get_device_name()
    return out


if __name__ == "__main__":
    main()
