"""`mimicgait synth`: write a synthetic CASIA-B-like gait dataset (packed npz archives + partition)."""

from __future__ import annotations

import argparse
import logging
import time

from mimicgait.commands._checks import frame_side, int_range, nonneg_int, positive_int

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `synth` sub-command."""
    parser = subparsers.add_parser(
        "synth",
        help="generate a synthetic walking-silhouette dataset in the CASIA-B layout",
        description="Render synthetic walkers (11 views 000..180, nm-01..06, bg-01..02, cl-01..02) and "
        "write DIR/<sid>.npz archives plus DIR/partition.json, readable like real data.",
    )
    parser.add_argument("--out", required=True, help="output directory (new or empty; created if missing)")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty --out, replacing files of the same names")
    parser.add_argument("--subjects", type=positive_int, required=True, help="number of subjects")
    parser.add_argument("--seed", type=nonneg_int, default=0,
                        help="random seed; the same seed gives the same data")
    parser.add_argument("--frames", type=int_range(3, 1000), default=60,
                        help="frames per sequence before missing frames (3 to 1000)")
    parser.add_argument("--size", type=frame_side, default=64, help="frame height and width (multiple of 8)")
    parser.add_argument("--train-fraction", type=float, default=0.6, help="share of subjects in TRAIN_SET")
    parser.add_argument("--workers", type=positive_int, default=1, help="worker processes")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate the dataset described by the parsed arguments; returns the exit code."""
    from mimicgait.data.synthetic import generate_dataset
    from mimicgait.io import check_output_dir

    # Refused before any rendering: a file, an unwritable place, or a directory that already holds
    # files (real data would be replaced by synthetic archives of the same names).
    check_output_dir(args.out, "--out", empty=True, force=args.force)
    start = time.perf_counter()
    out = generate_dataset(
        args.out,
        subjects=args.subjects,
        seed=args.seed,
        frames=args.frames,
        size=args.size,
        train_fraction=args.train_fraction,
        progress=not args.no_progress,
        workers=args.workers,
    )
    log.info("wrote %d subjects to %s in %.1f s", args.subjects, out, time.perf_counter() - start)
    return 0
