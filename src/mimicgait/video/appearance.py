"""What a tracked person looks like, learned while they are alone, used to split merged blobs.

When two people overlap in the image, background subtraction gives one blob. Each pixel of it
goes to the person most likely to show there, by three cues:

- **shape**: where in their box a person's silhouette usually is (an occupancy map of the box
  averaged over the frames they were alone in, which covers the gait cycle);
- **colour**: the colours of their clothes by height band (a histogram of 8x8x8 RGB bins per
  eighth of the body: shirt and trousers differ);
- **depth**: the person whose feet are lower in the image is nearer the camera, so where both
  could be, the nearer one is seen (`front_prior` multiplies their likelihood; 1 by default: on
  two crossings of dark-clad walkers a prior of 3 gave the walker in front the other's pixels);
- **motion**: each person's visible mask of the last frame, moved by their motion, says where they
  are likely to be now (people change shape little from one frame to the next).

The per-pixel posteriors are smoothed over a small window before the choice, so a person's share
is a coherent region rather than salt and pepper.
"""

from __future__ import annotations

import numpy as np

from mimicgait.video.decode import require_cv2

BANDS = 8  # height bands of the colour model
COLOUR_BINS = 512  # 8 x 8 x 8 RGB bins
SHAPE = (16, 8)  # rows, columns of the occupancy map over the box
DECAY = 0.9  # weight of the past in the running models


def colour_bins(frames: np.ndarray) -> np.ndarray:
    """The colour bin of every pixel of uint8 RGB `[..., 3]`: int16 `[...]` in [0, 512)."""
    q = (frames >> 5).astype(np.int16)  # [..., 3] in 0..7
    return (q[..., 0] << 6) | (q[..., 1] << 3) | q[..., 2]


class Appearance:
    """Running shape and colour model of one person (see the module docstring)."""

    def __init__(self) -> None:
        self.colour = np.zeros((BANDS, COLOUR_BINS), np.float32)  # decayed counts per band
        self.shape = np.zeros(SHAPE, np.float32)  # occupancy of the box, 0..1
        self.fill = 0.0  # share of the box the silhouette covers
        self.seen = 0  # frames learned from

    def learn(self, bins: np.ndarray, mask: np.ndarray, box: np.ndarray) -> None:
        """Update from a frame where the person is alone: `bins` `[H, W]` (colour_bins of the frame),
        `mask` `[H, W]` bool (the person), `box` `[4]` their box x0, y0, x1, y1."""
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        crop = mask[y0:y1, x0:x1]  # [h, w]
        if crop.size == 0 or not crop.any():
            return
        h, w = crop.shape
        rows, cols = np.nonzero(crop)
        band = rows * BANDS // h  # [n]
        counts = np.bincount(band * COLOUR_BINS + bins[y0:y1, x0:x1][rows, cols],
                             minlength=BANDS * COLOUR_BINS).reshape(BANDS, COLOUR_BINS)
        occupancy = require_cv2().resize(crop.astype(np.float32), SHAPE[::-1],
                                         interpolation=require_cv2().INTER_AREA)  # [16, 8]
        weight = 1.0 - DECAY if self.seen else 1.0
        self.colour *= DECAY
        self.colour += counts / max(1.0, len(rows) / BANDS)  # each band ~1 per frame on average
        self.shape += weight * (occupancy - self.shape)
        self.fill += weight * (len(rows) / (h * w) - self.fill)
        self.seen += 1

    def likelihood(self, bins: np.ndarray, ys: np.ndarray, xs: np.ndarray, box: np.ndarray) -> np.ndarray:
        """How well pixels (`ys`, `xs` `[n]`, with colour bins `bins` `[n]`) fit this person standing in
        `box` `[4]`: shape prior times colour probability, `[n]` float32."""
        x0, y0, x1, y1 = (float(v) for v in box)
        h, w = max(y1 - y0, 1.0), max(x1 - x0, 1.0)
        ry = (ys - y0) / h  # [n], 0..1 inside the box
        rx = (xs - x0) / w
        inside = (ry >= 0) & (ry < 1) & (rx >= 0) & (rx < 1)
        r = np.clip((ry * SHAPE[0]).astype(np.int64), 0, SHAPE[0] - 1)
        c = np.clip((rx * SHAPE[1]).astype(np.int64), 0, SHAPE[1] - 1)
        shape = np.where(inside, 0.02 + self.shape[r, c], 1e-3)  # [n]
        band = np.clip((ry * BANDS).astype(np.int64), 0, BANDS - 1)
        table = self.colour + 0.05  # smoothed
        colour = table[band, bins] / table[band].sum(axis=1)  # [n]
        return (shape * colour * COLOUR_BINS).astype(np.float32)


def split_blob(
    bins: np.ndarray,
    blob: np.ndarray,
    region: np.ndarray,
    people: list[Appearance],
    boxes: np.ndarray,
    front: int | None,
    front_prior: float = 1.0,
    motion: list[np.ndarray | None] | None = None,
    motion_floor: float = 0.2,
    smooth: int = 5,
) -> np.ndarray:
    """Give each pixel of a merged blob to one of the people overlapping it.

    `bins` `[H, W]` colour bins of the frame; `blob` `[H, W]` bool the merged foreground; `region`
    `[4]` int x0, y0, x1, y1 around it; `people` their models and `boxes` `[k, 4]` where each is
    predicted to stand; `front` the index of the nearest one (None when it is unclear); `motion`
    per person a map `[h, w]` in 0..1 over `region` of where their last visible mask moved to (None:
    no such map), which keeps each person's share coherent from frame to frame: a pixel it does not
    cover weighs `motion_floor` against `1 + motion_floor` where it does. Returns
    `[h, w]` int8 over `region`: the index of the person owning each pixel, -1 off the blob.
    """
    x0, y0, x1, y1 = (int(v) for v in region)
    crop = blob[y0:y1, x0:x1]  # [h, w]
    rows, cols = np.nonzero(crop)
    ys, xs = rows + y0, cols + x0
    pixel_bins = bins[y0:y1, x0:x1][rows, cols]  # [n]
    scores = np.stack([p.likelihood(pixel_bins, ys, xs, b) for p, b in zip(people, boxes, strict=True)])
    if front is not None:
        scores[front] *= front_prior
    for k, moved in enumerate(motion or []):
        if moved is not None:
            scores[k] *= motion_floor + moved[rows, cols]
    posterior = scores / np.maximum(scores.sum(axis=0, keepdims=True), 1e-12)  # [k, n]
    owner = np.full(crop.shape, -1, np.int8)
    if smooth > 1:
        cv2 = require_cv2()
        maps = np.zeros((len(people), *crop.shape), np.float32)  # [k, h, w]
        maps[:, rows, cols] = posterior
        for m in maps:
            cv2.blur(m, (smooth, smooth), dst=m)
        posterior = maps[:, rows, cols]
    owner[rows, cols] = np.argmax(posterior, axis=0)
    return owner
