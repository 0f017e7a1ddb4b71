"""The person in each mask: the dominant connected component, followed from frame to frame.

Per frame, connected components of at least `min_area` pixels are candidates. The person is the
largest candidate near where the person was in the previous frame (its centre within
`max_jump` of the frame width), else the largest of all (a new track). Parts of the same person
that the mask split off (a head or a light shirt against a light wall) are added back: smaller
components overlapping the person's columns and lying within its height above or a fifth below.

A frame is dropped, as CASIA-B's release drops it, when nobody is found (`missing`), when the
person touches the frame edge, i.e. is cut by it (`edge`), or is shorter than `min_height` of
the frame height (`small`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimicgait.video.decode import require_cv2

KEPT, MISSING, EDGE, SMALL = "kept", "missing", "edge", "small"
DROP_REASONS = (MISSING, EDGE, SMALL)


@dataclass(frozen=True)
class TrackSettings:
    """Rules for finding and keeping the person (fractions of the frame size)."""

    min_area: float = 0.0015  # smallest candidate component, fraction of the frame area
    min_part: int = 20  # smallest split-off part added back to the person, pixels
    min_height: float = 0.2  # shortest person kept, fraction of the frame height
    max_jump: float = 0.2  # largest centre move between frames still the same track, of the width
    edge: int = 1  # a person within this many pixels of the border is cut by it


@dataclass
class PersonFrame:
    """One frame's outcome: status, the person's mask `[H, W]` bool when found, its height."""

    status: str
    mask: np.ndarray | None
    height: int


class PersonTracker:
    """Stateful over a video's batches: call `update` with consecutive batches of masks."""

    def __init__(self, settings: TrackSettings = TrackSettings()) -> None:
        self.settings = settings
        self.cv2 = require_cv2()
        self.last_x: float | None = None  # the person's centre column in the last frame found

    def update(self, masks: np.ndarray) -> list[PersonFrame]:
        """The person of each of the cleaned masks uint8 0/1 `[B, H, W]`, in order."""
        return [self._frame(np.ascontiguousarray(m, dtype=np.uint8)) for m in masks]

    def _frame(self, mask: np.ndarray) -> PersonFrame:
        s = self.settings
        height, width = mask.shape
        count, labels, stats, centroids = self.cv2.connectedComponentsWithStats(mask, connectivity=8)
        area = stats[:, self.cv2.CC_STAT_AREA]  # [count], 0 is the background
        candidates = np.flatnonzero(area >= max(1.0, s.min_area * height * width))
        candidates = candidates[candidates > 0]
        if candidates.size == 0:
            self.last_x = None
            return PersonFrame(MISSING, None, 0)
        chosen = candidates
        if self.last_x is not None:
            near = candidates[np.abs(centroids[candidates, 0] - self.last_x) <= s.max_jump * width]
            if near.size:
                chosen = near
        main = int(chosen[np.argmax(area[chosen])])
        part = attached_parts(stats, main, s.min_part)
        person = part[labels]  # [H, W] bool
        px0, py0 = int(stats[part, 0].min()), int(stats[part, 1].min())
        px1, py1 = int((stats[part, 0] + stats[part, 2]).max()), int((stats[part, 1] + stats[part, 3]).max())
        self.last_x = float(centroids[main, 0])
        person_height = py1 - py0
        if px0 < s.edge or py0 < s.edge or px1 > width - s.edge or py1 > height - s.edge:
            return PersonFrame(EDGE, None, person_height)
        if person_height < s.min_height * height:
            return PersonFrame(SMALL, None, person_height)
        return PersonFrame(KEPT, person, person_height)


def attached_parts(stats: np.ndarray, main: int, min_part: int) -> np.ndarray:
    """Which connected components belong to the person whose main component is `main`: itself and
    the parts the mask split off it (a head, a light shirt against a light wall).

    `stats` `[count, 5]` is OpenCV's component statistics (row 0 the background). A part has at
    least `min_part` pixels, overlaps the main component's columns (with a margin of a tenth of its
    height) and lies between one height above its top and a fifth of its height below its bottom.
    Returns `[count]` bool.
    """
    left, top, w, h = (int(v) for v in stats[main, :4])
    margin = max(2, h // 10)
    x0, y0 = stats[:, 0], stats[:, 1]
    x1, y1 = x0 + stats[:, 2], y0 + stats[:, 3]
    part = ((stats[:, 4] >= min_part) & (x0 < left + w + margin) & (x1 > left - margin)
            & (y1 > top - h) & (y0 < top + h + h // 5))
    part[0] = False
    part[main] = True
    return part
