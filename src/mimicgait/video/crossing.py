"""Two people crossing, made from two single-walker videos, with exact ground truth; and its scoring.

Real footage of people crossing comes without per-pixel truth of who is where and how much of the
person behind is hidden. Pasting one recorded walker over another gives both: the walker behind
(`back`) stays as recorded, the walker in front (`front`) is mirrored left-right so that the two
walk towards each other, made opaque (its mask closed and its holes filled, `opaque`), optionally
scaled up about the feet and lowered a little (nearer the camera, which is what "in front" means
in a side view), and pasted with its own pixels wherever its mask is set. Each walker's mask
comes from its own video (`person_masks`: the background model and foreground of
`video.extract`, and `PersonTracker` with the edge and height rules switched off, so that the
mask exists in every frame the person is seen, cut by the border or not). The front walker's
time is shifted so that both are at the image centre in the same frame; the clip runs from the
first frame of either video to the last, the back walker's empty scene standing in where its
video has no frame.

Truth per frame: `front` (the pasted mask), `back` (the full mask of the walker behind), whose
visible part is `back & ~front`, and its hidden fraction `1 - visible / full`.

Scoring a multi-person extraction against the truth (`score_walkers`, `mot_accumulator`): per
frame, tracks are matched to walkers by box IoU (the Hungarian method, IoU at least
`MIN_BOX_IOU`), the truth box being the walker's whole body (the extractor reports the box of the
whole person, estimated where hidden). The CLEAR-MOT and identity figures (`motmetrics`) count a
walker in the frames where it is fully inside the image and at most `MAX_HIDDEN` hidden;
elsewhere it is ignored, as MOTChallenge ignores its distractors: a track matched to it there is
neither a hit nor a false positive. Mask IoU (predicted visible mask against true visible mask)
is binned by how hidden the walker is, over the frames where it is fully inside the image.

Size: over 400 lines because making a crossing and scoring one share the truth's conventions
(which walker is which, the box form, what counts as inside the image and as hidden) and change
together; `benchmarks/crossing.py` runs both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from mimicgait.errors import UserError
from mimicgait.io import os_errors
from mimicgait.video.background import median_background
from mimicgait.video.decode import FrameReader, require_cv2
from mimicgait.video.foreground import ForegroundSettings, foreground_masks, solid_mask
from mimicgait.video.naming import parse_sequence_name
from mimicgait.video.track import PersonTracker, TrackSettings

ROLES = ("back", "front")  # walker 0 is behind, walker 1 in front
#: A track and a walker whose boxes overlap less than this are not the same person (IoU distance 0.5).
MIN_BOX_IOU = 0.5
#: A walker hidden more than this is not expected to be tracked (the extractor may drop the frame).
MAX_HIDDEN = 0.7
#: Hidden-fraction bins of the mask IoU: exactly 0, (0, 0.3], (0.3, 0.7], above 0.7.
HIDDEN_BINS = (("0", -1.0, 0.0), ("0-0.3", 0.0, 0.3), ("0.3-0.7", 0.3, 0.7), (">0.7", 0.7, 1.0))
FPS = 25


@dataclass
class Walker:
    """One recorded walk: its frames, the person's mask in each, and the empty scene behind."""

    name: str  # the sequence, e.g. 001-nm-01-090
    subject: str
    frames: np.ndarray  # [N, H, W, 3] uint8 RGB
    masks: np.ndarray  # [N, H, W] bool, the person (all False where nobody was found)
    background: np.ndarray  # [H, W, 3] uint8 RGB


