"""`mimicgait identify`: who is in these sequences? Ranks enrolled identities for every probe."""

from __future__ import annotations

import argparse
import json
import logging
import math

from mimicgait.commands._checks import check_calibration, distance_threshold, probability
from mimicgait.commands._inputs import add_input_options, add_model_options

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `identify` sub-command."""
    p = subparsers.add_parser(
        "identify",
        help="rank the identities of a gallery for each probe sequence (open-set with a threshold)",
        description="Embed probe sequences with the gallery's model and rank its identities by the "
        "metric `mimicgait eval` uses (an identity's distance is its closest sequence's). With "
        "--threshold T, or --far F and a verification report of the same model (--calibration), a "
        "probe whose best distance is not below the threshold is 'unknown'. Probes whose subject ids "
        "are known (data directories, named videos) also get Rank-k accuracy, computed as "
        "`mimicgait eval --protocol rank` computes it (--occlusion/--seed occlude probes the same way).",
    )
    p.add_argument("--gallery", required=True,
                   help="gallery file (mimicgait gallery enroll); only read, so read-only storage is fine")
    add_model_options(p)
    add_input_options(p)
    p.add_argument("--top-k", type=int, default=5, help="identities listed per probe (default 5)")
    limit = p.add_mutually_exclusive_group()
    limit.add_argument("--threshold", type=distance_threshold,
                       help="distance below which a match is accepted (0: none is)")
    limit.add_argument("--far", type=probability, help="false accept rate; needs --calibration")
    p.add_argument("--calibration",
                   help="JSON report of `mimicgait eval --protocol verification` (same model)")
    p.add_argument("--occlusion", default="none",
                   help="occlude probes as `mimicgait eval` does (e.g. top,bottom)")
    p.add_argument("--seed", type=int, default=0, help="occlusion seed (default 0)")
    p.add_argument("--index", choices=("exact", "faiss"), default="exact",
                   help="exact search (default) or a FAISS shortlist re-ranked exactly (large galleries)")
    p.add_argument("--annotate", metavar="OUT.mp4|.avi|.gif",
                   help="--video/--frames: also write the video with each track's box, identity, distance "
                   "and hidden share (a folder of videos: OUT-<video>.mp4 each)")
    p.add_argument("--json", dest="json_out", help="also write every probe's ranking to this JSON file")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing --json or --annotate (never one of the inputs: gallery, "
                   "model, data)")
    p.set_defaults(func=run)


def calibrated_threshold(report_file: str, far: float, fingerprint: str) -> float:
    """The distance threshold at `far` from a verification report of the model with `fingerprint`."""
    from pathlib import Path

    from mimicgait.errors import UserError

    path = Path(report_file)
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"--calibration {path}: cannot read it as a JSON report ({err})") from None
    if (report.get("meta") or {}).get("fingerprint") != fingerprint:
        raise UserError(f"--calibration {path} was measured with another model (or an older mimicgait); run "
                        "`mimicgait eval --protocol verification --json ...` with this model")
    metrics = report.get("metrics") or {}
    key = f"threshold@far={far:g}"
    if key not in metrics or metrics[key] is None or not math.isfinite(float(metrics[key])):
        have = sorted(k.split("=", 1)[1] for k in metrics if k.startswith("threshold@far="))
        raise UserError(f"--calibration {path} has no finite threshold at FAR {far:g}; it has: "
                        f"{', '.join(have) or 'none'} (more impostor pairs allow smaller FARs)")
    return float(metrics[key])


def annotation_paths(args: argparse.Namespace) -> dict[str, object]:
    """Where `--annotate` writes each input video, checked before any work: {video path: out path}."""
    from mimicgait.commands._inputs import model_and_data
    from mimicgait.errors import UserError
    from mimicgait.io import check_not_an_input, check_output_file
    from mimicgait.video.annotate import check_annotation_path
    from mimicgait.video.decode import input_paths

    if not args.annotate:
        return {}
    if not (args.video or args.frames):
        raise UserError("--annotate draws on footage: give --video or --frames")
    if args.people == 1:
        raise UserError("--annotate shows tracked people: use --people all (the default) or N > 1, not 1")
    out = check_annotation_path(args.annotate)
    inputs = input_paths(args.video, args.frames)
    paths = {str(p): out if len(inputs) == 1 else out.with_name(f"{out.stem}-{p.stem}{out.suffix}")
             for p in inputs}
    read = [("--gallery", args.gallery), ("--calibration", args.calibration), *model_and_data(args)]
    for path in paths.values():
        check_not_an_input(path, "--annotate", read)
        check_output_file(path, args.force, "--annotate")
    return paths


def _label(result: dict) -> str:
    """`t<k> <identity> <distance>` for the annotated video."""
    best = result["matches"][0]["distance"] if result["matches"] else float("nan")
    return f"t{result['track']['track']} {result['decision']} {best:.2f}"


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from mimicgait.commands._inputs import load_recognizer, model_and_data, sequences_from_args
    from mimicgait.deploy.gallery import Gallery
    from mimicgait.deploy.inputs import embed_set
    from mimicgait.deploy.search import ExactIndex, FaissIndex, flatten_for_l2
    from mimicgait.errors import UserError
    from mimicgait.eval.metrics import ProbeStats, cmc
    from mimicgait.io import check_not_an_input, check_output_file, os_errors, write_atomic

    if args.top_k < 1:
        raise UserError("--top-k must be at least 1")
    if args.far is not None and not args.calibration:
        raise UserError("--far needs --calibration REPORT.json "
                        "(mimicgait eval --protocol verification --json)")
    check_calibration(args.calibration, args.far)
    annotations = annotation_paths(args)
    if args.json_out:  # never over what it reads, even with --force
        check_not_an_input(args.json_out, "--json", [("--gallery", args.gallery),
                                                     ("--calibration", args.calibration),
                                                     *model_and_data(args)])
        check_output_file(args.json_out, args.force, "--json")
    recognizer = load_recognizer(args)
    with Gallery(args.gallery, readonly=True) as gallery:
        gallery.check_model(recognizer.meta)
        names, identity, embeddings, info = gallery.load(part_major=args.index == "exact")
    threshold = args.threshold
    if args.far is not None:
        threshold = calibrated_threshold(args.calibration, args.far, recognizer.fingerprint)
    probes = sequences_from_args(args, recognizer)
    feats, kinds = embed_set(recognizer, probes, args.batch_size, args.occlusion, args.seed,
                             progress=not args.no_progress)
    metric = recognizer.metric
    if args.index == "exact":
        matches = ExactIndex(None, identity, metric, part_major=embeddings).search(feats, args.top_k)
    else:
        flat = flatten_for_l2(embeddings, metric)
        index = FaissIndex(flat.shape[1], metric, lists=max(1, min(1024, len(flat) // 64)))
        index.train(flat)
        index.add(flat)
        matches = index.search(feats, identity, lambda rows: embeddings[rows], args.top_k)

    results, first_hit, unknown = [], np.full(len(probes), -1, np.int64), 0
    for i, key in enumerate(probes.keys):
        ranked = [{"identity": names[j], "distance": float(d), "condition": info[s]["condition"],
                   "view": info[s]["view"]}
                  for j, d, s in zip(matches.identity[i], matches.distance[i], matches.sequence[i],
                                     strict=True)
                  if j >= 0]
        best = ranked[0]["distance"] if ranked else math.inf
        decision = ranked[0]["identity"] if ranked and (threshold is None or best < threshold) else "unknown"
        unknown += decision == "unknown"
        hit = [r["identity"] == key[0] for r in ranked]
        if any(hit):
            first_hit[i] = hit.index(True)  # the rank of the probe's identity among the listed ones
        results.append({"probe": probes.sources[i], "subject": key[0], "condition": key[1], "view": key[2],
                        "occlusion": kinds[i], "decision": decision, "matches": ranked})
        shown = ", ".join(f"{r['identity']} {r['distance']:.3f}" for r in ranked)
        line = f"{probes.sources[i]}\t{decision}\t{shown}"
        if probes.tracks:
            track = probes.tracks[i]
            results[-1]["track"] = track
            line += f"\t{track['frames']} frames, hidden {100 * track['hidden']:.0f}%"
        print(line)
    n = len(results)
    summary = {
        "probes": n, "gallery_identities": len(names), "gallery_sequences": int(len(identity)),
        "threshold": threshold, "unknown": unknown, "occlusion": args.occlusion, "seed": args.seed,
        "index": args.index, "metric": metric, "fingerprint": recognizer.fingerprint,
        **{f"rank{k}": value for k, value in enumerate(cmc(ProbeStats.from_first_hits(first_hit), args.top_k),
                                                         start=1)},
        "in_gallery": int(sum(1 for r in results if r["subject"] in set(names))),
    }
    print(json.dumps(summary))
    if annotations:
        from mimicgait.video.annotate import annotate_people

        for video in probes.videos:
            labels = {r["track"]["track"]: _label(r) for r in results
                      if r["track"]["video"] == str(video.source)}
            written = annotate_people(video, labels, annotations[str(video.source)])
            print(f"annotated {video.source.name}: {written}")
    if args.json_out:
        text = json.dumps({"summary": summary, "probes": results}, indent=1).encode()
        with os_errors(args.json_out, "--json"):
            write_atomic(Path(args.json_out), lambda f: f.write(text))
    return 0
