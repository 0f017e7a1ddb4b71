"""Options shared by the commands that use a trained model on sequences (embed, gallery enroll,
identify): which model, on which device, and which sequences (a data directory, filtered, or camera
footage through `mimicgait.video`)."""

from __future__ import annotations

import argparse
from typing import Any


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True,
                   help="exported model file (mimicgait export), checkpoint, run directory or the name of "
                        "a shipped model (mimicgait models)")
    p.add_argument("--inference", choices=("guided", "student", "routed"),
                   help="mimic runs and checkpoints: which network (default: what the run ships)")
    p.add_argument("--device", default="auto", help="auto (default: CUDA when present), cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, default=8, help="sequences per forward pass (default 8)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_input_options(p: argparse.ArgumentParser, required: bool = True, people: str = "all") -> None:
    """--data/--video/--frames and their filters; `people` is the default of --people."""
    from mimicgait.commands._checks import people_count

    group = p.add_mutually_exclusive_group(required=required)
    group.add_argument("--data", help="data directory (npz archives, pkl tree or PNG tree)")
    group.add_argument("--video", help="a video file, or a directory of videos (made into silhouettes)")
    group.add_argument("--frames", help="a directory of colour frames of one video")
    p.add_argument("--partition", help="partition JSON for --data (default: partition.json beside it)")
    p.add_argument("--subjects", help="--data: subject ids, e.g. 063-074 or 001,005 (default: all)")
    p.add_argument("--types", help="--data: condition prefixes, e.g. nm-05,nm-06 or bg (default: all)")
    p.add_argument("--views", help="--data: views, e.g. 090 or 000,090 (default: all)")
    p.add_argument("--background", default="auto",
                   help="--video/--frames: a clip of the empty scene, or auto (estimated from the footage)")
    p.add_argument("--id", dest="video_id",
                   help="--video/--frames: subject id when the file name is not <sid>-<cond>-<nn>-<view>")
    p.add_argument("--people", type=people_count, default=people_count(people), metavar="N|all",
                   help="--video/--frames: track every person (all), at most N of them, or 1: follow the "
                   f"largest only (default {people}); each track is one sequence")


def model_and_data(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """The inputs of a command reading a model and sequences, as (option, path) pairs: what its
    outputs must never be (`mimicgait.io.check_not_an_input`). A shipped model's name stands for
    its file inside the package."""
    from mimicgait.pretrained import model_path

    return [("--model", model_path(args.model)), ("--data", args.data), ("--video", args.video),
            ("--frames", args.frames), ("--partition", args.partition)]


def _split(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def load_recognizer(args: argparse.Namespace) -> Any:
    from mimicgait.deploy import load
    from mimicgait.errors import UserError

    if args.batch_size < 1:
        raise UserError("--batch-size must be at least 1")
    return load(args.model, inference=args.inference, device=args.device)


def sequences_from_args(args: argparse.Namespace, recognizer: Any) -> Any:
    """The SequenceSet the options name, at the recogniser's frame size."""
    from mimicgait.deploy.inputs import from_data

    if args.data:
        from mimicgait.commands.eval import parse_subjects

        subjects = parse_subjects(args.subjects) if args.subjects else None
        return from_data(args.data, recognizer.frame_size, args.partition, subjects, _split(args.types),
                         _split(args.views))
    from mimicgait.deploy.inputs import from_footage

    return from_footage(args.video or args.frames, recognizer.frame_size, is_video=bool(args.video),
                        background=args.background, subject=args.video_id, people=args.people)
