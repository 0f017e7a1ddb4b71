"""`mimicgait data info|convert`: look at a data directory, or rewrite it in another layout."""

from __future__ import annotations

import argparse
import json
import time

from mimicgait.commands._checks import nonneg_int
from mimicgait.data.convert import OUTPUT_FORMATS, convert
from mimicgait.data.inspect import describe, format_report
from mimicgait.data.partition import split_subjects
from mimicgait.data.sources import open_dataset
from mimicgait.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `data` with its `info` and `convert` actions."""
    parser = subparsers.add_parser("data", help="inspect or convert silhouette datasets")
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: _usage(parser))

    info = actions.add_parser("info", help="counts, frame statistics and problems of a data directory")
    _common(info)
    info.add_argument("--short", type=nonneg_int, default=10, metavar="N",
                      help="name sequences with fewer than N frames as problems (default 10)")
    info.add_argument("--json", action="store_true", help="print the report as JSON")
    info.set_defaults(func=run_info)

    conv = actions.add_parser("convert", help="write a data directory as OpenGait pkl tree or npz archives")
    _common(conv)
    conv.add_argument("--out", required=True, metavar="DST", help="output directory (new or empty)")
    conv.add_argument("--format", required=True, choices=OUTPUT_FORMATS, help="output layout")
    conv.add_argument("--split", choices=("TRAIN_SET", "TEST_SET"),
                      help="convert only the subjects of this partition split")
    conv.add_argument("--force", action="store_true", help="write into a non-empty --out, replacing files")
    conv.add_argument("--skip-bad", action="store_true",
                      help="log and skip unreadable files instead of stopping at the first one")
    conv.set_defaults(func=run_convert)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="<sid>.npz archives or <sid>/<type>/<view>/ folders of .pkl/.png")
    parser.add_argument("--partition", metavar="FILE",
                        help="partition JSON (default: partition.json in DIR or its parent)")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_info(args: argparse.Namespace) -> int:
    """Print the dataset report; unreadable files are listed as problems, not fatal."""
    start = time.perf_counter()
    report = describe(open_dataset(args.data, partition=args.partition, errors="skip"), short=args.short)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(format_report(report))
        print(f"(read in {time.perf_counter() - start:.1f} s)")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    """Convert a data directory; the source is never modified."""
    source = open_dataset(args.data, partition=args.partition, errors="skip" if args.skip_bad else "raise")
    subjects = None
    if args.split:
        if source.partition is None:
            raise UserError(f"--split needs a partition: none found for {args.data}; pass --partition FILE")
        subjects = split_subjects(source.partition, args.split, source.subjects())
    counts = convert(source, args.out, args.format, subjects=subjects, force=args.force)
    print(f"wrote {counts['sequences']} sequences ({counts['frames']} frames) in {counts['files']} "
          f"{args.format} file(s) to {args.out}")
    return 0
