"""One followed person: a constant-velocity Kalman filter on their box (filterpy's `KalmanFilter`:
the textbook filter, so the motion model is not ours to get wrong), their appearance model, and
what was seen of them in each frame (`TrackFrame`). `video.people_tracker` matches and splits;
this module only holds a track's state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimicgait.video.appearance import Appearance

KALMAN_R_X = 9.0
KALMAN_Q_V = 0.05


@dataclass
class TrackFrame:
    """One track in one video frame.

    `box` `[4]` x0, y0, x1, y1 of the whole person (the filter's estimate when partly hidden);
    `visible` the visible mask over `crop` (`[4]` int x0, y0, x1, y1) or None; `silhouette`
    `[h, w]` uint8 0..255 when kept.
    """

    frame: int
    track: int  # id, 1-based; 0 while the track is not yet confirmed
    status: str
    box: np.ndarray
    hidden: float
    crop: np.ndarray | None = None
    visible: np.ndarray | None = None
    silhouette: np.ndarray | None = None


class Track:
    """A person being followed: motion filter, appearance, and what was seen of them per frame."""

    def __init__(self, box: np.ndarray) -> None:
        from filterpy.kalman import KalmanFilter

        # state: centre column (the mask's centroid, steadier than the box's middle, which swings with
        # the stride), centre row, width, height, and the centre's velocity; the size is a random walk
        kf = KalmanFilter(dim_x=6, dim_z=4)
        kf.F = np.eye(6)
        kf.F[0, 4] = kf.F[1, 5] = 1.0
        kf.H = np.eye(4, 6)
        kf.R = np.diag([KALMAN_R_X, 4.0, 25.0, 4.0])  # the width swings with the stride, the height barely
        kf.P = np.diag([4.0, 4.0, 25.0, 4.0, 100.0, 100.0])
        kf.Q = np.diag([1.0, 1.0, 4.0, 1.0, KALMAN_Q_V, KALMAN_Q_V])
        kf.x[:4, 0] = _centre_size(box)
        self.kf = kf
        self.appearance = Appearance()
        self.id = 0
        self.hits = 1
        self.missed = 0
        self.records: list[TrackFrame] = []
        self.last_seen: TrackFrame | None = None  # the last record with a visible mask

    @property
    def box(self) -> np.ndarray:
        """The filter's box x0, y0, x1, y1 `[4]`."""
        cx, cy, w, h = self.kf.x[:4, 0]
        w, h = max(w, 1.0), max(h, 1.0)
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)

    def predict(self) -> np.ndarray:
        self.kf.predict()
        return self.box

    def correct(self, box: np.ndarray, centre_x: float) -> None:
        """Update with a seen box `[4]` and the mask's centroid column."""
        z = _centre_size(box)
        z[0] = centre_x
        self.kf.update(z)


def centroid_x(mask: np.ndarray, box: np.ndarray) -> float:
    """The centroid column of the bool mask `[H, W]` inside `box` `[4]` (its middle when empty)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    columns = mask[y0:y1, x0:x1].sum(axis=0)  # [w]
    if not columns.any():
        return (x0 + x1) / 2
    return float(x0 + (columns * np.arange(len(columns))).sum() / columns.sum() + 0.5)


def _centre_size(box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = (float(v) for v in box)
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0])


def mask_box(mask: np.ndarray) -> np.ndarray | None:
    """x0, y0, x1, y1 (exclusive) of a bool mask `[h, w]`, or None when empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float32)

