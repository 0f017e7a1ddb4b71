"""`mimicgait compare`: several evaluation reports side by side, with RP against holistic reports."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `compare` sub-command."""
    p = subparsers.add_parser(
        "compare",
        help="print a Markdown table of evaluation reports (BL1, BL2, Mimic, holistic) with RP",
        description="Columns are labelled by each report's `label` field or its file name. RP = occluded "
        "score / holistic score of the same backbone, for every --holistic report whose backbone matches.",
    )
    p.add_argument("reports", nargs="+", help="report JSON files written by `mimicgait eval --json`")
    p.add_argument("--holistic", action="append", default=[],
                   help="holistic report of a backbone (repeatable)")
    p.add_argument("--plots", help="write CMC curves and the per-kind bar chart to this directory")
    p.add_argument("--out", help="also write the Markdown to this file")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing --out (never one of the reports it reads)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print (and optionally save) the comparison; returns the exit code."""
    from pathlib import Path

    from mimicgait.eval.compare import compare_markdown
    from mimicgait.eval.report import load_report, report_label
    from mimicgait.io import check_not_an_input, check_output_file, os_errors, write_atomic

    if args.out:  # checked before reading: never over a report it reads, nor another file unasked
        inputs = [("report", r) for r in args.reports] + [("--holistic", r) for r in args.holistic]
        check_not_an_input(args.out, "--out", inputs)
        check_output_file(args.out, args.force, "--out")
    reports = [(report_label(r, p), r) for p in args.reports for r in [load_report(p)]]
    holistic = [(report_label(r, p), r) for p in args.holistic for r in [load_report(p)]]
    text = compare_markdown(reports, holistic)
    print(text)
    if args.out:
        data = (text + "\n").encode()
        with os_errors(args.out, "--out"):
            write_atomic(Path(args.out), lambda f: f.write(data))
    if args.plots:
        from mimicgait.eval.plots import plot_cmc, plot_per_kind, plot_roc

        labelled = reports + [(f"{label} (holistic)", r) for label, r in holistic]
        written = plot_cmc(labelled, args.plots) + plot_per_kind(reports, args.plots)
        written += plot_roc(labelled, args.plots)
        log.info("wrote %d figure(s) to %s", len(written), args.plots)
    return 0
