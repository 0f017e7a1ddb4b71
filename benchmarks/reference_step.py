"""Time the published MimicGait training step next to ours, on the same work, in one run; print JSON.

Given a checkout of the authors' public code (Gupta & Chellappa, WACV 2025, arXiv 2501.15666; an
OpenGait tree with `opengait/modeling/...`), this builds its guided mimic network from the
checkout's own modules (the GaitBase backbone `ResNet9` in `SetBlockWrapper`, temporal max pooling,
`HorizontalPoolingPyramid`, `SeparateFCs`, the `Occ_Detector`, the occlusion mixer) and runs the step
its `Baseline_Mimic_Full_Guided.forward` takes in training: detector and mimic on the occluded
batch, the mixer, the frozen teacher on the holistic batch, its `TripletLossFlat` on both, backward,
SGD. The batch sizes, frame size and backbone widths are ours (`benchmarks/step_time.py`'s
arguments), and our step runs in the same process, alternating with theirs, so both see the same
machine state. Occlusion and batch preparation are outside the reference's timing (its data loader
does them in worker processes) and inside ours, which favours the reference.

The published code imports torchvision (its backbone subclasses torchvision's ResNet); run this where
torchvision is installed. Its loss expects a process group: a one-process gloo group is made.

    python benchmarks/reference_step.py --ref ~/src/mimicgait-published --input 32 \
        --channels 16,32,64,128 --ids 8 --per-id 4 --frames 30 --steps 3
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from step_time import mimic_step
from step_time import parse_args as step_args


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def load_reference(root: Path) -> dict[str, Any]:
    """The checkout's modules, imported from ROOT/opengait (its own import root)."""
    tree = root / "opengait" if (root / "opengait" / "modeling").is_dir() else root
    if not (tree / "modeling" / "modules.py").is_file():
        raise FileNotFoundError(f"--ref {root}: no opengait/modeling/modules.py there; give the root of a "
                                "checkout of the published MimicGait code")
    sys.path.insert(0, str(tree))
    return {
        "modules": importlib.import_module("modeling.modules"),
        "backbones": importlib.import_module("modeling.backbones.resnet"),
        "losses": importlib.import_module("modeling.losses.triplet_flat"),
    }


def reference_step(ref: dict[str, Any], args: argparse.Namespace) -> Any:
    """step(i) -> seconds of one published-code training step on a fresh random batch."""
    m = ref["modules"]
    channels = [int(c) for c in args.channels.split(",")]
    parts = 16
    out_channels = channels[-1] // 2

    def component() -> torch.nn.Module:
        backbone = ref["backbones"].ResNet9(block="BasicBlock", channels=channels, in_channel=1,
                                            layers=[1, 1, 1, 1], strides=[1, 2, 2, 1], maxpool=False)
        net = torch.nn.Module()
        net.Backbone = m.SetBlockWrapper(backbone)
        net.FCs = m.SeparateFCs(parts_num=parts, in_channels=channels[-1], out_channels=out_channels)
        return net

    hpp = m.HorizontalPoolingPyramid(bin_num=[parts])
    pooling = m.PackSequenceWrapper(torch.max)

    def embed(net: torch.nn.Module, sils: torch.Tensor) -> torch.Tensor:
        x = net.Backbone(sils.unsqueeze(1))  # [n, 1, s, h, w] -> [n, c, s, h', w']
        x = pooling(x, None, options={"dim": 2})[0]  # [n, c, h', w']
        return net.FCs(hpp(x))  # [n, c_out, p]

    torch.manual_seed(0)
    teacher, student = component(), component()
    teacher.requires_grad_(False)
    detector = m.Occ_Detector(parts_num=parts)
    detector.requires_grad_(False)
    mixer = m.SeparateFCs(parts_num=parts, in_channels=out_channels + 64, out_channels=out_channels)
    params = list(student.parameters()) + list(mixer.parameters())
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = ref["losses"].TripletLossFlat(margin=0.2)
    n = args.ids * args.per_id
    labels = torch.arange(args.ids).repeat_interleave(args.per_id)  # [n]
    size = (args.input, args.input)

    def step(i: int) -> float:
        holistic = (torch.rand(n, args.frames, *size) < 0.3).float()  # [n, S, H, W]
        occluded = holistic.clone()
        occluded[..., : args.input // 2, :] = 0  # the loader's work: not timed
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.amp == "bf16"):
            with torch.no_grad():
                occ = detector(occluded.unsqueeze(1), None)  # [n, 64, p]
                target = embed(teacher, holistic)
            mixed = mixer(torch.cat([embed(student, occluded), occ], 1))  # [n, c, p]
            result = loss_fn(torch.cat([mixed, target]).float(), torch.cat([labels, labels]))
        loss = result[0] if isinstance(result, tuple) else result
        loss.backward()
        optimizer.step()
        return time.perf_counter() - start

    return step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=False)
    p.add_argument("--ref", required=True, type=Path, help="root of a checkout of the published code")
    known, rest = p.parse_known_args(argv)
    args = step_args(rest)
    try:
        ref = load_reference(known.ref)
    except FileNotFoundError as err:
        return _fail(str(err))
    except ImportError as err:
        return _fail(f"--ref {known.ref}: importing the published code failed ({err}); it needs "
                     "torchvision and its own requirements installed in this environment")
    if args.threads:
        torch.set_num_threads(args.threads)
    if not torch.distributed.is_initialized():
        store = Path(tempfile.mkdtemp()) / "store"
        torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    ours, _ = mimic_step(args)
    theirs = reference_step(ref, args)
    ours(0)
    theirs(0)  # warm-up of both
    times: dict[str, list[float]] = {"ours": [], "reference": []}
    for i in range(1, args.steps + 1):  # alternate, so a slow spell of the machine hits both
        times["ours"].append(ours(i))
        times["reference"].append(theirs(i))
    median = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({
        "benchmark": "reference_step",
        "ref": str(known.ref), "input": [args.input, args.input], "channels": args.channels,
        "batch": [args.ids, args.per_id, args.frames], "amp": args.amp, "threads": torch.get_num_threads(),
        "steps": args.steps,
        "s_per_step": {k: round(v, 4) for k, v in median.items()},
        "s_per_step_all": {k: [round(t, 4) for t in v] for k, v in times.items()},
        "speedup": round(median["reference"] / median["ours"], 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
