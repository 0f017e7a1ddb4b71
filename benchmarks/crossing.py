"""Two people crossing, made from single-walker CASIA-B videos: multi-person extraction scored against
exact truth, and identification of the tracks.

1. Crossings (`mimicgait.video.crossing`): for each pair of videos of different subjects, the
   first walker stays as recorded (behind), the second is mirrored (so they walk towards each
   other), made opaque (mask closed by `--closing`, holes filled), brought forward (scaled
   `--scale` about the feet, `--shift` pixels lower; off with `--same-depth`) and pasted over
   the first, timed so both reach the image centre together. Written to `--out` as
   `cross-<sidA>-<sidB>.mp4` ('mp4v', 25 frames/s) and `.npz` (the true masks, bit-packed, and
   the identities; `mimicgait.video.crossing.load_truth` reads it).
   `--reuse` builds nothing: it scores the crossings already in `--out` (each pair's MP4 and npz
   must be there, made with the same pairs; their settings are not re-checked).
2. Tracking: `mimicgait.video.people.extract_people` (background 'auto'; with `--segmenter
   MODULE:FUNCTION` that person segmenter and no background, its `reset()` if the plugin's module
   has one called before each crossing, and its seconds and frames in `overall.segmenter`; the
   truth and `foreground_reference` stay background subtraction's) on each MP4. Tracks are
   matched to walkers per frame by box IoU (at least 0.5); `motmetrics` gives identity switches,
   IDF1 and MOTA over the frames where a walker is fully inside the image and at most 70 % hidden
   (elsewhere it is ignored); mask IoU of each walker is binned by how hidden it is (0, up to 0.3,
   up to 0.7, beyond), and frames lost are counted frames without a matched track.
   Targets: no identity switch; mean IoU at least 0.85 for the front walker and 0.7 for the back
   walker over the counted frames. Beside them, `foreground_reference`: the IoU the plain
   background subtraction of `extract` reaches on each walker in the frames where the two are
   apart (`crossing.foreground_reference`), what the pasting leaves findable at all.
3. Identification (`--model`, a shipped model's name or a model file; `mimicgait.load`): the
   gallery is every official sequence (`--data`, CASIA-B's train split) of the crossing subjects
   (and `--extra-subjects`; views `--gallery-views`, default all) except the sequences crossed;
   probes are the tracks (a track's truth is the walker it matched in most frames) and, for
   comparison, the same walkers extracted from their own videos by `mimicgait.video.extract`
   (mirrored like the pasted walker). Ranking is `identify`'s exact search
   (`deploy.search.ExactIndex`): an identity's distance is its nearest sequence's.

Prints one JSON object (also to `--json FILE`); a mistake in the arguments is one line on stderr
and exit status 2.

    .venv/bin/python benchmarks/crossing.py --out DIR [--force | --reuse] [--limit N] [--json FILE]
        [--model casiab-mimic] [--build-only | --no-identify] [--pairs 001-nm-01:002-nm-01,...]
        [--segmenter MODULE:FUNCTION]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from silhouette_iou import Timed

from mimicgait.errors import UserError
from mimicgait.io import (
    check_not_an_input,
    check_output_dir,
    check_output_file,
    make_output_dir,
    write_atomic,
)
from mimicgait.video.crossing import (
    MAX_HIDDEN,
    MIN_BOX_IOU,
    ROLES,
    Crossing,
    Truth,
    Walker,
    WalkerScore,
    bring_forward,
    compose,
    foreground_reference,
    iou_summary,
    load_truth,
    mirror,
    mot_accumulator,
    opaque,
    person_masks,
    save_truth,
    score_walkers,
    track_subjects,
    write_video,
)
from mimicgait.video.decode import FrameReader
from mimicgait.video.naming import parse_sequence_name

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
#: (behind, in front), sequences at --view; every pair is two different subjects.
PAIRS = (("001-nm-01", "002-nm-01"), ("003-nm-01", "004-nm-01"), ("002-nm-01", "006-nm-01"),
         ("004-nm-01", "001-nm-02"), ("006-nm-01", "003-nm-01"), ("001-bg-01", "004-nm-01"))
TARGETS = {"identity_switches": 0, "front_iou": 0.85, "back_iou": 0.7}
Key = tuple[str, str, str]  # (subject, condition, view), as the data layer's
MOT_METRICS = ["num_frames", "num_objects", "num_matches", "num_switches", "num_misses",
               "num_false_positives", "idf1", "mota"]


def parse_pairs(text: str | None, view: str) -> list[tuple[str, str]]:
    """`--pairs A:B,C:D` (sequences without the view, e.g. 001-nm-01) as full sequence names (default
    PAIRS)."""
    if text is None:
        pairs = list(PAIRS)
    else:
        pairs = []
        for item in text.split(","):
            parts = item.strip().split(":")
            if len(parts) != 2 or not all(parts):
                raise UserError(f"--pairs: {item!r} is not BEHIND:FRONT, e.g. 001-nm-01:002-nm-01")
            pairs.append((parts[0], parts[1]))
    named = [(f"{a}-{view}", f"{b}-{view}") for a, b in pairs]
    for a, b in named:
        if a.split("-")[0] == b.split("-")[0]:
            raise UserError(f"--pairs: {a} and {b} are the same subject; cross two different people")
    names = [crossing_name(a, b) for a, b in named]
    if len(set(names)) < len(names):
        raise UserError("--pairs: two pairs have the same two subjects in the same order (one file name)")
    return named


def crossing_name(back: str, front: str) -> str:
    """`cross-<sidA>-<sidB>` of two sequence names."""
    return f"cross-{back.split('-')[0]}-{front.split('-')[0]}"


def require_people(keep_merged: bool = False) -> Callable[..., Any]:
    """`extract_people` (with `PeopleSettings(keep_merged=...)`), or a one-line `UserError` when the
    multi-person extractor (or motmetrics, which scores it) is missing."""
    try:
        from mimicgait.video.people import PeopleSettings, extract_people
    except ImportError as err:
        raise UserError(f"mimicgait.video.people.extract_people is not available ({err}); the multi-person "
                        "extractor (issue 27) is needed to score the crossings; --build-only makes them "
                        "without it") from None
    try:
        import motmetrics  # noqa: F401
    except ImportError:
        raise UserError("scoring the crossings needs motmetrics: pip install motmetrics") from None
    return functools.partial(extract_people, settings=PeopleSettings(keep_merged=keep_merged))


def check_outputs(args: argparse.Namespace, pairs: list[tuple[str, str]]) -> list[tuple[Path, Path]]:
    """The (video, truth) paths of every crossing, refused before any work when they exist (no --force)
    or lie among the inputs, or when a source video is missing; --json is checked the same way.
    With --reuse the crossings must exist instead, and are not written."""
    out = Path(args.out)
    check_output_dir(out, "--out")
    check_not_an_input(out, "--out", [("--videos", args.videos), ("--data", args.data)])
    paths = []
    for back, front in pairs:
        if args.reuse:
            name = crossing_name(back, front)
            found = (out / f"{name}.mp4", out / f"{name}.npz")
            for path in found:
                if not path.is_file():
                    raise UserError(f"--reuse: no {path}; make the crossings first (without --reuse)")
            paths.append(found)
            continue
        for sequence in (back, front):
            if not (Path(args.videos) / f"{sequence}.avi").is_file():
                raise UserError(f"--videos {args.videos}: no {sequence}.avi")
        name = crossing_name(back, front)
        paths.append((check_output_file(out / f"{name}.mp4", args.force, "--out"),
                      check_output_file(out / f"{name}.npz", args.force, "--out")))
    if args.json:
        check_not_an_input(args.json, "--json", [("--videos", args.videos), ("--data", args.data)])
        check_output_file(args.json, args.force, "--json")
    return paths


def build(args: argparse.Namespace, back: str, front: str, walkers: dict[str, Walker],
          paths: tuple[Path, Path]) -> Crossing:
    """Make one crossing, write its video and truth, and check the video decodes to as many frames."""
    for name in (back, front):
        if name not in walkers:
            walkers[name] = person_masks(Path(args.videos) / f"{name}.avi", batch=args.batch)
    ahead = opaque(mirror(walkers[front]), args.closing)
    if not args.same_depth:
        ahead = bring_forward(ahead, args.scale, args.shift)
    crossing = compose(walkers[back], ahead, crossing_name(back, front))
    video_path, truth_path = paths
    make_output_dir(video_path.parent)
    partial = video_path.with_name(f".{video_path.stem}.partial.mp4")  # the suffix picks the container
    try:
        write_video(partial, crossing.frames)
        os.replace(partial, video_path)
    finally:
        partial.unlink(missing_ok=True)
    write_atomic(truth_path, lambda f: save_truth(f, crossing.truth))
    reader = FrameReader(video_path)
    decoded = sum(len(b) for b in reader.batches(args.batch))
    if decoded != len(crossing.frames):
        raise UserError(f"{video_path}: wrote {len(crossing.frames)} frames, {decoded} decode; the 'mp4v' "
                        "encoder of this OpenCV drops frames")
    return crossing


def reuse(back: str, front: str, paths: tuple[Path, Path]) -> Truth:
    """The truth of a crossing already in --out, checked to be of the pair asked for."""
    truth = load_truth(paths[1])
    if tuple(truth.sequences) != (back, front):
        raise UserError(f"--reuse: {paths[1]} crosses {' and '.join(truth.sequences)}, not {back} and "
                        f"{front}")
    return truth


def truth_offset(truth: Truth) -> int | None:
    """The front walker's video frame j is shown with the back walker's frame j + offset (None when
    the two are never in view together)."""
    both = (truth.sources >= 0).all(axis=0)  # [N]
    if not both.any():
        return None
    return int(truth.sources[0, both][0] - truth.sources[1, both][0])


def describe(truth: Truth, frames: int, offset: int | None, paths: tuple[Path, Path]) -> dict[str, Any]:
    """What a crossing is: its sources, length (`frames`), timing and how hidden the walker behind gets."""
    hidden = truth.hidden(0)  # [N], NaN where the back walker is not in view
    seen = hidden[~np.isnan(hidden)]
    return {
        "name": truth.name, "video": str(paths[0]), "truth": str(paths[1]), "frames": frames,
        "offset": offset,
        **{role: {"sequence": truth.sequences[r], "subject": truth.subjects[r],
                  "frames_in_view": int(truth.full(r).any(axis=(1, 2)).sum())}
           for r, role in enumerate(ROLES)},
        "back_hidden": {"max": round(float(seen.max()), 4) if seen.size else None,
                        "frames_over_0": int((seen > 0).sum()),
                        f"frames_over_{MAX_HIDDEN}": int((seen > MAX_HIDDEN).sum())},
    }


def track(extract_people: Callable[..., Any], video: Path, truth: Truth, batch: int,
          segmenter: Timed | None = None) -> tuple[Any, list[WalkerScore], Any]:
    """Run the multi-person extractor on a crossing (background 'auto', or `segmenter`) and score it:
    (result or None, per-walker scores, motmetrics accumulator). Nobody found is a result with no
    tracks, not an error."""
    from mimicgait.video.extract import NoPersonError

    try:
        if segmenter is None:
            result = extract_people(video, "auto", batch=batch)
        else:
            if callable(segmenter.reset):
                segmenter.reset()
            result = extract_people(video, None, segmenter=segmenter, batch=batch)
    except NoPersonError:
        result = None
    frames = len(truth.front)
    if result is not None and result.total != frames:
        raise UserError(f"{video}: the extractor decoded {result.total} frames, the truth has {frames}")
    ids = [t.track for t in result.tracks] if result is not None else []
    masks = {k: np.asarray(result.masks[k], bool) for k in ids} if result is not None else {}  # [N, H, W]
    boxes = {k: np.asarray(result.boxes[k], np.float32) for k in ids} if result is not None else {}  # [N, 4]
    scores = score_walkers(truth, ids, masks, boxes)
    return result, scores, mot_accumulator(truth, scores, boxes)


def mot_figures(row: Any) -> dict[str, Any]:
    """A motmetrics summary row as JSON numbers."""
    out: dict[str, Any] = {}
    for key in MOT_METRICS:
        value = float(row[key])
        out[key] = int(value) if key.startswith("num_") else (round(value, 4) if np.isfinite(value) else None)
    return out


def score_all(extract_people: Callable[..., Any], truths: list[Truth], rows: list[dict[str, Any]],
              paths: list[tuple[Path, Path]], batch: int, segmenter: Timed | None = None
              ) -> tuple[dict[str, Any], list[Any]]:
    """Step 2 for every crossing: fills each row, returns the overall figures and the results."""
    import motmetrics as mm

    results, accumulators, by_role = [], [], [[] for _ in ROLES]
    reference: list[list[np.ndarray]] = [[] for _ in ROLES]  # per walker, [N] IoU of plain foreground
    for truth, row, (video, _) in zip(truths, rows, paths, strict=True):
        result, scores, accumulator = track(extract_people, video, truth, batch, segmenter)
        plain = foreground_reference(video, truth, batch=batch)
        results.append(result)
        accumulators.append(accumulator)
        owners = track_subjects(scores, truth.subjects)
        row["tracks"] = len(result.tracks) if result is not None else 0
        row["track_subjects"] = {str(k): v for k, v in sorted(owners.items())}
        row["walkers"] = {role: {"subject": truth.subjects[r], **iou_summary([scores[r]])}
                          for r, role in enumerate(ROLES)}
        row["foreground_reference"] = reference_summary([plain[r] for r in range(len(ROLES))])
        for r in range(len(ROLES)):
            by_role[r].append(scores[r])
            reference[r].append(plain[r])
        print(f"{truth.name}: {row['tracks']} tracks", file=sys.stderr)
    summary = mm.metrics.create().compute_many(accumulators, metrics=MOT_METRICS,
                                               names=[t.name for t in truths], generate_overall=True)
    for truth, row in zip(truths, rows, strict=True):
        row["mot"] = mot_figures(summary.loc[truth.name])
    overall = {"crossings": len(truths), "tracks": sum(r["tracks"] for r in rows),
               "mot": mot_figures(summary.loc["OVERALL"]),
               "walkers": {role: iou_summary(by_role[r]) for r, role in enumerate(ROLES)},
               "foreground_reference": reference_summary([np.concatenate(x) for x in reference])}
    if segmenter is not None:
        overall["segmenter"] = segmenter.figures()
    return overall, results


def reference_summary(per_walker: list[np.ndarray]) -> dict[str, Any]:
    """Mean IoU (and frames measured) of the plain foreground per walker, from `[N]` arrays (NaN:
    not measured)."""
    out = {}
    for role, iou in zip(ROLES, per_walker, strict=True):
        measured = iou[~np.isnan(iou)]
        out[role] = {"frames": int(measured.size),
                     "mean_iou": round(float(measured.mean()), 4) if measured.size else None}
    return out


def target_checks(overall: dict[str, Any]) -> dict[str, Any]:
    """Whether the figures meet the targets: no identity switch, front and back mean IoU over the
    counted frames (at most MAX_HIDDEN hidden)."""
    switches = overall["mot"]["num_switches"]
    front = overall["walkers"]["front"]["mean_iou_counted"]
    back = overall["walkers"]["back"]["mean_iou_counted"]
    checks = {
        "identity_switches": {"target": f"== {TARGETS['identity_switches']}", "value": switches,
                              "met": switches == TARGETS["identity_switches"]},
        "front_iou": {"target": f">= {TARGETS['front_iou']}", "value": front,
                      "met": front is not None and front >= TARGETS["front_iou"]},
        "back_iou": {"target": f">= {TARGETS['back_iou']} (at most {MAX_HIDDEN} hidden)", "value": back,
                     "met": back is not None and back >= TARGETS["back_iou"]},
    }
    for role in ROLES:  # what plain background subtraction reaches on the walker, apart from the other
        checks[f"{role}_iou"]["foreground_reference"] = overall["foreground_reference"][role]["mean_iou"]
    checks["all_met"] = all(c["met"] for c in checks.values())
    return checks


def targets_line(checks: dict[str, Any]) -> str:
    """The target checks in one line for the log, e.g. `identity_switches 0 == 0 met; ...`."""
    parts = [f"{name} {c['value']} {c['target']} {'met' if c['met'] else 'NOT met'}"
             for name, c in checks.items() if name != "all_met"]
    return "targets: " + "; ".join(parts)


def load_model(args: argparse.Namespace) -> tuple[Any, Any]:
    """The recogniser and the gallery's data source, opened before any long work (a wrong --model
    or --data fails at once)."""
    import torch

    import mimicgait
    from mimicgait.data.sources import open_dataset

    torch.set_num_threads(min(2, torch.get_num_threads()))
    return mimicgait.load(args.model, device=args.device), open_dataset(args.data)


def gallery_keys(args: argparse.Namespace, source: Any, truths: list[Truth]) -> tuple[list[Key], set[Key]]:
    """The gallery's sequences: every sequence of the crossing subjects (and --extra-subjects) at
    --gallery-views, less the sequences crossed; and the set left out."""
    crossed = {parse_sequence_name(name).key for t in truths for name in t.sequences}  # type: ignore[union-attr]
    subjects = {s for t in truths for s in t.subjects}
    if args.extra_subjects:
        first, last = (int(x) for x in args.extra_subjects.split("-"))
        subjects |= {f"{i:03d}" for i in range(first, last + 1)}
    views = set(args.gallery_views.split(",")) if args.gallery_views else None
    keys = [k for k in source.list_keys(sorted(subjects))
            if k not in crossed and (views is None or k[2] in views)]
    if not keys:
        raise UserError(f"--data {args.data}: no gallery sequence of subjects {', '.join(sorted(subjects))}")
    return keys, crossed


def identify(args: argparse.Namespace, recognizer: Any, source: Any, truths: list[Truth],
             rows: list[dict[str, Any]], results: list[Any]) -> dict[str, Any]:
    """Step 3: Rank-1 of the tracks against Rank-1 of the same walkers from their own videos."""
    from mimicgait.deploy.search import ExactIndex
    from mimicgait.video import extract

    keys, crossed = gallery_keys(args, source, truths)
    gallery = recognizer.embed([source.read(k).frames for k in keys], names=["/".join(k) for k in keys])
    names = sorted({k[0] for k in keys})
    index = ExactIndex(gallery, np.array([names.index(k[0]) for k in keys]), recognizer.metric)

    probes: list[tuple[str, np.ndarray]] = []  # (what, [T, 64, 64] {0, 1})
    labels: list[tuple[str, str]] = []  # (kind, truth subject)
    singles: dict[str, np.ndarray] = {}  # sequence -> [T, 64, 64] {0, 1} from its own video
    unmatched = 0  # tracks matched to no walker: no truth, not ranked
    for truth, row, result in zip(truths, rows, results, strict=True):
        owners = track_subjects_of(row)
        for t in result.tracks if result is not None else []:
            if t.track in owners:
                probes.append((f"{truth.name} track {t.track}", t.frames))
                labels.append(("track", owners[t.track]))
            else:
                unmatched += 1
        pasted = front_alone(Path(args.out) / f"{truth.name}.mp4", truth, args.batch)
        if pasted is not None:
            probes.append((f"{truth.name} front as pasted, alone", pasted))
            labels.append(("pasted", truth.subjects[1]))
        for r, role in enumerate(ROLES):
            name = truth.sequences[r]
            if name not in singles:
                singles[name] = extract(Path(args.videos) / f"{name}.avi", "auto", batch=args.batch).frames
            frames = singles[name][:, :, ::-1] if role == "front" else singles[name]  # mirrored as pasted
            probes.append((f"{truth.name} {role} alone", np.ascontiguousarray(frames)))
            labels.append(("single", truth.subjects[r]))
    embedded = recognizer.embed([p[1] for p in probes], names=[p[0] for p in probes])
    matches = index.search(embedded, k=min(5, len(names)))
    details = []
    for i, ((what, frames), (kind, subject)) in enumerate(zip(probes, labels, strict=True)):
        top = [names[j] for j in matches.identity[i] if j >= 0]
        details.append({"probe": what, "kind": kind, "subject": subject, "frames": len(frames),
                        "top": top, "rank1_correct": bool(top and top[0] == subject)})

    def rank1(kind: str) -> dict[str, Any]:
        hits = [d["rank1_correct"] for d in details if d["kind"] == kind]
        return {"probes": len(hits), "rank1": round(100.0 * sum(hits) / len(hits), 2) if hits else None}

    return {"model": str(args.model), "fingerprint": recognizer.fingerprint, "metric": recognizer.metric,
            "gallery": {"subjects": names, "sequences": len(keys),
                        "views": args.gallery_views.split(",") if args.gallery_views else "all",
                        "left_out": sorted("-".join(k) for k in crossed)},
            "tracks": {**rank1("track"), "unmatched_tracks": unmatched},
            "single_videos": rank1("single"), "front_pasted_alone": rank1("pasted"), "probes": details}


def front_alone(video: Path, truth: Truth, batch: int) -> np.ndarray | None:
    """The walker in front exactly as pasted (mirrored, brought forward, its mask closed), over the
    crossing's empty scene without the walker behind, through the same extractor: `[T, 64, 64]`
    {0, 1}, or None when nobody is found. Against the tracks, it isolates what the crossing itself
    costs; against the walker's own video, what the pasting costs."""
    from mimicgait.video.background import median_background
    from mimicgait.video.people import PeopleStream

    reader = FrameReader(video)
    scene = median_background(reader, batch=batch)  # [H, W, 3]
    stream = PeopleStream(reader.height, reader.width, scene, None)
    start = 0
    for frames in reader.batches(batch):  # [B, H, W, 3]
        front = truth.front[start : start + len(frames), :, :, None]  # [B, H, W, 1]
        stream.push(np.where(front, frames, scene))
        start += len(frames)
    tracks = stream.tracker.finished()
    kept = [[r.silhouette for r in t.records if r.silhouette is not None] for t in tracks]
    best = max(kept, key=len, default=[])
    if not best:
        return None
    return (np.stack(best) >= 128).astype(np.uint8)  # binarised as the data layer does


