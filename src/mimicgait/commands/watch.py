"""`mimicgait watch`: identify the people in a camera's view (or a video file) as frames come.

Frames are read in small batches (`--batch`), segmented against the background, tracked
(`mimicgait.video.people`) and each track identified against the gallery once it has
`--min-frames` silhouettes, again every `--every` new ones (`mimicgait.video.live`). One line is
printed per new or changed identity, one per track when it ends, and a JSON summary with the
frames per second at the end. A file is played at its frame rate unless `--fast`; a camera is
read as fast as it delivers. Ctrl-C stops it (the tracks seen so far get their last answer).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mimicgait.commands._checks import distance_threshold, nonneg_int, positive_int
from mimicgait.commands._inputs import add_model_options

if TYPE_CHECKING:
    from mimicgait.video.live import Answer

log = logging.getLogger(__name__)

#: Frames of a camera's view, before tracking starts, whose median is the background ('auto').
CAMERA_BACKGROUND_FRAMES = 50


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `watch` sub-command."""
    p = subparsers.add_parser(
        "watch",
        help="identify every person in a camera's view or a video file, live",
        description="Track every person in a fixed camera's view (or a video file, played at its frame "
        "rate) and identify each against a gallery as their silhouettes arrive: a line per new or "
        "changed identity, one per track when it ends.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", help="a video file")
    source.add_argument("--camera", type=nonneg_int, metavar="N", help="a camera index (OpenCV)")
    p.add_argument("--gallery", required=True, help="gallery file (mimicgait gallery enroll)")
    add_model_options(p)
    p.add_argument("--background", default="auto",
                   help="a clip or image of the empty scene, or auto: the median of the file, or of a "
                   f"camera's first {CAMERA_BACKGROUND_FRAMES} frames (default auto)")
    p.add_argument("--threshold", type=distance_threshold,
                   help="distance below which a match is accepted; above it the track is 'unknown'")
    p.add_argument("--top-k", type=positive_int, default=3, help="identities shown per answer (default 3)")
    p.add_argument("--min-frames", type=positive_int, default=20,
                   help="silhouettes a track needs before its first answer (default 20)")
    p.add_argument("--every", type=positive_int, default=15,
                   help="identify a track again after this many new silhouettes (default 15)")
    p.add_argument("--window", type=nonneg_int, default=0,
                   help="identify on a track's last N silhouettes (default 0: all of them)")
    p.add_argument("--batch", type=positive_int, default=8, help="frames segmented together (default 8)")
    p.add_argument("--fast", action="store_true", help="a file: as fast as possible, not at its frame rate")
    p.add_argument("--max-frames", type=positive_int, help="stop after this many frames")
    p.set_defaults(func=run)


def _camera_batches(index: int, size: int, limit: int | None) -> tuple[Iterator[np.ndarray], float, int, int]:
    """(batches of RGB frames `[B, H, W, 3]` from camera `index`, its rate, width, height)."""
    from mimicgait.errors import UserError
    from mimicgait.video.decode import require_cv2

    cv2 = require_cv2()
    capture = cv2.VideoCapture(index)
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok or first is None:
        capture.release()
        raise UserError(f"--camera {index}: OpenCV cannot read from this camera; check the index and that "
                        "no other program holds it")
    fps = float(capture.get(cv2.CAP_PROP_FPS)) or 25.0

    def batches() -> Iterator[np.ndarray]:
        frames, count = [first[..., ::-1]], 1
        try:
            while limit is None or count < limit:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                frames.append(frame[..., ::-1])
                count += 1
                if len(frames) == size:
                    yield np.stack(frames)
                    frames = []
            if frames:
                yield np.stack(frames)
        finally:
            capture.release()

    return batches(), fps, first.shape[1], first.shape[0]


def run(args: argparse.Namespace) -> int:
    from mimicgait.commands._inputs import load_recognizer
    from mimicgait.deploy.gallery import Gallery
    from mimicgait.errors import UserError
    from mimicgait.video.background import AUTO, load_background, median_frame
    from mimicgait.video.decode import FrameReader, require_cv2
    from mimicgait.video.live import Watcher
    from mimicgait.video.people import PeopleStream

    require_cv2()
    recognizer = load_recognizer(args)
    with Gallery(args.gallery, readonly=True) as gallery:
        gallery.check_model(recognizer.meta)
        names, identity, embeddings, _ = gallery.load(part_major=True)
    size = tuple(recognizer.frame_size)
    if args.video:
        reader = FrameReader(args.video)
        background = load_background(args.background, reader)
        batches, fps = reader.batches(args.batch), reader.fps
        height, width = reader.height, reader.width
        pace = not args.fast
    else:
        batches, fps, width, height = _camera_batches(args.camera, args.batch, args.max_frames)
        pace = False
        if args.background == AUTO:
            learn = [next(batches, None) for _ in range(max(1, CAMERA_BACKGROUND_FRAMES // args.batch))]
            learn = [b for b in learn if b is not None]
            if not learn:
                raise UserError(f"--camera {args.camera}: no frames to learn the background from")
            background = median_frame(np.concatenate(learn))  # [S, H, W, 3] -> [H, W, 3]
        else:
            background = load_background(args.background, _StillSize(height, width))
    stream = PeopleStream(height, width, background, None, size=size)
    watcher = Watcher(recognizer, names, identity, embeddings, threshold=args.threshold, top_k=args.top_k,
                      min_frames=args.min_frames, every=args.every, window=args.window)
    start = time.perf_counter()
    frames = 0
    try:
        for batch in batches:
            if args.max_frames is not None:
                batch = batch[: args.max_frames - frames]
            for records in stream.push(batch):
                for answer in watcher.observe(records):
                    _say(answer, fps)
            frames += len(batch)
            live = {t.id for t in stream.tracker.live if t.id}
            for answer in watcher.finish(live):
                _say(answer, fps)
            if pace:  # a file at its own frame rate: wait for the moment its next frame would arrive
                time.sleep(max(0.0, start + frames / fps - time.perf_counter()))
            if args.max_frames is not None and frames >= args.max_frames:
                break
    except KeyboardInterrupt:
        log.warning("stopped after %d frames", frames)
    for answer in watcher.finish():
        _say(answer, fps)
    if args.video and not watcher.tracks:  # a file with nobody in it: not a quiet success
        raise UserError(f"--video {args.video}: nobody was tracked in its {frames} frames; is it the empty "
                        "scene, or is --background wrong?")
    seconds = time.perf_counter() - start
    print(json.dumps({"frames": frames, "seconds": round(seconds, 2),
                      "fps": round(frames / seconds, 1) if seconds > 0 else None,
                      "tracks": len(watcher.tracks), "paced": pace}))
    return 0


class _StillSize:
    """What `load_background` checks a background against, for a camera: its frame size."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width, self.path = height, width, Path("camera")


def _say(answer: Answer, fps: float) -> None:
    """One line: `[  4.2 s] t1 new 001 0.512 (004 1.434, ...) 25 frames, hidden 3%`."""
    best = f"{answer.matches[0][1]:.3f}" if answer.matches else "-"
    others = ", ".join(f"{n} {d:.3f}" for n, d in answer.matches[1:])
    print(f"[{answer.frame / fps:6.1f} s] t{answer.track} {answer.kind} {answer.decision} {best}"
          + (f" ({others})" if others else "")
          + f" {answer.frames} frames, hidden {100 * answer.hidden:.0f}%", flush=True)

