"""`mimicgait silhouettes`: silhouette sequences from camera videos or folders of colour frames.

Each video (or a folder of them, or one folder of frames) goes through `mimicgait.video.extract`
(background subtraction or a user's segmenter, person tracking, the data layer's pretreatment)
and lands in `--out` as a dataset `mimicgait data info`, `train` and `eval` read. Identities come
from `<sid>-<cond>-<nn>-<view>` names, else `--id`. Output paths are checked before any decoding;
existing files are only replaced with `--force`, and never an input (a video, the background clip).
Each video's sequence is written as soon as it is extracted, so an interrupted run over a folder
keeps every video it finished (a rerun then needs `--force`, or a new `--out`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from mimicgait.commands._checks import foreground_threshold, people_count
from mimicgait.data.names import check_name
from mimicgait.errors import UserError
from mimicgait.io import check_not_an_input, check_output_dir, check_output_file, make_output_dir

log = logging.getLogger(__name__)

UNSET = -1  # --people not given: all, or 1 with --preview


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `silhouettes` sub-command."""
    parser = subparsers.add_parser(
        "silhouettes",
        help="extract silhouette sequences from videos or colour frames (fixed camera)",
        description="Extract silhouettes from a fixed camera's video: background subtraction (a clip of "
        "the empty scene, or 'auto' from the video itself) or your own segmenter, the person followed "
        "from frame to frame, frames with the person cut by the edge, too small or missing dropped, "
        "then cropped, scaled to height 64 and centred. Needs OpenCV: pip install mimicgait[video].",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", metavar="FILE|DIR",
                        help="a video file, or a folder of them (*-bkgrd-* background clips are skipped)")
    source.add_argument("--frames", metavar="DIR", help="a folder of colour frames (PNG/JPG, name order)")
    parser.add_argument("--out", required=True, metavar="DIR", help="dataset directory to write")
    parser.add_argument("--background", default=None, metavar="CLIP|auto",
                        help="a clip, frame folder or image of the empty scene, or 'auto' (default: auto; "
                        "none with --segmenter)")
    parser.add_argument("--format", default="npz", choices=("npz", "png", "pkl"),
                        help="output layout (default npz: <sid>.npz archives)")
    parser.add_argument("--id", metavar="SID-COND-NN-VIEW",
                        help="identity of a single input whose name is not <sid>-<cond>-<nn>-<view>")
    parser.add_argument("--segmenter", metavar="MODULE:FUNCTION",
                        help="your person segmenter: frames [T,H,W,3] uint8 RGB -> masks [T,H,W]")
    parser.add_argument("--people", type=people_count, default=UNSET, metavar="N|all",
                        help="track every person (all, the default; 1 with --preview), at most N, or 1: "
                        "follow the largest moving blob only. With several tracks, track k of video V is "
                        "sequence V-t<k>")
    parser.add_argument("--masks", metavar="DIR",
                        help="also write DIR/<video>.npz with each track's full-frame visible mask "
                        "(track_<k>: [T, H, W] bool, every decoded frame) to score against a ground truth")
    parser.add_argument("--keep-merged", action="store_true",
                        help="keep the frames in which a person shared a foreground blob with another (split "
                        "between them; dropped as 'merged' by default) in their sequence: occluded sequences")
    parser.add_argument("--annotate", metavar="OUT.mp4|.avi|.gif",
                        help="also write the video with each track's box, id and hidden share (a folder of "
                        "videos: OUT-<video>.mp4 each)")
    parser.add_argument("--preview", metavar="FILE.gif",
                        help="one person followed (--people 1): animated GIF of frame | mask | "
                        "silhouette (one per video: FILE-<name>.gif)")
    parser.add_argument("--threshold", type=foreground_threshold, default=None, metavar="N",
                        help="colour distance (grey levels) that makes a pixel foreground (default 30)")
    parser.add_argument("--no-shadow", action="store_true", help="turn shadow suppression off")
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Extract, check, write; returns the exit code."""
    from mimicgait.video import AUTO, ForegroundSettings, NoPersonError, extract, require_cv2
    from mimicgait.video.annotate import annotate_people
    from mimicgait.video.decode import input_paths
    from mimicgait.video.extract import MIN_FRAMES
    from mimicgait.video.naming import parse_id_option, parse_sequence_name
    from mimicgait.video.people import PeopleSettings, extract_people
    from mimicgait.video.segmenter import load_segmenter
    from mimicgait.video.write import (
        existing_outputs,
        existing_track_outputs,
        write_preview,
        write_sequences,
        write_track_masks,
    )

    require_cv2()
    if args.people == UNSET:  # the preview shows one followed person
        args.people = 1 if args.preview is not None else None
    inputs = input_paths(args.video, args.frames)
    if args.id is not None:
        if len(inputs) > 1:
            raise UserError(f"--id names one sequence, but --video {args.video} holds {len(inputs)} videos")
        sequences = [parse_id_option(args.id)]
    else:
        sequences = [parse_sequence_name(p) for p in inputs]
        unnamed = [p for p, s in zip(inputs, sequences, strict=True) if s is None]
        if unnamed and args.people == 1:
            raise UserError(f"{unnamed[0]}: the name is not <sid>-<cond>-<nn>-<view> (e.g. "
                            "001-nm-05-090.avi); rename it or pass --id")
        for path in unnamed:  # tracked people are named after the video: <video>-t<k>
            check_name(_stem(path), f"--video {path}: the file name")
    names = [s.name if s is not None else _stem(p) for p, s in zip(inputs, sequences, strict=True)]
    if len(set(names)) < len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise UserError(f"--video {args.video}: two inputs are both sequence {twice}; rename one")
    # everything about the output is checked before the first frame is decoded
    out = check_output_dir(args.out, "--out")
    tracking = args.people != 1
    if tracking:
        clashes = [c for p, seq in zip(inputs, sequences, strict=True)
                   for c in existing_track_outputs(out, seq, _stem(p), args.format)]
    else:
        clashes = existing_outputs(out, sequences, args.format)
        given = next((o for o, v in (("--masks", args.masks), ("--annotate", args.annotate),
                                     ("--keep-merged", args.keep_merged)) if v), None)
        if given:
            raise UserError(f"{given} needs tracking: use --people all (the default) or N > 1, not 1")
    if clashes and not args.force:
        raise UserError(f"--out {out}: {clashes[0]} already exists; choose a new --out or pass --force "
                        "to replace it")
    read = [("--video", p) for p in inputs if p.is_file()] + [("--background", args.background)]
    read = [(o, f) for o, f in read if f and Path(f).is_file()]
    masks = _per_video(args.masks, inputs, "--masks", read, args.force)
    annotations = _per_video(args.annotate, inputs, "--annotate", read, args.force)
    previews: list[Path | None] = [None] * len(inputs)
    if args.preview is not None and tracking:
        raise UserError("--preview shows one followed person: add --people 1, or use --annotate to see "
                        "every track")
    if args.preview is not None:
        preview = Path(args.preview)
        if preview.suffix.lower() != ".gif":
            raise UserError(f"--preview {preview}: give a file name ending in .gif")
        previews = [preview if len(inputs) == 1 else preview.with_name(f"{preview.stem}-{n}.gif")
                    for n in names]
        for path in previews:
            check_not_an_input(path, "--preview", read)
            check_output_file(path, force=args.force, what="--preview")
    segmenter = load_segmenter(args.segmenter) if args.segmenter else None
    background = args.background if args.background is not None else (None if segmenter else AUTO)
    if isinstance(background, str) and background.lower() == "none":
        background = None
    if background not in (None, AUTO) and not Path(background).exists():
        raise UserError(f"--background {background} does not exist; give a clip of the empty scene or 'auto'")
    threshold = args.threshold if args.threshold is not None else ForegroundSettings().threshold
    settings = ForegroundSettings(threshold=threshold, shadow=not args.no_shadow)
    tracker = PeopleSettings(keep_merged=args.keep_merged)

    # each video's sequence is written as soon as it is extracted: an interrupted run keeps them all
    written: dict[Path, None] = {}
    done = frames = sequences_written = 0
    for position, (path, sequence, preview_path) in enumerate(zip(inputs, sequences, previews, strict=True)):
        try:
            if tracking:
                people = extract_people(path, background, segmenter, sequence=sequence, foreground=settings,
                                        people=args.people, settings=tracker)
                results = people.tracks
            else:
                results = [extract(path, background, segmenter, sequence=sequence, foreground=settings,
                                   preview=preview_path is not None)]
        except NoPersonError as err:
            if len(inputs) == 1:
                raise
            log.warning("%s", err)
            continue
        for result in results:
            print(result.quality.line(result.name))
            for warning in result.quality.warnings:
                log.warning("%s: %s", result.name, warning)
        make_output_dir(out, "--out")
        written.update(dict.fromkeys(write_sequences(results, out, args.format)))
        done += 1
        frames += sum(len(r.frames) for r in results)
        sequences_written += len(results)
        if tracking and people.ignored:
            log.info("%s: %d short track(s) left out (fewer than %d kept frames)", path.name, people.ignored,
                     MIN_FRAMES)
        if preview_path is not None:
            make_output_dir(preview_path.parent, "--preview")
            write_preview(results[0], preview_path)
        if masks:
            write_track_masks(people, masks[position])
        if annotations:
            annotate_people(people, {}, annotations[position])
    if not done:
        raise UserError(f"no person found in any of the {len(inputs)} inputs; nothing written")
    skipped = len(inputs) - done
    print(f"wrote {sequences_written} sequences ({frames} frames) in {len(written)} {args.format} file(s) "
          f"to {out}" + (f"; {skipped} input(s) skipped" if skipped else ""))
    return 0


def _stem(path: Path) -> str:
    """A video's file name without its suffix, or a frame folder's name."""
    return path.stem if path.is_file() else path.name


def _per_video(option: str | None, inputs: list[Path], what: str, read: list, force: bool) -> list[Path]:
    """The file `--masks DIR` or `--annotate FILE` writes for each input, checked before any work."""
    if not option:
        return []
    if what == "--masks":
        folder = Path(option)
        if folder.exists() and not folder.is_dir():
            raise UserError(f"--masks {folder} is a file; give a directory")
        paths = [folder / f"{_stem(p)}.npz" for p in inputs]
    else:
        from mimicgait.video.annotate import check_annotation_path

        out = check_annotation_path(option)
        paths = [out] if len(inputs) == 1 else [out.with_name(f"{out.stem}-{p.stem}{out.suffix}")
                                                for p in inputs]
    for path in paths:
        check_not_an_input(path, what, read)
        check_output_file(path, force, what)
    return paths
