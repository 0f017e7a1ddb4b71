"""Fingerprint a tiny pipeline: sha256 of every trained model's weights and every report; print JSON.

Trains the built-in `tiny` config's five stages plus four variants on a small synthetic dataset with
fixed seeds and iterations, evaluates as the pipeline does, and hashes what came out: each job's
state_dict (tensor names, dtypes, shapes and bytes, in name order) and each report with the
run-specific paths left out. Two commits that give the same fingerprint on one machine train and
evaluate identically, so a refactoring can show it changed no behaviour:

    python benchmarks/pipeline_fingerprint.py --out /tmp/fp-before      # on the old commit
    python benchmarks/pipeline_fingerprint.py --out /tmp/fp-after       # on the new one

Given the directory of a finished fingerprint run, it hashes that run again without training.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import torch

from mimicgait.data.synthetic import generate_dataset
from mimicgait.engine.config import load_config
from mimicgait.pipeline import run_pipeline

SETTINGS = [
    "data.val_subjects='005-006'",
    "train.iterations=3",
    "train.checkpoint_every=0",
    "train.val_every=-1",
    "pipeline.stages=[teacher, ven, baseline, occ-aware, mimic]",
    # the controls from the teacher, the mimic with its cross-entropy, the L2 ablation
    "pipeline.variants={mimic-l2: {stage: mimic, set: {loss.kd: l2}},"
    " mimic-xe: {stage: mimic, set: {loss.mimic_ce_weight: 1.0, mimic.init: teacher}},"
    " baseline-ft: {stage: baseline, set: {baseline.init: teacher}},"
    " occ-aware-ft: {stage: occ-aware, set: {baseline.init: teacher}}}",
    "pipeline.eval.batch_size=16",
    "pipeline.eval.seeds=2",
]
#: Report keys that name where the run lived rather than what it computed.
PLACES = ("checkpoint", "data")


def weights_digest(path: Path) -> str:
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().contiguous().cpu()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def report_digest(path: Path) -> str:
    report: dict[str, Any] = json.loads(path.read_text())
    for key in PLACES:
        report.pop(key, None)
    return hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=Path, help="a new directory for the data and the run")
    args = p.parse_args(argv)
    run = args.out / "run"
    if not (run / "summary.md").is_file():  # a finished run is only hashed again
        if args.out.exists():
            print(f"--out {args.out} exists and holds no finished run; give a new directory", file=sys.stderr)
            return 2
        torch.set_num_threads(1)  # one thread: the same float sums whatever the core count
        data = generate_dataset(args.out / "data", subjects=6, seed=0, frames=10, size=32,
                                views=[0, 90, 180], progress=False)
        run_pipeline(load_config("tiny"), data, run, SETTINGS, progress=False)
    weights = {p.parent.name: weights_digest(p) for p in sorted(run.glob("*/model.pt"))}
    reports = {p.stem: report_digest(p) for p in sorted((run / "reports").glob("*.json"))}
    combined = hashlib.sha256(json.dumps([weights, reports], sort_keys=True).encode()).hexdigest()
    print(json.dumps({"benchmark": "pipeline_fingerprint", "settings": SETTINGS, "weights": weights,
                      "reports": reports, "combined": combined}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
