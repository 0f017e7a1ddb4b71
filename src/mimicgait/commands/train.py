"""`mimicgait train STAGE`: train a teacher, VEN, baseline, occ-aware or mimic model from a config."""

from __future__ import annotations

import argparse
import json
import os

from mimicgait.commands._options import add_overrides
from mimicgait.engine.stages import stage_order


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` sub-command."""
    p = subparsers.add_parser(
        "train",
        help=f"train one stage ({', '.join(stage_order())}) from a YAML config",
        description="Train one stage into a run directory (config.yaml, log.jsonl, checkpoints/last.pt, "
        "model.pt). Under `torchrun --nproc_per_node=N` the same command trains with DDP.",
    )
    p.add_argument("stage", choices=stage_order())
    p.add_argument("--config", required=True, help="YAML file or built-in name such as casia-b/gaitbase")
    p.add_argument("--data", required=True, help="data directory (npz archives, pkl tree or PNG tree)")
    p.add_argument("--out", required=True, help="run directory to write")
    add_overrides(p, "")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoints/last.pt")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mimicgait.engine.config import load_config
    from mimicgait.engine.run import train

    config = load_config(args.config, args.overrides)
    summary = train(args.stage, config, args.data, args.out, resume=args.resume)
    if int(os.environ.get("RANK", "0") or 0) == 0:  # under torchrun one summary, from rank 0
        print(json.dumps({"stage": args.stage, "run_dir": args.out, **summary}, default=float))
    return 0
