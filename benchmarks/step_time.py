"""Time one full MimicGait training step on random 0/1 silhouettes; print one JSON line.

The step is what `mimicgait train mimic` runs per iteration: flip + top/bottom occlusion of the
batch, GaitBase student forward and backward with VEN guidance (frozen VEN forward, mixer), frozen
teacher forward on the holistic batch, MiCKD loss, SGD step. Reported: the median seconds per step
over --steps timed steps (after one warm-up step) and the peak resident memory of the process.

Reference: the authors' published implementation of this step (Gupta & Chellappa, WACV 2025,
arXiv 2501.15666, public code): `benchmarks/reference_step.py --ref CHECKOUT` times it on the same
work in the same run as this step.

    python benchmarks/step_time.py --input 32 --channels 16,32,64,128 --ids 8 --per-id 4 --frames 30 --steps 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable

import torch

from mimicgait.data.occlusion import OcclusionPolicy, occlude_batch
from mimicgait.engine.augment import random_flip
from mimicgait.engine.host_memory import reuse_freed_memory
from mimicgait.engine.trainer import step_generator
from mimicgait.losses import MiCKDLoss
from mimicgait.models import BNNeckHead, GaitRecognizer, MimicNet, VisibilityEstimator, create_encoder


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", type=int, default=32, help="frame height and width (square frames)")
    p.add_argument("--channels", default="16,32,64,128", help="GaitBase stage widths")
    p.add_argument("--ids", type=int, default=8, help="subjects per batch (P)")
    p.add_argument("--per-id", type=int, default=4, help="sequences per subject (K)")
    p.add_argument("--frames", type=int, default=30, help="frames per sequence")
    p.add_argument("--steps", type=int, default=3, help="timed steps (after one warm-up step)")
    p.add_argument("--amp", choices=("none", "bf16"), default="none", help="autocast dtype on the CPU")
    p.add_argument("--layout", choices=("channels_last", "contiguous"), default="channels_last",
                   help="memory format of the 4-D weights (what `train.channels_last` sets)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--malloc", choices=("reuse", "system"), default="reuse",
                   help="'reuse': keep freed host memory for reuse (what `mimicgait` does unless "
                        "MIMICGAIT_MALLOC=system); 'system': glibc's default")
    return p.parse_args(argv)


def mimic_step(args: argparse.Namespace) -> tuple[Callable[[int], float], torch.nn.Module]:
    """(step(i) -> seconds of one timed training step on a fresh random batch, the mimic network)."""
    torch.manual_seed(0)
    channels = tuple(int(c) for c in args.channels.split(","))
    size = (args.input, args.input)
    spec = dict(channels=channels, out_channels=channels[-1] // 2, parts=16, input_size=size)
    n_classes = 74
    teacher_encoder = create_encoder("gaitbase", **spec)
    head = BNNeckHead(teacher_encoder.out_channels, teacher_encoder.parts, n_classes)
    teacher = GaitRecognizer(teacher_encoder, head)
    policy = OcclusionPolicy({"top": 0.5, "bottom": 0.5})
    ven = VisibilityEstimator(len(policy.classes))
    model = MimicNet(create_encoder("gaitbase", **spec), teacher=teacher, ven=ven, guidance=True)
    if args.layout == "channels_last":
        model.to(memory_format=torch.channels_last)  # also moves the frozen teacher and VEN
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)
    loss_fn = MiCKDLoss(0.05)
    n = args.ids * args.per_id
    labels = torch.arange(args.ids).repeat_interleave(args.per_id)  # [n]
    lengths = torch.full((n,), args.frames, dtype=torch.long)

    def step(i: int) -> float:
        sils = (torch.rand(n, args.frames, *size) < 0.3).to(torch.uint8)  # [n, S, H, W] random 0/1
        start = time.perf_counter()
        gen = step_generator(0, i, 0)
        sils = random_flip(sils, 0.5, gen)
        kind, amount = policy.sample(n, gen)
        occluded = occlude_batch(sils, kind, amount, lengths, gen, classes=policy.classes).float()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.amp == "bf16"):
            out = model(occluded, lengths, sils.float())  # student guided by the VEN; teacher on holistic
            loss, _ = loss_fn(out["student"], out["teacher"], labels)
        loss.backward()
        optimizer.step()
        return time.perf_counter() - start

    return step, model


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.malloc == "reuse":
        reuse_freed_memory(force=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    channels = tuple(int(c) for c in args.channels.split(","))
    size = (args.input, args.input)
    step, model = mimic_step(args)
    step(0)  # warm-up: first-call allocations and kernel selection
    times = [step(i + 1) for i in range(args.steps)]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "benchmark": "mimic_step_time",
        "input": list(size), "channels": list(channels), "batch": [args.ids, args.per_id, args.frames],
        "amp": args.amp, "layout": args.layout, "malloc": args.malloc, "threads": torch.get_num_threads(),
        "steps": args.steps,
        "s_per_step": round(statistics.median(times), 4), "s_per_step_all": [round(t, 4) for t in times],
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "student_params": sum(p.numel() for p in model.parameters()),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
