"""Agreement of extracted silhouettes with reference ones (e.g. CASIA-B's release) of the same walk.

A reference sequence holds only the frames its maker kept, so reference frame j shows video frame
j + offset for one unknown offset per sequence. `aligned_iou` tries every offset and returns the
one with the best mean IoU over the frames both sides have, counting only offsets that pair at
least `min_pairs` of the reference frames.
"""

from __future__ import annotations

from dataclasses import dataclass

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
