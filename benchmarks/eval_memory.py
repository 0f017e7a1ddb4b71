"""Peak resident memory and wall time of evaluation: one `eval`, one `identify`, the pipeline's evaluation.

Each measured command runs as its own process (`python -m mimicgait.cli ...`); its peak resident
set is the child's `ru_maxrss` as `os.wait4` reports it, so nothing of this script is counted.
The models are the `tiny` config's stages (teacher, VEN, Baseline-2, Occlusion-Aware, mimic) with
the CPU recipe's embedding size ([128, 16]), trained for a few steps on the subjects not evaluated:
they take seconds to train and embed, and their embeddings are as large as the recipe's, which is
what evaluation holds. On 50 subjects of CASIA-B's training split (about 5000 sequences):

    python benchmarks/eval_memory.py --data ../shared/data/casia-b/train --subjects 001-050

`--repo OTHER_CHECKOUT` runs the measured commands with that checkout's `src` first on the path
(the same commands exist there), to compare two commits; `--smoke` shrinks everything to seconds.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mimicgait.data.partition import parse_subjects
from mimicgait.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
#: The tiny config, grown to the CPU recipe's embedding ([C, P] = [128, 16]); a few training steps.
TRAIN_SETTINGS = [
    "model.encoder_kwargs={channels: [4, 8, 8, 16], parts: 16, out_channels: 128}",
    "train.iterations=2",
    "train.checkpoint_every=0",
    "train.val_every=-1",
    "pipeline.stages=[teacher, ven, baseline, occ-aware, mimic]",
]
GALLERY_TYPES = "nm-01,nm-02,nm-03,nm-04"
PROBE_TYPES = "nm-05,nm-06,bg,cl"
MEASUREMENTS = ("eval", "identify", "pipeline")


def run_measured(argv: list[str], env: dict[str, str], log: Path) -> dict[str, float]:
    """Run `argv`, wait for it with `os.wait4`: {'peak_rss_mb', 'wall_s'} of that child."""
    start = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(argv[:4])} ... failed ({proc.returncode}):\n{tail}")
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "wall_s": round(wall, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared/data/casia-b/train"),
                   help="CASIA-B-like data directory (default ../shared/data/casia-b/train)")
    p.add_argument("--subjects", default="001-050", help="subjects evaluated (default 001-050)")
    p.add_argument("--train-subjects", default="051-074",
                   help="subjects the models are trained on (default 051-074)")
    p.add_argument("--seeds", type=int, default=1,
                   help="occlusion draws of the pipeline's reports (default 1)")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per forward pass (default 32)")
    p.add_argument("--work", type=Path, help="working directory (default: a temporary one); a finished "
                   "training there is reused")
    p.add_argument("--repo", type=Path, default=ROOT,
                   help="checkout whose code is measured (default: this one); models are trained with it too")
    p.add_argument("--only", default=",".join(MEASUREMENTS), help="which measurements (comma list)")
    p.add_argument("--smoke", action="store_true", help="seconds: 3 evaluated subjects, 4 trained on")
    args = p.parse_args(argv)
    if args.smoke:
        args.subjects, args.train_subjects = "001-003", "004-007"
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in only if n not in MEASUREMENTS]
    if unknown or not only:  # checked before anything is trained
        raise UserError(f"--only {args.only}: choose from {', '.join(MEASUREMENTS)}")
    parse_subjects(args.subjects)
    first_trained = ",".join(parse_subjects(args.train_subjects, "--train-subjects")[:2])
    work = args.work or Path(tempfile.mkdtemp(prefix="eval_memory-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(args.repo.resolve() / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    cli = [sys.executable, "-m", "mimicgait.cli"]
    run_dir = work / "run"
    teacher = str(run_dir / "teacher")
    training = [*TRAIN_SETTINGS, f"data.subjects={args.train_subjects!r}", "data.val_subjects=null",
                f"pipeline.eval.batch_size={args.batch_size}", f"pipeline.eval.seeds={args.seeds}"]
    pipeline = [*cli, "pipeline", "--config", "tiny", "--data", args.data, "--out", str(run_dir),
                "--no-progress"] + [a for s in training for a in ("--set", s)]
    prepare: dict[str, float] = {}
    if not (run_dir / "summary.md").is_file():  # train once; the first evaluation is on two subjects only
        prepare["train"] = run_measured(
            [*pipeline, "--set", f"pipeline.eval.subjects={first_trained!r}"], env,
            work / "train.log")["wall_s"]
    gallery = work / "gallery.db"
    if "identify" in only and not gallery.is_file():
        prepare["enroll"] = run_measured(
            [*cli, "gallery", "enroll", "--gallery", str(gallery), "--model", teacher, "--data", args.data,
             "--subjects", args.subjects, "--types", GALLERY_TYPES, "--no-progress"], env,
            work / "enroll.log")["wall_s"]

    commands = {
        "eval": [*cli, "eval", "--checkpoint", teacher, "--data", args.data, "--subjects", args.subjects,
                 "--protocol", "casia-b", "--occlusion", "top,bottom", "--batch-size", str(args.batch_size),
                 "--no-progress", "--json", str(work / "eval.json")],
        "identify": [*cli, "identify", "--gallery", str(gallery), "--model", teacher, "--data", args.data,
                     "--subjects", args.subjects, "--types", PROBE_TYPES, "--occlusion", "top,bottom",
                     "--batch-size", str(args.batch_size), "--no-progress",
                     "--json", str(work / "identify.json"), "--force"],
        # the models are trained: the pipeline only evaluates (every report, on the evaluated subjects)
        "pipeline": [*pipeline, "--set", f"pipeline.eval.subjects={args.subjects!r}"],
    }
    results = {}
    for name in only:
        if name == "pipeline":
            for report in (run_dir / "reports").glob("*.json"):
                report.unlink()  # every report evaluated again, none reused
        results[name] = run_measured(commands[name], env, work / f"{name}.log")
    report = work / "eval.json"
    sequences = json.loads(report.read_text())["counts"] if report.is_file() else {}
    print(json.dumps({
        "benchmark": "eval_memory",
        "repo": str(args.repo.resolve()),
        "data": args.data,
        "subjects": args.subjects,
        "sequences": {"gallery": sequences.get("gallery"), "probes": sequences.get("probes")},
        "seeds": args.seeds,
        "batch_size": args.batch_size,
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "prepare_wall_s": prepare,
        "results": results,
        "work": str(work),
    }, indent=1))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as err:  # a mistake in the arguments: one line, before any work
        print(f"eval_memory: error: {' '.join(str(err).split())}", file=sys.stderr)
        sys.exit(2)