def track_subjects_of(row: dict[str, Any]) -> dict[int, str]:
    """The track -> subject map a scored row holds (JSON keys are strings)."""
    return {int(k): v for k, v in row.get("track_subjects", {}).items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    videos_default = os.environ.get("MIMICGAIT_CASIA_B_VIDEOS", SHARED / "casia-b-videos")
    data_default = Path(os.environ.get("MIMICGAIT_CASIA_B", SHARED / "casia-b")) / "train"
    parser.add_argument("--videos", default=videos_default, help="the raw single-walker videos")
    parser.add_argument("--data", default=data_default, help="official silhouettes (the gallery)")
    parser.add_argument("--out", required=True, help="folder for the crossings (MP4 + truth npz)")
    parser.add_argument("--force", action="store_true", help="overwrite existing crossings and --json")
    parser.add_argument("--reuse", action="store_true",
                        help="score the crossings already in --out (MP4 + npz) instead of making them")
    parser.add_argument("--segmenter", metavar="MODULE:FUNCTION",
                        help="track with this person segmenter (no background) instead of background 'auto'")
    parser.add_argument("--pairs", help="BEHIND:FRONT,... sequences without the view (default: 6 built in)")
    parser.add_argument("--view", default="090")
    parser.add_argument("--limit", type=int, help="only the first N pairs (smoke runs)")
    parser.add_argument("--same-depth", action="store_true",
                        help="paste the front walker as recorded (no scale, no shift)")
    parser.add_argument("--scale", type=float, default=1.08, help="front walker's scale about the feet")
    parser.add_argument("--shift", type=float, default=6.0, help="front walker moved down, pixels")
    parser.add_argument("--closing", type=int, default=5,
                        help="kernel (pixels) closing the front walker's mask before pasting (0: holes only)")
    parser.add_argument("--build-only", action="store_true", help="make the crossings, score nothing")
    parser.add_argument("--no-identify", action="store_true", help="skip the identification step")
    parser.add_argument("--keep-merged", action="store_true",
                        help="keep the frames split from a blob two walkers share in their tracks' sequences "
                             "(the tracker's default drops them as 'merged')")
    parser.add_argument("--model", default="casiab-mimic", help="shipped model name or model file")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--gallery-views", help="comma-separated views of the gallery (default: all)")
    parser.add_argument("--extra-subjects", metavar="FIRST-LAST",
                        help="more gallery identities besides the crossing subjects, e.g. 005-074")
    parser.add_argument("--batch", type=int, default=64, help="frames decoded at a time")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    if args.batch < 1:
        raise UserError(f"--batch {args.batch}: give at least 1 frame")
    if args.limit is not None and args.limit < 1:
        raise UserError("--limit must be at least 1")
    if args.extra_subjects and not re.fullmatch(r"\d+-\d+", args.extra_subjects):
        raise UserError(f"--extra-subjects {args.extra_subjects}: give FIRST-LAST, e.g. 005-074")
    if args.closing < 0:
        raise UserError(f"--closing {args.closing}: give a kernel size of 0 or more pixels")
    if not 0.5 <= args.scale <= 2.0:
        raise UserError(f"--scale {args.scale}: give a factor between 0.5 and 2")
    if args.reuse and args.build_only:
        raise UserError("--reuse scores the crossings in --out; --build-only makes them: give one")
    if args.segmenter and args.build_only:
        raise UserError("--segmenter is for the tracking step; --build-only skips it")
    pairs = parse_pairs(args.pairs, args.view)[: args.limit]
    extract_people = None if args.build_only else require_people(args.keep_merged)
    segmenter = None
    if args.segmenter and extract_people is not None:
        from mimicgait.video.segmenter import load_segmenter

        segmenter = Timed(load_segmenter(args.segmenter))
    paths = check_outputs(args, pairs)
    identifying = extract_people is not None and not args.no_identify
    recognizer, source = load_model(args) if identifying else (None, None)

    truths: list[Truth] = []  # the frames are in the MP4s; only the truth stays in memory
    rows: list[dict[str, Any]] = []
    walkers: dict[str, Walker] = {}
    for (back, front), where in zip(pairs, paths, strict=True):
        if args.reuse:
            truth = reuse(back, front, where)
            truths.append(truth)
            rows.append(describe(truth, len(truth.front), truth_offset(truth), where))
            continue
        crossing = build(args, back, front, walkers, where)
        truths.append(crossing.truth)
        rows.append(describe(crossing.truth, len(crossing.frames), crossing.offset, where))
        print(f"{crossing.truth.name}: {len(crossing.frames)} frames written", file=sys.stderr)
    walkers.clear()
    report: dict[str, Any] = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "settings": {"view": args.view, "front_mirrored": True,
                     "front_scale": 1.0 if args.same_depth else args.scale,
                     "front_shift_px": 0.0 if args.same_depth else args.shift,
                     "front_closing_px": args.closing,
                     "max_hidden": MAX_HIDDEN, "min_box_iou": MIN_BOX_IOU, "targets": TARGETS,
                     "segmenter": args.segmenter, "reused": args.reuse, "keep_merged": args.keep_merged},
        "crossings": rows,
    }
    if extract_people is not None:
        overall, results = score_all(extract_people, truths, rows, paths, args.batch, segmenter)
        report["overall"] = overall
        report["targets"] = target_checks(overall)
        print(targets_line(report["targets"]), file=sys.stderr)
        if identifying:
            report["identification"] = identify(args, recognizer, source, truths, rows, results)
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        write_atomic(Path(args.json), lambda f: f.write((text + "\n").encode()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as err:  # a mistake in the arguments or the input: one line, as the CLI says it
        print(f"crossing: error: {' '.join(str(err).split())}", file=sys.stderr)
        sys.exit(2)
