"""Embedding throughput of deployed models (sequences/s): teacher, guided and routed mimic, fp32 and
bf16 PyTorch, and onnxruntime on the exported graph, on the same real sequences.

    python benchmarks/embed_speed.py --teacher RUN/teacher --mimic RUN/mimic [--sequences 96]

Sequences are CASIA-B validation sequences (subjects 063-074 of MIMICGAIT_CASIA_B, or
../shared/data/casia-b beside the clone), all frames, padded batches of --batch-size; without the
data, synthetic walkers. Each configuration embeds the set once to warm up, then --rounds times;
the JSON reports the median. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import mimicgait
from mimicgait.deploy.modelfile import model_payload
from mimicgait.engine.precision import native_bf16


def casia_b() -> Path | None:
    env = os.environ.get("MIMICGAIT_CASIA_B")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data" / "casia-b"
    return root / "train" if (root / "train").is_dir() else None


def load_sequences(count: int, frame_size: tuple[int, int]) -> tuple[list[np.ndarray], str]:
    data = casia_b()
    if data is None:
        from mimicgait.deploy.onnx_export import walking_boxes

        return walking_boxes(count, frame_size), "synthetic walkers"
    from mimicgait.data.sources import open_dataset
    from mimicgait.data.store import SequenceStore

    subjects = [f"{i:03d}" for i in range(63, 75)]
    store = SequenceStore.from_dataset(open_dataset(data), subjects=subjects, min_frames=1)
    step = max(1, len(store) // count)
    chosen = [store.frames(i) for i in range(0, len(store), step)][:count]
    return chosen, f"CASIA-B {subjects[0]}-{subjects[-1]}"


def timed(fn, rounds: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", required=True, help="teacher run or model file")
    parser.add_argument("--mimic", required=True, help="mimic run (guided and routed are exported from it)")
    parser.add_argument("--sequences", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-onnx", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    cases = [("teacher", args.teacher, None), ("mimic guided", args.mimic, "guided"),
             ("mimic routed", args.mimic, "routed")]
    first = mimicgait.load(args.teacher)
    sequences, origin = load_sequences(args.sequences, first.frame_size)
    frames = int(sum(len(s) for s in sequences))
    results = []
    for name, source, mode in cases:
        model = mimicgait.load(source, inference=mode)
        row = {"model": name, "fingerprint": model.fingerprint[:12]}
        n = len(sequences)
        row["torch_fp32"] = n / timed(lambda m=model: m.embed(sequences, args.batch_size), args.rounds)
        if native_bf16(torch.device("cpu")):
            def bf16(m=model):
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return m.embed(sequences, args.batch_size)
            row["torch_bf16"] = len(sequences) / timed(bf16, args.rounds)
        if not args.no_onnx:
            from mimicgait.deploy.onnx_export import OnnxRecognizer, export_onnx

            with tempfile.TemporaryDirectory() as tmp:
                onnx_file = Path(tmp) / "model.onnx"
                export_onnx(model_payload(source, mode) if mode else model_payload(source), onnx_file)
                runner = OnnxRecognizer(onnx_file, threads=args.threads)
                run_onnx = lambda r=runner: r.embed(sequences, args.batch_size)  # noqa: E731
                row["onnxruntime"] = n / timed(run_onnx, args.rounds)
                ours = model.embed(sequences, args.batch_size)
                theirs = runner.embed(sequences, args.batch_size)
                row["onnx_max_abs_diff_relative"] = float((ours - theirs).abs().max() / ours.abs().max())
        results.append({k: round(v, 2) if isinstance(v, float) and k != "onnx_max_abs_diff_relative" else v
                        for k, v in row.items()})
    print(json.dumps({
        "benchmark": "embed_speed", "unit": "sequences/s", "sequences": len(sequences), "frames": frames,
        "data": origin, "batch_size": args.batch_size, "threads": args.threads, "rounds": args.rounds,
        "cpu": platform.processor() or platform.machine(), "native_bf16": native_bf16(torch.device("cpu")),
        "load_average": os.getloadavg()[0], "results": results,
    }, indent=1))


if __name__ == "__main__":
    main()