@dataclass
class Truth:
    """Who is where in every frame of a crossing."""

    name: str  # cross-<sidA>-<sidB>
    sequences: tuple[str, str]  # (back, front) source sequences
    subjects: tuple[str, str]  # (back, front)
    front: np.ndarray  # [N, H, W] bool, the pasted walker
    back: np.ndarray  # [N, H, W] bool, the whole walker behind, hidden parts included
    sources: np.ndarray  # [2, N] int64, frame of each walker's own video shown (-1: none)

    @property
    def back_visible(self) -> np.ndarray:
        """What can be seen of the walker behind: `[N, H, W]` bool."""
        return self.back & ~self.front

    def full(self, role: int) -> np.ndarray:
        """The whole walker `[N, H, W]` bool (0: back, 1: front)."""
        return self.back if role == 0 else self.front

    def visible(self, role: int) -> np.ndarray:
        """The visible part of a walker `[N, H, W]` bool (0: back, 1: front)."""
        return self.back_visible if role == 0 else self.front

    def hidden(self, role: int) -> np.ndarray:
        """Fraction of a walker hidden per frame `[N]` float32, NaN where it is not in view."""
        return hidden_fraction(self.full(role), self.visible(role))


@dataclass
class Crossing:
    """A made crossing: the video frames and their truth."""

    frames: np.ndarray  # [N, H, W, 3] uint8 RGB
    truth: Truth
    offset: int  # the front walker's video frame j is shown with the back walker's frame j + offset


def person_masks(path: str | Path, foreground: ForegroundSettings | None = None,
                 batch: int = 64) -> Walker:
    """Decode a single-walker video and find the person in every frame.

    The background is the video's own median (`background='auto'` of `extract`); the person is
    `PersonTracker`'s, with the edge and height rules off (edge -1, height 0), so it keeps its mask
    where the extractor would drop the frame: a person cut by the border is still there to paste.
    """
    reader = FrameReader(path)
    sequence = parse_sequence_name(reader.path)
    if sequence is None:
        raise UserError(f"{reader.path}: not a <sid>-<cond>-<nn>-<view> name; the subject of a walker "
                        "comes from its file name")
    background = median_background(reader, batch=batch)  # [H, W, 3]
    settings = foreground or ForegroundSettings()
    tracker = PersonTracker(replace(TrackSettings(), edge=-1, min_height=0.0))
    frames, masks = [], []
    for batch_frames in reader.batches(batch):  # [B, H, W, 3]
        empty = np.zeros(batch_frames.shape[1:3], bool)  # [H, W]
        people = tracker.update(foreground_masks(batch_frames, background, settings))
        frames.append(batch_frames)
        masks.extend(p.mask if p.mask is not None else empty for p in people)
    return Walker(sequence.name, sequence.subject, np.concatenate(frames), np.stack(masks), background)


def mirror(walker: Walker) -> Walker:
    """The walk seen in a mirror: frames, masks and scene flipped left-right."""
    return replace(walker, frames=np.ascontiguousarray(walker.frames[:, :, ::-1]),
                   masks=np.ascontiguousarray(walker.masks[:, :, ::-1]),
                   background=np.ascontiguousarray(walker.background[:, ::-1]))


def opaque(walker: Walker, closing: int = 5) -> Walker:
    """The walker with a solid mask: closed (elliptic kernel of `closing` pixels) and its holes filled.

    A light shirt against a light wall leaves gaps in the foreground mask; pasted as it is, the
    walker behind would show through the one in front. Pasting the solid mask covers them with the
    front walker's own pixels (and the truth is that solid mask, so both stay consistent). The
    closing bridges gaps narrower than its kernel only: a larger one would also fill the concave
    corners (between arm and body) with the front walker's scene, pixels that are not the person
    and that no segmenter can tell from the background, yet the truth would count them as person.
    """
    masks = np.stack([solid_mask(mask, closing) for mask in walker.masks])  # [N, H, W] bool
    return replace(walker, masks=masks)


def feet_row(masks: np.ndarray) -> float:
    """Median over the frames showing the person of its lowest mask row (`masks` `[N, H, W]`)."""
    rows = masks.any(axis=2)  # [N, H]
    present = rows.any(axis=1)  # [N]
    if not present.any():
        raise UserError("no frame shows the person; cannot place the walker")
    bottom = masks.shape[1] - 1 - np.argmax(rows[:, ::-1], axis=1)  # [N]
    return float(np.median(bottom[present]))


