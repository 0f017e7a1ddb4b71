"""Turn raw silhouette images (CASIA-B's PNG release) into normalised frames, as OpenGait does.

Per frame: crop to the rows and columns that hold foreground, scale to height H keeping the aspect
ratio, centre horizontally on the column where the cumulative foreground mass reaches half, then
pad or cut to width W. Frames without foreground are dropped (they carry no gait). Pillow does
the resizing (bicubic, as OpenGait's cv2 call), so the library has no OpenCV dependency.

Each frame has its own crop box and scale, so the work is one Pillow resize per frame; the
centring and padding around it are array operations.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def pretreat_frame(image: np.ndarray, height: int = 64, width: int = 64) -> np.ndarray | None:
    """Normalise one grey silhouette `[h, w]` (0..255) to `[height, width]` uint8 0..255.

    Returns None when the image has no foreground.
    """
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {image.shape}")
    rows = np.flatnonzero(image.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(image.any(axis=0))
    person = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # [h', w']
    scaled_width = max(1, round(person.shape[1] * height / person.shape[0]))
    resized = np.asarray(
        Image.fromarray(np.ascontiguousarray(person, dtype=np.uint8)).resize(
            (scaled_width, height), Image.Resampling.BICUBIC
        )
    )  # [height, scaled_width]
    mass = resized.sum(axis=0, dtype=np.int64).cumsum()  # [scaled_width]
    if mass[-1] == 0:  # the resize can erase a few faint pixels
        return None
    # First column whose cumulative mass exceeds half (OpenGait's rule): a symmetric person of even
    # width then lands exactly in the middle of the output.
    centre = int(np.searchsorted(mass, mass[-1] / 2, side="right"))
    out = np.zeros((height, width), dtype=np.uint8)
    left = centre - width // 2  # in resized coordinates
    src_lo, src_hi = max(left, 0), min(left + width, scaled_width)
    out[:, src_lo - left : src_hi - left] = resized[:, src_lo:src_hi]
    return out


def pretreat_frames(images: list[np.ndarray], height: int = 64, width: int = 64) -> np.ndarray:
    """Normalise a sequence of raw grey images; returns `[T, height, width]` uint8 0..255.

    Empty frames are dropped, so T may be smaller than len(images) (or 0).
    """
    kept = [f for f in (pretreat_frame(img, height, width) for img in images) if f is not None]
    if not kept:
        return np.zeros((0, height, width), dtype=np.uint8)
    return np.stack(kept)
