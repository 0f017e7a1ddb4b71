"""Agreement of extracted silhouettes with reference ones (e.g. CASIA-B's release) of the same walk.

A reference sequence holds only the frames its maker kept, so reference frame j shows video frame
j + offset for one unknown offset per sequence. `aligned_iou` tries every offset and returns the
one with the best mean IoU over the frames both sides have, counting only offsets that pair at
least `min_pairs` of the reference frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Agreement:
    """Best alignment of an extraction with a reference sequence."""

    iou: float  # mean IoU over the paired frames
    offset: int  # reference frame j is video frame j + offset
    pairs: int  # frames compared


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every frame of `a` `[Ta, H, W]` with every frame of `b` `[Tb, H, W]` (0/1): `[Ta, Tb]`."""
    fa = a.reshape(len(a), -1).astype(np.float32)  # [Ta, H*W]
    fb = b.reshape(len(b), -1).astype(np.float32)  # [Tb, H*W]
    inter = fa @ fb.T  # [Ta, Tb]
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1.0), 1.0)


def aligned_iou(
    frames: np.ndarray, frame_index: np.ndarray, reference: np.ndarray, min_pairs: float = 0.5
) -> Agreement:
    """Best-offset mean IoU of `frames` `[T, H, W]` (from video frames `frame_index` `[T]`) with
    `reference` `[R, H, W]`; both 0/1. `min_pairs`: the fraction of R an offset must pair."""
    matrix = iou_matrix(frames > 0, reference > 0)  # [T, R]
    offsets = frame_index[:, None] - np.arange(len(reference))[None, :]  # [T, R]
    low = int(offsets.min())
    shifted = (offsets - low).ravel()
    sums = np.bincount(shifted, weights=matrix.ravel())  # per offset
    counts = np.bincount(shifted)
    means = np.where(counts >= max(1, min_pairs * len(reference)), sums / np.maximum(counts, 1), -1.0)
    best = int(np.argmax(means))
    if means[best] < 0:
        return Agreement(0.0, 0, 0)
    return Agreement(float(means[best]), best + low, int(counts[best]))


@dataclass(frozen=True)
class VideoAgreement:
    """One video against its reference sequence, for one background."""

    agreement: Agreement
    kept: int  # frames the extraction kept
    reference_frames: int  # frames of the reference sequence


def agreement_table(
    videos: Path, read_reference: Callable[[tuple[str, str, str]], np.ndarray], foreground: Any = None,
    segmenter: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, dict[str, VideoAgreement]]:
    """{video name: {'auto': ..., 'clip': ...}} for every walking `<sid>-<cond>-<nn>-<view>` video in
    `videos`: extracted with `auto` and, where the folder holds that subject's `<sid>-bkgrd-<view>`
    clip, with the clip; compared with `read_reference(key) -> [R, H, W]` 0/1 at the best offset.
    With `segmenter`, one mode instead, 'segmenter' (no background; its `reset()`, if it has one, is
    called before each video); a video where it keeps nobody scores IoU 0 with 0 frames kept."""
    from mimicgait.video.extract import NoPersonError, extract
    from mimicgait.video.naming import is_background_clip, parse_sequence_name

    table: dict[str, dict[str, VideoAgreement]] = {}
    for path in sorted(Path(videos).glob("*.avi")):
        sequence = parse_sequence_name(path)
        if is_background_clip(path) or sequence is None:
            continue
        reference = read_reference(sequence.key)  # [R, H, W] {0, 1}
        clip = path.with_name(f"{sequence.subject}-bkgrd-{sequence.view}{path.suffix}")
        backgrounds: dict[str, Any] = {"auto": "auto", **({"clip": clip} if clip.is_file() else {})}
        if segmenter is not None:
            backgrounds = {"segmenter": None}
            if callable(getattr(segmenter, "reset", None)):
                segmenter.reset()  # type: ignore[attr-defined]
        row = {}
        for mode, background in backgrounds.items():
            try:
                result = extract(path, background, segmenter=segmenter, foreground=foreground)
            except NoPersonError:
                if segmenter is None:
                    raise
                row[mode] = VideoAgreement(Agreement(0.0, 0, 0), 0, len(reference))
                continue
            row[mode] = VideoAgreement(aligned_iou(result.frames, result.frame_index, reference),
                                       result.quality.kept, len(reference))
        table[sequence.name] = row
    return table