def bring_forward(walker: Walker, scale: float, shift: float) -> Walker:
    """The walker nearer the camera: scaled by `scale` about its feet at the image's centre column,
    then moved `shift` pixels down. One transform for the whole clip, so the path stays straight
    (and the walker, a little larger, also moves a little faster across the image)."""
    cv2 = require_cv2()
    height, width = walker.masks.shape[1:]
    cx, cy = width / 2.0, feet_row(walker.masks)
    matrix = np.float32([[scale, 0.0, (1.0 - scale) * cx], [0.0, scale, (1.0 - scale) * cy + shift]])
    frames = np.stack([cv2.warpAffine(f, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REPLICATE) for f in walker.frames])
    masks = np.stack([cv2.warpAffine(m.view(np.uint8) * np.uint8(255), matrix, (width, height),
                                     flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                      for m in walker.masks]) >= 128  # [N, H, W]
    background = cv2.warpAffine(walker.background, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    return replace(walker, frames=frames, masks=masks, background=background)


def centre_frame(masks: np.ndarray) -> int:
    """The frame whose person's centroid column is nearest the image's centre (`masks` `[N, H, W]`)."""
    columns = masks.sum(axis=1, dtype=np.int64)  # [N, W]
    area = columns.sum(axis=1)  # [N]
    if not area.any():
        raise UserError("no frame shows the person; cannot time the crossing")
    x = (columns * np.arange(masks.shape[2])).sum(axis=1) / np.maximum(area, 1)  # [N]
    distance = np.where(area > 0, np.abs(x - (masks.shape[2] - 1) / 2.0), np.inf)
    return int(np.argmin(distance))


def compose(back: Walker, front: Walker, name: str | None = None) -> Crossing:
    """Paste `front` (already mirrored / brought forward as wanted) over `back`, timed so that both
    are at the image centre together. The clip covers both walks; the back walker's scene fills
    the frames before or after its own video."""
    if back.frames.shape[1:] != front.frames.shape[1:]:
        raise UserError(f"{back.name} and {front.name} differ in frame size; cross videos of one camera")
    offset = centre_frame(back.masks) - centre_frame(front.masks)
    time = np.arange(min(0, offset), max(len(back.frames), len(front.frames) + offset))  # back's clock
    sources = np.stack([time, time - offset])  # [2, N]
    sources[(sources < 0) | (sources >= np.array([[len(back.frames)], [len(front.frames)]]))] = -1
    b, f = sources
    frames = np.where((b >= 0)[:, None, None, None], back.frames[np.maximum(b, 0)], back.background)
    back_mask = back.masks[np.maximum(b, 0)] & (b >= 0)[:, None, None]  # [N, H, W]
    front_mask = front.masks[np.maximum(f, 0)] & (f >= 0)[:, None, None]  # [N, H, W]
    frames = np.where(front_mask[..., None], front.frames[np.maximum(f, 0)], frames)  # [N, H, W, 3]
    name = name or f"cross-{back.subject}-{front.subject}"
    truth = Truth(name, (back.name, front.name), (back.subject, front.subject), front_mask, back_mask,
                  sources.astype(np.int64))
    return Crossing(np.ascontiguousarray(frames, np.uint8), truth, offset)


def hidden_fraction(full: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """1 - visible / full area per frame `[N]` float32 from `[N, H, W]` masks; NaN where `full` is empty."""
    whole = full.sum(axis=(1, 2), dtype=np.int64)
    seen = visible.sum(axis=(1, 2), dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(whole > 0, 1.0 - seen / whole, np.nan).astype(np.float32)


def touches_border(masks: np.ndarray) -> np.ndarray:
    """Whether each mask `[N, H, W]` has a pixel on the image border: `[N]` bool (cut by the edge)."""
    return (masks[:, 0, :].any(axis=1) | masks[:, -1, :].any(axis=1)
            | masks[:, :, 0].any(axis=1) | masks[:, :, -1].any(axis=1))


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """Bounding boxes x0, y0, x1, y1 (x1, y1 exclusive) of masks `[N, H, W]`: `[N, 4]` float32, NaN rows
    where a mask is empty (the convention of the extractor's boxes)."""
    rows, cols = masks.any(axis=2), masks.any(axis=1)  # [N, H], [N, W]
    y0, x0 = np.argmax(rows, axis=1), np.argmax(cols, axis=1)
    y1 = masks.shape[1] - np.argmax(rows[:, ::-1], axis=1)
    x1 = masks.shape[2] - np.argmax(cols[:, ::-1], axis=1)
    boxes = np.stack([x0, y0, x1, y1], axis=1).astype(np.float32)  # [N, 4]
    boxes[~rows.any(axis=1)] = np.nan
    return boxes


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes x0, y0, x1, y1 `a` `[n, 4]` and `b` `[m, 4]`: `[n, m]` (0 for empty or NaN boxes)."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])  # [n, m, 2]
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=2)  # [n, m]
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)  # [n]
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)  # [m]
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / union
    return np.nan_to_num(iou, nan=0.0).astype(np.float64)


def mask_iou(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """IoU per frame of masks `[N, H, W]`: `[N]` float64, NaN where both are empty."""
    inter = (predicted & truth).sum(axis=(1, 2), dtype=np.int64)
    union = (predicted | truth).sum(axis=(1, 2), dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def save_truth(file: BinaryIO, truth: Truth) -> None:
    """Write the truth as an npz into a binary file (e.g. `io.write_atomic`'s): masks bit-packed
    along the width (`width` holds it), the sequences and subjects as (back, front)."""
    np.savez_compressed(file, front=np.packbits(truth.front, axis=-1), back=np.packbits(truth.back, axis=-1),
                        width=np.int64(truth.front.shape[2]), name=np.str_(truth.name),
                        sequences=np.array(truth.sequences), subjects=np.array(truth.subjects),
                        sources=truth.sources, roles=np.array(ROLES))


def load_truth(path: str | Path | BinaryIO) -> Truth:
    """Read what `save_truth` wrote (a file name or an open binary file)."""
    with os_errors(str(path)), np.load(path) as z:
        width = int(z["width"])
        return Truth(str(z["name"]), tuple(str(s) for s in z["sequences"]),  # type: ignore[arg-type]
                     tuple(str(s) for s in z["subjects"]),  # type: ignore[arg-type]
                     np.unpackbits(z["front"], axis=-1, count=width).astype(bool),
                     np.unpackbits(z["back"], axis=-1, count=width).astype(bool), z["sources"])


def write_video(path: str | Path, frames: np.ndarray, fps: int = FPS) -> None:
    """Encode uint8 RGB frames `[N, H, W, 3]` as MPEG-4 Part 2 ('mp4v'), as the CASIA-B videos are."""
    cv2 = require_cv2()
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise UserError(f"{path}: OpenCV cannot write an 'mp4v' video here (no encoder or no permission)")
    try:
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))  # BGR
    finally:
        writer.release()


# ---------------------------------------------------------------- scoring


@dataclass
class WalkerScore:
    """Per frame of a crossing, how one walker fared: `[N]` arrays."""

    hidden: np.ndarray  # float32, NaN where not in view
    inside: np.ndarray  # bool: in view and not cut by the image border
    track: np.ndarray  # int64 track id matched in the frame (0: none)
    iou: np.ndarray  # float64 mask IoU with the matched track's mask (NaN: unmatched, or nothing to see)

    @property
    def counted(self) -> np.ndarray:
        """Frames where the walker should be tracked: fully inside and at most `MAX_HIDDEN` hidden."""
        return self.inside & (np.nan_to_num(self.hidden, nan=1.0) <= MAX_HIDDEN)


def match_walkers(truth_boxes: np.ndarray, track_boxes: np.ndarray,
                  min_iou: float = MIN_BOX_IOU) -> np.ndarray:
    """Per frame, the track matched to each walker by box IoU (Hungarian; IoU >= `min_iou`).

    `truth_boxes` `[W, N, 4]`, `track_boxes` `[K, N, 4]` (NaN where absent) -> `[W, N]` int64 index
    into the tracks, -1 where unmatched.
    """
    from scipy.optimize import linear_sum_assignment

    walkers, frames = truth_boxes.shape[:2]
    out = np.full((walkers, frames), -1, np.int64)
    for t in range(frames):
        iou = box_iou(truth_boxes[:, t], track_boxes[:, t])  # [W, K]
        if iou.size == 0:
            continue
        rows, cols = linear_sum_assignment(-iou)
        good = iou[rows, cols] >= min_iou
        out[rows[good], t] = cols[good]
    return out


def score_walkers(truth: Truth, track_ids: list[int], masks: dict[int, np.ndarray],
                  boxes: dict[int, np.ndarray]) -> list[WalkerScore]:
    """Match the tracks to the two walkers frame by frame and measure each walker's mask IoU.

    `masks[id]` `[N, H, W]` bool visible masks and `boxes[id]` `[N, 4]` float32 (NaN where absent)
    of the tracks `track_ids`, for the crossing's N frames.
    """
    frames = len(truth.front)
    track_boxes = (np.stack([boxes[k] for k in track_ids]) if track_ids
                   else np.zeros((0, frames, 4), np.float32))  # [K, N, 4]
    truth_boxes = np.stack([mask_boxes(truth.full(r)) for r in range(len(ROLES))])  # [2, N, 4]
    matched = match_walkers(truth_boxes, track_boxes)  # [2, N]
    scores = []
    for role in range(len(ROLES)):
        full = truth.full(role)
        predicted = np.zeros_like(full)  # [N, H, W], the matched track's mask
        for index, track in enumerate(track_ids):
            at = matched[role] == index
            predicted[at] = masks[track][at]
        iou = np.where(matched[role] >= 0, mask_iou(predicted, truth.visible(role)), np.nan)
        ids = np.where(matched[role] >= 0, np.asarray(track_ids + [0], np.int64)[matched[role]], 0)
        inside = full.any(axis=(1, 2)) & ~touches_border(full)
        scores.append(WalkerScore(truth.hidden(role), inside, ids, iou))
    return scores


def mot_accumulator(truth: Truth, scores: list[WalkerScore], boxes: dict[int, np.ndarray]) -> Any:
    """A `motmetrics.MOTAccumulator` over the crossing: per frame, the counted walkers against the
    tracks present, minus the tracks matched to a walker that is ignored there (cut by the border
    or hidden beyond `MAX_HIDDEN`). Distance is 1 - box IoU, no pair beyond 1 - `MIN_BOX_IOU`."""
    import motmetrics as mm

    accumulator = mm.MOTAccumulator(auto_id=False)
    truth_boxes = [mask_boxes(truth.full(r)) for r in range(len(ROLES))]  # [N, 4] each
    ids = np.array(sorted(boxes), np.int64)
    for t in range(len(truth.front)):
        walkers = [r for r, s in enumerate(scores) if s.counted[t]]
        ignored = {int(s.track[t]) for s in scores if not s.counted[t] and s.track[t] > 0}
        tracks = [int(k) for k in ids if np.isfinite(boxes[int(k)][t]).all() and int(k) not in ignored]
        objects = np.array([truth_boxes[r][t] for r in walkers]).reshape(-1, 4)
        hypotheses = np.array([boxes[k][t] for k in tracks]).reshape(-1, 4)
        distance = 1.0 - box_iou(objects, hypotheses)  # [objects, hypotheses]
        distance[distance > 1.0 - MIN_BOX_IOU] = np.nan
        accumulator.update(walkers, tracks, distance, frameid=t)
    return accumulator


def iou_summary(scores: list[WalkerScore]) -> dict[str, Any]:
    """One walker's figures (scores of one or several crossings, concatenated): mask IoU per hidden
    bin over the frames fully inside the image, frames lost, and the mean IoU of the counted frames."""
    hidden = np.concatenate([s.hidden for s in scores])
    inside = np.concatenate([s.inside for s in scores])
    iou = np.concatenate([s.iou for s in scores])
    counted = np.concatenate([s.counted for s in scores])
    matched = np.concatenate([s.track for s in scores]) > 0
    measured = matched & ~np.isnan(iou)  # IoU is undefined where nothing is seen nor predicted
    bins = {}
    for label, low, high in HIDDEN_BINS:
        at = inside & (hidden > low) & (hidden <= high)
        bins[label] = {"frames": int(at.sum()), "matched": int((at & matched).sum()),
                       "mean_iou": _mean(iou[at & measured])}
    return {"frames_inside": int(inside.sum()), "frames_counted": int(counted.sum()),
            "lost": int((counted & ~matched).sum()), "iou_by_hidden": bins,
            "mean_iou_counted": _mean(iou[counted & measured])}


def _mean(values: np.ndarray) -> float | None:
    """Mean rounded to 4 places, None when there is nothing to average (JSON-ready)."""
    return round(float(np.mean(values)), 4) if values.size else None


def apart(truth: Truth, margin: int = 8) -> np.ndarray:
    """Frames where the two walkers' whole-body boxes, grown by `margin` pixels, do not meet (or
    one of them is not in view): `[N]` bool."""
    back, front = mask_boxes(truth.back), mask_boxes(truth.front)  # [N, 4] each
    low = np.maximum(back[:, :2], front[:, :2]) - margin  # [N, 2]
    high = np.minimum(back[:, 2:], front[:, 2:]) + margin
    return ~np.all(high > low, axis=1)  # NaN compares False: a walker out of view meets nobody


def foreground_reference(path: str | Path, truth: Truth, foreground: ForegroundSettings | None = None,
                         margin: int = 8, batch: int = 64) -> list[np.ndarray]:
    """What the plain background subtraction of `extract` (the video's median as background, the
    same foreground settings) finds of each walker where the two are apart: per walker `[N]`
    float64 mask IoU of the foreground inside its box (grown by `margin`) with its true mask,
    NaN in the frames not measured (the walker cut by the border, or near the other).

    A reference for the extractor's mask IoU: the front walker's pixels lie on another part of
    the hall (mirrored, another recording) than the one they were segmented against, so some of
    them now match the scene behind, and no background subtraction recovers them.
    """
    reader = FrameReader(path)
    background = median_background(reader, batch=batch)  # [H, W, 3]
    settings = foreground or ForegroundSettings()
    found = np.concatenate([foreground_masks(f, background, settings).astype(bool)
                            for f in reader.batches(batch)])  # [N, H, W]
    if len(found) != len(truth.front):
        raise UserError(f"{reader.path}: {len(found)} frames decoded, the truth has {len(truth.front)}")
    height, width = found.shape[1:]
    rows, cols = np.arange(height), np.arange(width)
    separate = apart(truth, margin)  # [N]
    out = []
    for role in range(len(ROLES)):
        full = truth.full(role)
        box = np.nan_to_num(mask_boxes(full), nan=0.0)  # [N, 4]; frames without the walker are not measured
        in_rows = (rows[None, :] >= box[:, 1:2] - margin) & (rows[None, :] < box[:, 3:4] + margin)  # [N, H]
        in_cols = (cols[None, :] >= box[:, 0:1] - margin) & (cols[None, :] < box[:, 2:3] + margin)  # [N, W]
        region = in_rows[:, :, None] & in_cols[:, None, :]  # [N, H, W]
        measured = separate & full.any(axis=(1, 2)) & ~touches_border(full)
        iou = mask_iou(found & region, truth.visible(role))
        out.append(np.where(measured, iou, np.nan))
    return out


def track_subjects(scores: list[WalkerScore], subjects: tuple[str, str]) -> dict[int, str]:
    """Each track's true subject: the walker it was matched to in most frames (tracks never matched
    are left out)."""
    counts: dict[int, np.ndarray] = {}
    for role, score in enumerate(scores):
        ids, n = np.unique(score.track[score.track > 0], return_counts=True)
        for k, c in zip(ids.tolist(), n.tolist(), strict=True):
            counts.setdefault(k, np.zeros(len(scores), np.int64))[role] = c
    return {k: subjects[int(np.argmax(c))] for k, c in counts.items()}
