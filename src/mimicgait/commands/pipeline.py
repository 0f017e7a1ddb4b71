"""`mimicgait pipeline`: train teacher, VEN, Baseline-2, mimic (and variants), evaluate and compare."""

from __future__ import annotations

import argparse
import json

from mimicgait.commands._options import add_overrides


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `pipeline` sub-command."""
    p = subparsers.add_parser(
        "pipeline",
        help="train every stage of a config, evaluate them all and print the comparison table",
        description="Train the stages of the config's `pipeline` section (teacher, ven, baseline, mimic, "
        "then any variants) into RUN_DIR/<name>/, skipping those with a model.pt and resuming those with "
        "only checkpoints/last.pt; then evaluate Baseline-1/-2 and the mimic network under occlusion and "
        "write RUN_DIR/reports/*.json, RUN_DIR/plots/ and RUN_DIR/summary.md (see docs/pipeline.md).",
    )
    p.add_argument("--config", required=True, help="YAML file or built-in name such as casia-b/cpu")
    p.add_argument("--data", required=True, help="data directory (npz archives, pkl tree or PNG tree)")
    p.add_argument("--out", required=True, help="run directory (created; reruns continue it)")
    add_overrides(p, " for every stage")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--json", action="store_true", help="also print the job status and report paths as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mimicgait.engine.config import load_config
    from mimicgait.pipeline import run_pipeline

    config = load_config(args.config)
    result = run_pipeline(
        config, args.data, args.out, args.overrides, progress=False if args.no_progress else True
    )
    print(result["summary"])
    if args.json:
        print(json.dumps({"jobs": result["jobs"], "reports": result["reports"]}))
    return 0
