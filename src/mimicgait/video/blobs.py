"""People in one foreground mask: connected components grouped into one detection per person.

Every component of at least `min_area` of the frame is a candidate, largest first; each candidate
not yet taken becomes a person, together with the parts the mask split off it (a head, a light
shirt against a light wall: `track.attached_parts`). A part must be smaller than a third of the
person's main component or lie mostly within its columns (legs cut from the torso), so two people
standing side by side stay two detections. Two people who
overlap in the image form one component: the multi-person tracker (`video.people`) splits it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimicgait.video.decode import require_cv2
from mimicgait.video.track import TrackSettings, attached_parts

#: A split-off part is smaller than this share of the person's main component.
MAX_PART_SHARE = 1 / 3


@dataclass
class Detections:
    """The people found in one mask.

    `index` `[H, W]` int16 is the detection each pixel belongs to (-1: none); `boxes` `[D, 4]`
    float32 are x0, y0, x1, y1 (x1, y1 exclusive); `areas` `[D]` their pixel counts.
    """

    index: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)


def find_people(mask: np.ndarray, settings: TrackSettings | None = None) -> Detections:
    """One detection per person in a cleaned mask uint8 0/1 `[H, W]`."""
    settings = settings or TrackSettings()
    cv2 = require_cv2()
    height, width = mask.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        np.ascontiguousarray(mask, dtype=np.uint8), connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA]  # [count], 0 is the background
    candidates = np.flatnonzero(area >= max(1.0, settings.min_area * height * width))
    candidates = candidates[candidates > 0]
    candidates = candidates[np.argsort(-area[candidates], kind="stable")]
    owner = np.full(count, -1, np.int16)  # [count] detection of each component
    boxes: list[list[float]] = []
    for main in candidates:
        if owner[main] >= 0:
            continue
        part = attached_parts(stats, int(main), settings.min_part) & (owner < 0)
        # a large part still belongs to this person when it lies mostly within their columns (legs
        # cut from a torso by the mask), not beside them (another person standing close)
        x0, w = stats[:, 0], stats[:, 2]
        shared = np.minimum(x0 + w, x0[main] + w[main]) - np.maximum(x0, x0[main])  # [count] columns
        part &= (area < MAX_PART_SHARE * area[main]) | (shared >= 0.5 * np.minimum(w, w[main]))
        owner[part] = len(boxes)
        x0, y0 = stats[part, 0], stats[part, 1]
        boxes.append([x0.min(), y0.min(), (x0 + stats[part, 2]).max(), (y0 + stats[part, 3]).max()])
    index = owner[labels]  # [H, W]
    areas = np.bincount(index[index >= 0].ravel(), minlength=len(boxes)) if boxes else np.zeros(0, np.int64)
    return Detections(index, np.asarray(boxes, np.float32).reshape(-1, 4), areas)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of `a` `[N, 4]` with every box of `b` `[M, 4]` (x0, y0, x1, y1): `[N, M]`."""
    inter = overlap_area(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])  # [N]
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # [M]
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-6), 0.0)


def overlap_area(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection area of every box of `a` `[N, 4]` with every box of `b` `[M, 4]`: `[N, M]`."""
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)
