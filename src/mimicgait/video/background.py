"""The empty scene: a per-pixel background colour for a fixed camera.

- From a clean clip (the camera with nobody in view, e.g. CASIA-B's `*-bkgrd-*` videos) or a still
  image of the empty scene: the per-pixel temporal median of the clip.
- `auto`, from the walking video itself: the per-pixel temporal median of frames sampled evenly
  across it. A walker crossing the view covers any one pixel in only a few frames, so the median
  is the scene behind them. On the CASIA-B videos this measures as well as the clean clip (see
  docs/video.md), and it needs no extra input; it fails where someone stands still for more than
  half the video, which the quality line then shows (few or no frames kept).

Frames are sampled while streaming (at most `max_samples` kept, thinned by two when the video is
longer than announced), so the median never needs the whole video in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mimicgait.errors import UserError
from mimicgait.video.decode import IMAGE_SUFFIXES, FrameReader, require_cv2

AUTO = "auto"


def median_frame(frames: np.ndarray) -> np.ndarray:
    """Per-pixel temporal median of uint8 RGB frames `[S, H, W, 3]`, rounded: uint8 `[H, W, 3]`."""
    return np.median(frames, axis=0).round().astype(np.uint8)


def median_background(reader: FrameReader, max_samples: int = 32, batch: int = 64) -> np.ndarray:
    """Per-pixel temporal median of up to `max_samples` evenly spread frames: uint8 `[H, W, 3]`."""
    step = max(1, (reader.announced or 0) // max_samples)
    samples: list[np.ndarray] = []  # frames at indices 0, step, 2 step, ...
    seen = 0
    for frames in reader.batches(batch):  # [B, H, W, 3]
        index = seen + np.arange(len(frames))
        samples.extend(frames[index % step == 0])
        seen += len(frames)
        while len(samples) > 2 * max_samples:  # more frames than announced: thin out
            samples = samples[::2]
            step *= 2
    if not samples:
        raise UserError(f"{reader.path}: no frames to estimate a background from")
    if len(samples) > max_samples:
        samples = [samples[i] for i in np.linspace(0, len(samples) - 1, max_samples).round().astype(int)]
    return median_frame(np.stack(samples))  # [S, H, W, 3] -> [H, W, 3]


def load_background(
    spec: str | Path | np.ndarray | None, reader: FrameReader, batch: int = 64
) -> np.ndarray | None:
    """Resolve a background option to uint8 RGB `[H, W, 3]` matching `reader`'s frames.

    `spec`: 'auto' (estimated from `reader` itself), a clip or frame folder of the empty scene, a
    still image of it, an array `[H, W, 3]`, or None (no background model: a segmenter is used).
    """
    if spec is None:
        return None
    if isinstance(spec, np.ndarray):
        background, where = spec, "the background array"
    elif str(spec) == AUTO:
        return median_background(reader, batch=batch)
    else:
        path = Path(spec)
        where = str(path)
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            image = require_cv2().imread(str(path), require_cv2().IMREAD_COLOR)  # [H, W, 3] BGR
            if image is None:
                raise UserError(f"--background {path}: cannot decode this image; give a clip or image of the "
                                "empty scene")
            background = image[..., ::-1]
        else:
            background = median_background(FrameReader(path), batch=batch)
    if background.shape != (reader.height, reader.width, 3) or background.dtype != np.uint8:
        raise UserError(
            f"{where}: background has shape {tuple(background.shape)} {background.dtype}, the video "
            f"{reader.path.name} needs ({reader.height}, {reader.width}, 3) uint8; give a background from "
            "the same camera"
        )
    return np.ascontiguousarray(background)
