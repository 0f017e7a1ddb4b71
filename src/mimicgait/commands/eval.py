"""`mimicgait eval`: score a trained checkpoint under a protocol, optionally on occluded data."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from mimicgait.commands._checks import positive_int, read_json
from mimicgait.data.partition import parse_subjects as partition_subjects
from mimicgait.errors import UserError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `eval` sub-command."""
    from mimicgait.eval.protocols import PROTOCOLS

    p = subparsers.add_parser(
        "eval",
        help="evaluate a checkpoint (teacher, baseline or mimic) under a recognition protocol",
        description="Embed the test sequences with a trained model, rank the gallery for every probe and "
        "report Rank-k (and mAP/mINP or TAR@FAR where the protocol defines them). With --occlusion, probes "
        "(and, by default, gallery sequences) are occluded per sequence, reproducibly from --seed.",
    )
    p.add_argument("--checkpoint", "--model", dest="checkpoint", required=True,
                   help="exported model file (mimicgait export), checkpoint file, stage run directory or "
                        "the name of a shipped model (mimicgait models)")
    p.add_argument("--data", required=True, help="data directory (npz archives, pkl tree or PNG tree)")
    p.add_argument("--partition", help="partition JSON (default: partition.json next to the data, if any)")
    p.add_argument("--split", default="test", choices=("test", "train", "all"),
                   help="partition split to evaluate on (default test; 'all' ignores the partition)")
    p.add_argument("--subjects", help="explicit subjects instead of a split, e.g. 063-074 or 001,005")
    p.add_argument("--protocol", required=True, choices=PROTOCOLS)
    p.add_argument("--probe-types", help="rank/verification: probe condition prefixes, e.g. nm-05,nm-06")
    p.add_argument("--gallery-types", help="rank/verification: gallery condition prefixes, e.g. nm-01,nm-02")
    p.add_argument("--list", dest="list_file",
                   help='rank/verification: JSON file {"probe": [keys], "gallery": [keys]}')
    p.add_argument("--occlusion", default="none", help="comma list of occlusion kinds, or none (default)")
    p.add_argument("--gallery-occlusion", default="same", choices=("same", "none"),
                   help="same: gallery occluded too, independently (the paper); none: holistic gallery")
    p.add_argument("--seed", type=int, default=0, help="occlusion seed (default 0)")
    p.add_argument("--metric", default="euc", choices=("euc", "cos"), help="part-wise distance (default euc)")
    p.add_argument("--inference", choices=("guided", "student", "routed"),
                   help="mimic checkpoints: VEN-guided network (paper), bare student (public code) or "
                        "routed (the VEN sends sequences it finds unoccluded to the teacher)")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when present, else CPU; the default), cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=positive_int, default=8,
                   help="sequences per forward pass (default 8)")
    p.add_argument("--max-frames", type=positive_int, help="cap on padded frames per forward pass")
    p.add_argument("--json", dest="json_out", help="write the report to this JSON file")
    p.add_argument("--plots", help="write figures (CMC, per-view, per-kind, ROC) to this directory")
    p.add_argument("--label", help="column label for `mimicgait compare` (default: the JSON file name)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def parse_subjects(text: str) -> list[str]:
    """`--subjects`: '063-074' -> ['063', ..., '074']; '001,005' -> ['001', '005']; mixes allowed."""
    subjects = partition_subjects(text, "--subjects")
    if not subjects:
        raise UserError("--subjects is empty; give ids such as 063-074 or 001,005")
    return subjects


def read_probe_set(partition: Path | None) -> list[str]:
    """Gait3D's PROBE_SET list from the partition file (sequence keys as in `protocols.key_forms`)."""
    if partition is None:
        raise UserError("this protocol (gait3d) needs --partition FILE with a PROBE_SET list")
    data = read_json(partition, "--partition")
    probe_set = data.get("PROBE_SET") if isinstance(data, dict) else None
    if not isinstance(probe_set, list) or not probe_set:
        raise UserError(f"partition {partition} has no PROBE_SET list; the gait3d protocol needs one")
    return [str(x) for x in probe_set]


def load_model(checkpoint: str, inference: str | None, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """(model with `embed(sils, lengths)`, meta) from an exported model file, a checkpoint file or a
    run directory, on `device` ('auto', 'cpu', 'cuda', 'cuda:N')."""
    from mimicgait.deploy import load

    recognizer = load(checkpoint, inference=inference, device=device)
    return recognizer.model, {**recognizer.meta, "device": str(recognizer.device)}


def load_store(args: argparse.Namespace):
    """The store of the sequences to evaluate on, chosen by --subjects or --split of the partition."""
    from mimicgait.data.partition import split_subjects
    from mimicgait.data.sources import open_dataset
    from mimicgait.data.store import SequenceStore

    source = open_dataset(args.data, partition=args.partition)
    subjects = None
    if args.subjects:
        subjects = parse_subjects(args.subjects)
    elif args.split != "all" and source.partition is not None:
        try:
            subjects = split_subjects(source.partition, args.split, source.subjects())
        except ValueError as err:
            raise UserError(f"{err}; or evaluate on held-out subjects that exist with --subjects "
                             "(e.g. 063-074) or on everything with --split all") from None
    return SequenceStore.from_dataset(source, subjects=subjects, packed=True, min_frames=1), source


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the Markdown summary, write JSON and figures as asked; returns the exit code."""
    from mimicgait.eval.evaluate import check_input_size, evaluate, parse_kinds
    from mimicgait.eval.protocols import build_protocol, protocol_options
    from mimicgait.eval.report import check_report_path, format_report, with_provenance, write_report
    from mimicgait.io import check_not_an_input, check_output_dir
    from mimicgait.pretrained import model_path

    inputs = [("--model", model_path(args.checkpoint)), ("--data", args.data), ("--list", args.list_file),
              ("--partition", args.partition)]
    if args.json_out:  # output paths are checked before the evaluation, not after it
        check_not_an_input(args.json_out, "--json", inputs)
        check_report_path(args.json_out, "--json")
    if args.plots:
        check_not_an_input(args.plots, "--plots", inputs)
        check_output_dir(args.plots, "--plots")
    parse_kinds(args.occlusion)  # an unknown kind is refused before the data and the model are read
    if args.list_file:  # a binary or broken list file is refused before the data are read
        read_json(args.list_file, "--list")
    store, source = load_store(args)
    partition_path = Path(args.partition) if args.partition else source.partition_path
    probe_set = read_probe_set(partition_path) if "probe_set" in protocol_options(args.protocol) else None
    protocol = build_protocol(args.protocol, probe_types=args.probe_types, gallery_types=args.gallery_types,
                              list_file=args.list_file, probe_set=probe_set)
    model, meta = load_model(args.checkpoint, args.inference, args.device)
    check_input_size(meta.get("input_size"), store.frame_size, args.checkpoint)
    log.info("evaluating %s on %d sequences of %d subjects (%s)", args.checkpoint, len(store),
             len(set(store.subjects.tolist())), args.protocol)
    report = evaluate(
        model.embed, store, protocol, occlusion=args.occlusion, gallery_occlusion=args.gallery_occlusion,
        seed=args.seed, metric=args.metric, batch_size=args.batch_size, max_frames=args.max_frames,
        progress=not args.no_progress,
    )
    report = with_provenance(
        report, label=args.label, checkpoint=str(args.checkpoint), data=str(args.data),
        subjects=store.subjects.tolist(), meta={"inference": args.inference, **meta},
        frame_size=store.frame_size, model_keys=("stage", "backbone", "inference", "fingerprint", "device"),
    )
    print(format_report(report))
    if args.json_out:
        log.info("report written to %s", write_report(report, args.json_out))
    if args.plots:
        from mimicgait.eval.plots import plot_all
        from mimicgait.eval.report import report_label

        written = plot_all([(report_label(report, args.json_out), report)], args.plots)
        log.info("wrote %d figure(s) to %s", len(written), args.plots)
    return 0
