"""`mimicgait demo`: the whole method on synthetic walkers, in a few minutes on a CPU.

Generates a synthetic CASIA-B-like dataset (or takes `--data`), draws its occlusions
(OUT/occlusions.png) and runs the pipeline with the built-in `demo` config into OUT: teacher, VEN,
Baseline-2 and mimic, then the reports, plots and comparison table with RP.

The time budget (`--minutes`, covering everything) is shared by a simple rule: what is left after
the data is generated, less a 5 % safety margin, goes 85 % to training and 15 % to evaluation. Each
stage, just before it trains, gets its weight's share of the training time still left (teacher
0.2, VEN 0.12, Baseline-2 0.2, mimic 0.48; unused time carries over to later stages), measures a
few training steps of its own and sets `train.iterations` to share / step time (lr drop kept at
80 %); except Baseline-2, which trains for exactly as many steps as the teacher, as in the paper.
Step times on a shared CPU drift, so each stage also gets `train.time_limit_s` = 1.2 x its share:
a stage whose steps turn out slower than measured stops early (after its lr drop unless they are
over 50 % slower) instead of overrunning the budget.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimicgait.commands._options import add_overrides
from mimicgait.errors import UserError

if TYPE_CHECKING:
    from mimicgait.engine.data import TrainingDataCache

log = logging.getLogger(__name__)

TRAIN_SHARE = 0.85
WEIGHTS = {"teacher": 0.2, "ven": 0.12, "baseline": 0.2, "occ-aware": 0.2, "mimic": 0.48}
#: Stages trained for as many steps as the teacher (the baselines the mimic network is compared with).
SAME_AS_TEACHER = ("baseline", "occ-aware")
MAX_ITERATIONS = 20000
TIMED_STEPS = 3
SAFETY_MARGIN = 0.05
#: A stage may run this much longer than its share before it is stopped early.
OVERRUN = 1.2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` sub-command."""
    p = subparsers.add_parser(
        "demo",
        help="synthetic data -> teacher, VEN, Baseline-2, mimic -> comparison table (minutes on a CPU)",
        description="Generate synthetic walkers (or use --data), train every MimicGait stage sized to the "
        "time budget, evaluate under top/bottom occlusion and print the comparison table with RP. Writes "
        "OUT/data, OUT/<stage>/, OUT/reports/*.json, OUT/plots/, OUT/summary.md and OUT/occlusions.png.",
    )
    p.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    p.add_argument("--minutes", type=float, default=10.0,
                   help="wall-clock budget for everything, in minutes (default 10)")
    p.add_argument("--data", help="use this dataset instead of generating one into OUT/data")
    p.add_argument("--subjects", type=int, default=30,
                   help="synthetic subjects to generate, 60 %% for training (default 30)")
    p.add_argument("--frames", type=int, default=30, help="frames per synthetic sequence (default 30)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the data, training and occlusions (default 0)")
    p.add_argument("--config", default="demo", help="config file or built-in name (default: demo)")
    add_overrides(p, " for every stage")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = run_demo(
        args.out, minutes=args.minutes, data=args.data, subjects=args.subjects, frames=args.frames,
        seed=args.seed, config=args.config, overrides=args.overrides, progress=not args.no_progress,
    )
    print(result["summary"])
    return 0


# -- data ------------------------------------------------------------------------------------------
def prepare_data(
    out: Path, subjects: int, frames: int, seed: int, views: Sequence[int] | None, progress: bool
) -> Path:
    """Generate the synthetic dataset into OUT/data, or reuse it when generated with the same settings."""
    from mimicgait.data.synthetic import VIEWS, generate_dataset

    if subjects < 2:
        raise UserError(f"--subjects {subjects}: the demo needs at least 2 subjects (60 % train, 40 % test)")
    settings = {"subjects": subjects, "frames": frames, "seed": seed, "size": 32,
                "views": [int(v) for v in (views if views is not None else VIEWS)]}
    data = out / "data"
    marker = data / "demo.json"
    if marker.is_file():
        if json.loads(marker.read_text()) == settings:
            log.info("reusing the synthetic data in %s", data)
            return data
        raise UserError(
            f"{data} was generated with other settings ({marker.read_text().strip()}); the models in {out} "
            "were trained on it: choose another --out or delete it"
        )
    generate_dataset(data, subjects=subjects, seed=seed, frames=frames, size=32, views=settings["views"],
                     progress=progress)
    marker.write_text(json.dumps(settings) + "\n")
    return data


def draw_occlusions(data: Path, path: Path, seed: int) -> Path:
    """OUT/occlusions.png: a few sequences under every occlusion kind (`mimicgait occlusion show`)."""
    from mimicgait.commands.occlusion import SHOWN_KINDS, show_occlusions

    return show_occlusions(data, path, sequences=2, frames=6, seed=seed, kinds=SHOWN_KINDS, scale=2,
                           force=True)


# -- sizing the stages to the budget ---------------------------------------------------------------
def seconds_per_step(
    stage: str, config: dict[str, Any], data_dir: str | Path, steps: int = TIMED_STEPS,
    cache: TrainingDataCache | None = None,
) -> float:
    """Seconds one training step of `stage` takes, timed over `steps` steps after a warm-up step
    (`cache`: the data directory opened once for every job sized)."""

    from mimicgait.deploy.recognizer import resolve_device
    from mimicgait.engine.data import training_batches
    from mimicgait.engine.from_config import build_stage, trainer_settings, training_data
    from mimicgait.engine.trainer import Trainer

    device = resolve_device(str(config["train"]["device"]))
    data = training_data(config, data_dir, cache)
    settings = trainer_settings(config)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(build_stage(stage, config, data, device), settings, tmp)
        batches = training_batches(data.train, settings.batches, settings.seed)
        trainer.module.train()
        trainer.step(trainer.module, trainer.to_device(next(batches)))  # warm-up
        started = time.perf_counter()
        for _ in range(steps):
            trainer.step(trainer.module, trainer.to_device(next(batches)))
        return (time.perf_counter() - started) / steps


class BudgetSizer:
    """The pipeline's `before_job` hook: sets each job's iterations from the time left and its step time."""

    def __init__(self, data_dir: Path, deadline: float, jobs: Sequence[tuple[str, str]],
                 min_iterations: int = 20, train_subjects: int | None = None,
                 data: TrainingDataCache | None = None) -> None:
        """`data`: `data_dir` opened once, shared with the pipeline that trains the jobs (else opened
        here on the first job timed)."""
        from mimicgait.engine.data import TrainingDataCache

        self.data_dir, self.deadline, self.min_iterations = data_dir, deadline, min_iterations
        self.data = data if data is not None else TrainingDataCache(data_dir)
        self.pending = list(jobs)
        self.train_subjects = train_subjects
        self.sized: dict[str, dict[str, float]] = {}

    def __call__(self, job, config: dict[str, Any]) -> dict[str, Any]:
        from mimicgait.engine.config import merge

        if self.train_subjects is not None and config["data"]["ids_per_batch"] > self.train_subjects:
            log.info("only %d training subjects: ids_per_batch %d -> %d", self.train_subjects,
                     config["data"]["ids_per_batch"], self.train_subjects)
            config = merge(config, {"data": {"ids_per_batch": self.train_subjects}})
        weights = {name: WEIGHTS.get(stage, 0.25) for name, stage in self.pending}
        share = max(0.0, self.deadline - time.perf_counter()) * weights[job.name] / sum(weights.values())
        self.pending = [(n, s) for n, s in self.pending if n != job.name]
        step = seconds_per_step(job.stage, config, self.data_dir, cache=self.data)
        iterations = int(min(MAX_ITERATIONS, max(self.min_iterations, share / step)))
        if job.stage in SAME_AS_TEACHER and "teacher" in self.sized:
            # The paper's Baseline-2 is the teacher's recipe on occluded data: the same number of steps
            # (not a time share, which would turn step-time noise into a handicap for one of them).
            iterations = int(self.sized["teacher"]["iterations"])
        log.info("%s: %.2f s per step, %.0f s of budget -> %d iterations", job.name, step, share, iterations)
        self.sized[job.name] = {"seconds_per_step": step, "budget_s": share, "iterations": iterations}
        drop = max(1, int(0.8 * iterations))
        return merge(config, {
            "train": {"iterations": iterations, "checkpoint_every": max(1, iterations // 4),
                      "time_limit_s": OVERRUN * max(share, self.min_iterations * step)},
            "optim": {"milestones": [drop]},
        })


def run_demo(
    out: str | Path = "runs/demo",
    minutes: float = 10.0,
    data: str | Path | None = None,
    subjects: int = 30,
    frames: int = 30,
    seed: int = 0,
    config: str | Path = "demo",
    overrides: Sequence[str] = (),
    progress: bool = True,
    views: Sequence[int] | None = None,
    min_iterations: int = 20,
) -> dict[str, Any]:
    """Run the demo into `out`; returns the pipeline's result plus {'sizing': per-job step times and
    iterations, 'seconds': wall time}. `views` and `min_iterations` exist for quick tests."""
    from mimicgait.data.sources import open_dataset
    from mimicgait.dirlock import directory_lock
    from mimicgait.engine.config import apply_overrides, load_config
    from mimicgait.engine.data import TrainingDataCache
    from mimicgait.io import write_atomic
    from mimicgait.pipeline import check_pipeline_dir, plan, run_pipeline

    if minutes <= 0:
        raise UserError(f"--minutes {minutes}: give a positive time budget")
    started = time.perf_counter()
    out = Path(out)
    own = ("data", "occlusions.png", "demo_sizing.json")
    jobs = [j.name for j in plan(apply_overrides(load_config(config), overrides))]
    check_pipeline_dir(out, data if data is not None else out / "data", jobs, own)
    with directory_lock(out, "--out"):  # one demo per directory, from its data to its summary
        data_dir = Path(data) if data is not None else prepare_data(out, subjects, frames, seed, views,
                                                                    progress)
        draw_occlusions(data_dir, out / "occlusions.png", seed)
        cfg = load_config(config)
        cfg["seed"] = seed
        cfg["pipeline"]["eval"]["seed"] = seed
        resolved = apply_overrides(cfg, overrides)
        partition = resolved["data"]["partition"]
        source = open_dataset(data_dir, partition=partition)
        data = TrainingDataCache(data_dir, {partition: source})  # opened once: step timing, training
        train_subjects = len(source.partition["TRAIN_SET"]) if source.partition else None
        left = (1.0 - SAFETY_MARGIN) * minutes * 60.0 - (time.perf_counter() - started)
        deadline = time.perf_counter() + TRAIN_SHARE * max(0.0, left)
        sizer = BudgetSizer(data_dir, deadline, [(j.name, j.stage) for j in plan(resolved)], min_iterations,
                            train_subjects, data)
        result = run_pipeline(cfg, data_dir, out, overrides, progress=progress, before_job=sizer,
                              own_entries=own, data=data)
        result["sizing"] = sizer.sized
        result["seconds"] = time.perf_counter() - started
        sizing = json.dumps({"minutes": minutes, "seconds": result["seconds"], "jobs": sizer.sized}, indent=1)
        write_atomic(out / "demo_sizing.json", lambda f: f.write((sizing + "\n").encode()))
        log.info("demo finished in %.0f s (budget %.0f s)", result["seconds"], minutes * 60)
        return result
