"""Every person in a fixed camera's video, tracked through crossings: one sequence per track.

Per frame, the foreground (background model or a segmenter, as in `video.extract`) is cut into
one detection per person (`video.blobs`). Each track carries a constant-velocity Kalman filter on
its box (filterpy's `KalmanFilter`: the textbook filter, so the motion model is not ours to get
wrong) and an appearance model (`video.appearance`). Detections are matched to the predicted boxes
by the Hungarian method on box IoU (`scipy.optimize.linear_sum_assignment`). A detection that also
covers the prediction of an unmatched track is two people overlapping: its pixels are split
between them by shape, colour, depth and motion, the person behind keeps only what is visible of
them, and their hidden fraction is one minus what is visible over what they usually cover. The
box of a person hidden beyond `reliable_hidden`, or whose visible part does not fit the predicted
box (`consistent_iou`: it took some of the other person), does not update their motion, so they
coast through the crossing on their velocity and come out of it with their own identity. A track
unseen for more than `max_gap` frames ends; a new one needs `confirm` matched frames in a row
before it counts.

Per track and frame the status is `kept`, or dropped as `missing` (not seen), `hidden` (more than
`drop_hidden` of them hidden, as `mimicgait.data.occlusion` drops such frames), `edge` (cut by
the frame border), `small`, or `merged`: split from a blob shared with someone else. Such a frame's
mask and hidden share are recorded (the masks file, the annotated video), but it leaves the
sequence unless `keep_merged`: where two people touch, the split misplaces pixels at their
boundary, and on crossings of real walkers those frames misled the recogniser more than their
absence did (docs/video.md). A kept frame's visible mask goes through the data layer's own
pretreatment, as a detector and segmenter would hand a partly hidden person to the recogniser.
Why this and not supervision's ByteTrack or norfair: both take boxes and would lose the person
behind for the whole crossing; the split needs the predicted boxes before matching, which a
tracker of our own over filterpy's filter gives in a few lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mimicgait.data.pretreat import pretreat_frame
from mimicgait.data.records import to_binary
from mimicgait.errors import UserError
from mimicgait.video.appearance import Appearance, colour_bins, split_blob
from mimicgait.video.background import AUTO, load_background
from mimicgait.video.blobs import Detections, box_iou, find_people, overlap_area
from mimicgait.video.decode import FrameReader, require_cv2
from mimicgait.video.extract import MIN_FRAMES, Extraction, NoPersonError, Quality, _judge, _no_person_hint
from mimicgait.video.foreground import ForegroundSettings, solid_mask
from mimicgait.video.naming import SequenceId, parse_sequence_name
from mimicgait.video.segmenter import Segmenter, frame_masks, load_segmenter
from mimicgait.video.track import EDGE, KEPT, MISSING, SMALL, TrackSettings

HIDDEN = "hidden"
MERGED = "merged"
KALMAN_R_X = 9.0
KALMAN_Q_V = 0.05
PEOPLE_DROP_REASONS = (MISSING, HIDDEN, MERGED, EDGE, SMALL)


@dataclass(frozen=True)
class PeopleSettings:
    """Rules of the multi-person tracker (fractions of the frame size where not said)."""

    track: TrackSettings = TrackSettings()  # detections: smallest component, split-off parts, edge, height
    min_iou: float = 0.1  # predicted box vs detection box for a match
    merge_overlap: float = 0.3  # share of an unmatched track's predicted box inside a detection: merged
    confirm: int = 3  # matched frames in a row before a new track counts
    max_gap: int = 25  # frames a track survives unseen (a second at 25 frames/s)
    drop_hidden: float = 0.8  # a frame with more of the person hidden is dropped
    reliable_hidden: float = 0.25  # a person hidden less than this still updates their motion ...
    consistent_iou: float = 0.7  # ... if their visible box fits the predicted one this well
    front_prior: float = 1.0  # how much more likely the nearer person is seen where both could be
    motion_floor: float = 0.2  # weight of where a person's moved last mask is not, against 1 + it where it is
    depth_gap: float = 0.02  # feet lower by this share of the frame height: nearer the camera
    solid: int = 5  # closing kernel (pixels) of each person's mask before its holes are filled; 0: none
    keep_merged: bool = False  # frames where a person shared a blob with another stay in their sequence


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


def _centroid_x(mask: np.ndarray, box: np.ndarray) -> float:
    """The centroid column of the bool mask `[H, W]` inside `box` `[4]` (its middle when empty)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    columns = mask[y0:y1, x0:x1].sum(axis=0)  # [w]
    if not columns.any():
        return (x0 + x1) / 2
    return float(x0 + (columns * np.arange(len(columns))).sum() / columns.sum() + 0.5)


def _centre_size(box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = (float(v) for v in box)
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0])


def _mask_box(mask: np.ndarray) -> np.ndarray | None:
    """x0, y0, x1, y1 (exclusive) of a bool mask `[h, w]`, or None when empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float32)


class PeopleTracker:
    """Stateful over a video: `update(mask, frame, index)` per frame, `finished()` at the end."""

    def __init__(self, height: int, width: int, settings: PeopleSettings = PeopleSettings(),
                 size: tuple[int, int] = (64, 64)) -> None:
        self.height, self.width = height, width
        self.settings = settings
        self.size = size
        self.live: list[Track] = []
        self.ended: list[Track] = []
        self.next_id = 1

    def update(self, mask: np.ndarray, frame: np.ndarray, index: int) -> list[TrackFrame]:
        """Track the people of one cleaned mask uint8 0/1 `[H, W]` of RGB `frame` `[H, W, 3]`; returns
        this frame's record of every confirmed track still live."""
        from scipy.optimize import linear_sum_assignment

        s = self.settings
        detections = find_people(mask, s.track)
        bins = colour_bins(frame)  # [H, W]
        predicted = np.array([t.predict() for t in self.live], np.float32).reshape(-1, 4)  # [N, 4]
        groups: dict[int, list[int]] = {}  # detection -> tracks sharing it
        if len(self.live) and len(detections):
            iou = box_iou(predicted, detections.boxes)  # [N, D]
            rows, cols = linear_sum_assignment(-iou)
            for t, d in zip(rows, cols, strict=True):
                if iou[t, d] >= s.min_iou:
                    groups[int(d)] = [int(t)]
            matched = {t for ts in groups.values() for t in ts}
            area = np.maximum((predicted[:, 2] - predicted[:, 0]) * (predicted[:, 3] - predicted[:, 1]), 1.0)
            inside = overlap_area(predicted, detections.boxes) / area[:, None]  # [N, D]
            for t in range(len(self.live)):
                if t in matched or self.live[t].id == 0:
                    continue
                d = int(np.argmax(inside[t]))
                if inside[t, d] >= s.merge_overlap:
                    groups.setdefault(d, []).append(t)
        seen: set[int] = set()
        absorbed: set[int] = set()
        for d, members in groups.items():
            if len(members) == 1:
                blob = detections.index == d  # [H, W]
                self._alone(self.live[members[0]], blob, detections.boxes[d], bins, index)
            else:
                region, pieces = self._group_region(detections, d, predicted[members], groups)
                blob = np.isin(detections.index, [d, *pieces])  # [H, W]
                absorbed.update(pieces)
                self._shared([self.live[t] for t in members], predicted[members], blob, region, bins, index)
            seen.update(members)
        for t, track in enumerate(self.live):
            if t not in seen:
                track.missed += 1
                track.hits = 0
                track.records.append(TrackFrame(index, track.id, MISSING, track.box, float("nan")))
        for d in range(len(detections)):
            if d not in groups and d not in absorbed:
                track = Track(detections.boxes[d])
                self._alone(track, detections.index == d, detections.boxes[d], bins, index, learn_only=True)
                self.live.append(track)
        self._retire()
        return [t.records[-1] for t in self.live if t.id and t.records[-1].frame == index]

    def _group_region(self, detections: Detections, d: int, predicted: np.ndarray,
                      groups: dict[int, list[int]]) -> tuple[np.ndarray, list[int]]:
        """The box around detection `d` and the predicted boxes `[k, 4]` of the people sharing it, and
        the unmatched detections lying mostly inside it (pieces of those people that the mask split
        off, a light shirt against a light wall): they are split with the rest."""
        boxes = np.concatenate([detections.boxes[d : d + 1], predicted])
        region = np.array([boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()])
        region = np.clip(np.round(region), 0, [self.width, self.height, self.width, self.height])
        free = [e for e in range(len(detections)) if e not in groups]
        if not free:
            return region.astype(np.int64), []
        inside = overlap_area(detections.boxes[free], region[None].astype(np.float32))[:, 0]
        own = (detections.boxes[free, 2] - detections.boxes[free, 0]) * (
            detections.boxes[free, 3] - detections.boxes[free, 1])
        return region.astype(np.int64), [e for e, a, o in zip(free, inside, own, strict=True) if a >= 0.5 * o]

    def _alone(self, track: Track, blob: np.ndarray, box: np.ndarray, bins: np.ndarray, index: int,
               learn_only: bool = False) -> None:
        """A detection matched by one track: all its pixels are that person."""
        if not learn_only:
            track.correct(box, _centroid_x(blob, box))
            track.hits += 1
            track.missed = 0
        cut = self._touches_edge(box)
        if not cut:
            track.appearance.learn(bins, blob, box)
        self._record(track, index, box, blob, 0.0)

    def _shared(self, tracks: list[Track], predicted: np.ndarray, blob: np.ndarray, region: np.ndarray,
                bins: np.ndarray, index: int) -> None:
        """A detection covering several tracks' predictions: split it, the person behind coasts."""
        s = self.settings
        bottoms = predicted[:, 3]
        order = np.argsort(-bottoms)
        front = int(order[0]) if bottoms[order[0]] - bottoms[order[1]] >= s.depth_gap * self.height else None
        motion = [self._moved(t, box, region) for t, box in zip(tracks, predicted, strict=True)]
        owner = split_blob(bins, blob, region.astype(np.int64), [t.appearance for t in tracks], predicted,
                           front, s.front_prior, motion, s.motion_floor)  # [h, w] over region
        x0, y0, x1, y1 = (int(v) for v in region)
        for i, track in enumerate(tracks):
            part = np.zeros_like(blob)
            part[y0:y1, x0:x1] = owner == i
            area = int(np.count_nonzero(owner == i))
            full = predicted[i]
            expected = track.appearance.fill * (full[2] - full[0]) * (full[3] - full[1])
            hidden = float(np.clip(1.0 - area / expected, 0.0, 1.0)) if expected > 0 else 0.0
            visible_box = _mask_box(owner == i)
            if visible_box is not None and hidden < s.reliable_hidden:
                visible_box = visible_box + np.array([x0, y0, x0, y0], np.float32)
                if box_iou(visible_box[None], full[None])[0, 0] >= s.consistent_iou:
                    track.correct(visible_box, _centroid_x(part, visible_box))
            track.hits += 1
            track.missed = 0
            self._record(track, index, track.box, part, hidden, merged=True)

    def _moved(self, track: Track, box: np.ndarray, region: np.ndarray) -> np.ndarray | None:
        """The track's last visible mask moved by its motion since (centre of `box` now against the
        box then), blurred, over `region` `[4]`: `[h, w]` float32 in 0..1, or None if never seen."""
        last = track.last_seen
        if last is None:
            return None
        cv2 = require_cv2()
        x0, y0, x1, y1 = (int(v) for v in region)
        dx, dy = np.round((box[:2] + box[2:]) / 2 - (last.box[:2] + last.box[2:]) / 2).astype(int)
        moved = np.zeros((y1 - y0, x1 - x0), np.float32)
        cx0, cy0, cx1, cy1 = (int(v) for v in last.crop)
        # where the shifted crop lands inside the region, and the part of the crop that lands there
        ax0, ay0 = max(cx0 + dx, x0), max(cy0 + dy, y0)
        ax1, ay1 = min(cx1 + dx, x1), min(cy1 + dy, y1)
        if ax1 <= ax0 or ay1 <= ay0:
            return moved
        moved[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0] = last.visible[
            ay0 - cy0 - dy : ay1 - cy0 - dy, ax0 - cx0 - dx : ax1 - cx0 - dx]
        return cv2.GaussianBlur(moved, (7, 7), 0)

    def _record(self, track: Track, index: int, box: np.ndarray, mask: np.ndarray, hidden: float,
                merged: bool = False) -> None:
        """Judge and keep what was seen of `track` in frame `index` (`mask` `[H, W]` bool, visible;
        `merged`: split from a blob shared with someone else)."""
        s = self.settings
        seen_box = _mask_box(mask)
        if track.id == 0 and track.hits >= s.confirm:
            track.id = self.next_id
            self.next_id += 1
            for old in track.records:
                old.track = track.id
        if seen_box is None:
            track.records.append(TrackFrame(index, track.id, HIDDEN, track.box, 1.0))
            return
        cx0, cy0, cx1, cy1 = (int(v) for v in seen_box)
        crop = np.array([cx0, cy0, cx1, cy1], np.int64)
        visible = solid_mask(mask[cy0:cy1, cx0:cx1], s.solid)  # [h, w] bool
        record = TrackFrame(index, track.id, KEPT, np.asarray(box, np.float32), hidden, crop, visible)
        track.last_seen = record
        if hidden > s.drop_hidden:
            record.status = HIDDEN
        elif self._touches_edge(seen_box):
            record.status = EDGE
        elif (box[3] - box[1]) < s.track.min_height * self.height:
            record.status = SMALL
        elif merged and not s.keep_merged:
            record.status = MERGED
        else:
            record.silhouette = pretreat_frame(visible.view(np.uint8) * np.uint8(255), *self.size)
            if record.silhouette is None:
                record.status = SMALL
        track.records.append(record)

    def _touches_edge(self, box: np.ndarray) -> bool:
        e = self.settings.track.edge
        return bool(box[0] < e or box[1] < e or box[2] > self.width - e or box[3] > self.height - e)

    def _retire(self) -> None:
        """End tracks unseen too long (or tentative ones unseen once), or gone out of the frame."""
        keep = []
        for track in self.live:
            x0, y0, x1, y1 = track.box
            gone = x1 <= 0 or y1 <= 0 or x0 >= self.width or y0 >= self.height
            if track.missed and (track.id == 0 or track.missed > self.settings.max_gap or gone):
                if track.id:
                    self.ended.append(track)
            else:
                keep.append(track)
        self.live = keep

    def finished(self) -> list[Track]:
        """Every confirmed track, in order of id (call once the video is over)."""
        return sorted(self.ended + [t for t in self.live if t.id], key=lambda t: t.id)


@dataclass
class TrackExtraction(Extraction):
    """One track's silhouettes (an `Extraction`) with its id and how hidden each kept frame was."""

    track: int = 0
    hidden: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # [T] of kept frames


@dataclass
class VideoPeople:
    """Everyone tracked in one video: the kept tracks and their per-frame masks, boxes, hidden share."""

    source: Path
    total: int  # frames decoded
    height: int
    width: int
    tracks: list[TrackExtraction]
    masks: TrackMasks  # track -> [total, H, W] bool visible mask, all False where absent (built on access)
    boxes: dict[int, np.ndarray]  # track -> [total, 4] float32, NaN where absent
    hidden: dict[int, np.ndarray]  # track -> [total] float32, NaN where absent
    ignored: int = 0  # confirmed tracks left out (too few kept frames, or beyond `people`)


class TrackMasks(Mapping[int, np.ndarray]):
    """Full-frame visible masks by track, each built when asked for (a long video's masks of every
    track at once would not fit in memory): `masks[k]` is `[total, H, W]` bool."""

    def __init__(self, records: dict[int, list[TrackFrame]], total: int, height: int, width: int) -> None:
        self.records, self.shape = records, (total, height, width)

    def __getitem__(self, track: int) -> np.ndarray:
        masks = np.zeros(self.shape, bool)
        for r in self.records[track]:
            if r.visible is not None:
                x0, y0, x1, y1 = r.crop
                masks[r.frame, y0:y1, x0:x1] = r.visible
        return masks

    def __iter__(self) -> Iterator[int]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


class PeopleStream:
    """Masks and tracks of frames as they come: `push(frames)` a batch, per frame the tracks in it.

    The foreground comes from `background` `[H, W, 3]` or `segmenter` (one of them); used by
    `extract_people` on a whole video and by `mimicgait watch` live.
    """

    def __init__(self, height: int, width: int, background: np.ndarray | None, segmenter: Segmenter | None,
                 foreground: ForegroundSettings | None = None, settings: PeopleSettings | None = None,
                 size: tuple[int, int] = (64, 64)) -> None:
        if background is None and segmenter is None:
            raise UserError("give a background (a clip of the empty scene, or 'auto') or a segmenter")
        self.background, self.segmenter = background, segmenter
        self.foreground = foreground or ForegroundSettings()
        self.tracker = PeopleTracker(height, width, settings or PeopleSettings(), size)
        self.index = 0

    def push(self, frames: np.ndarray) -> list[list[TrackFrame]]:
        """Track a batch of uint8 RGB frames `[B, H, W, 3]`; per frame, its confirmed tracks."""
        masks = frame_masks(frames, self.background, self.segmenter, self.foreground)  # [B, H, W]
        out = []
        for frame, mask in zip(frames, masks, strict=True):
            out.append(self.tracker.update(mask, frame, self.index))
            self.index += 1
        return out


def extract_people(
    source: str | Path,
    background: str | Path | np.ndarray | None = AUTO,
    segmenter: Segmenter | str | None = None,
    *,
    size: tuple[int, int] = (64, 64),
    foreground: ForegroundSettings | None = None,
    settings: PeopleSettings | None = None,
    people: int | None = None,
    sequence: SequenceId | None = None,
    batch: int = 64,
    on_frames: Callable[[np.ndarray, list[list[TrackFrame]]], None] | None = None,
) -> VideoPeople:
    """Every person walking in a video file or folder of frames, one `TrackExtraction` per track.

    Tracks with fewer than `MIN_FRAMES` kept frames are left out (a passing shadow, a bag put
    down), unless no track has more; `people` keeps the N tracks with the most kept frames. With
    one track left it is named as the video (`sequence`, else parsed from the file name, else the
    file name as subject, condition `vid-01`, view `000`); with several, track k of video V is
    subject `V-t<k>`. `on_frames(frames, records)` (optional) sees
    every batch with its per-frame track records (the annotated video). Raises `NoPersonError`
    when nobody is kept in any frame.
    """
    reader = FrameReader(source)
    segment = load_segmenter(segmenter) if isinstance(segmenter, str) else segmenter
    scene = None if segment is not None else load_background(background, reader, batch)
    stream = PeopleStream(reader.height, reader.width, scene, segment, foreground, settings, size)
    for frames in reader.batches(batch):  # [B, H, W, 3]
        records = stream.push(frames)
        if on_frames is not None:
            on_frames(frames, records)
    total = stream.index
    tracks = stream.tracker.finished()
    kept = [sum(r.status == KEPT for r in t.records) for t in tracks]
    best = max(kept, default=0)
    if best == 0:
        raise NoPersonError(f"{reader.path}: no usable person in any of its {total} frames; nothing written. "
                            f"{_no_person_hint(segment is not None, foreground or ForegroundSettings())}")
    chosen = [t for t, k in zip(tracks, kept, strict=True) if k >= min(MIN_FRAMES, best)]
    if people is not None:
        chosen = sorted(sorted(chosen, key=lambda t: -sum(r.status == KEPT for r in t.records))[:people],
                        key=lambda t: t.id)
    named = sequence or parse_sequence_name(reader.path)
    stem = reader.path.stem if reader.path.is_file() else reader.path.name
    records = {position: track.records for position, track in enumerate(chosen, start=1)}
    result = VideoPeople(reader.path, total, reader.height, reader.width, [],
                         TrackMasks(records, total, reader.height, reader.width), {}, {},
                         ignored=len(tracks) - len(chosen))
    for position, track in enumerate(chosen, start=1):
        ident = _track_id(named, stem, position, len(chosen))
        result.tracks.append(_sequence(track, position, ident, reader, total))
        result.boxes[position], result.hidden[position] = _per_frame(track, total)
    return result


def _track_id(named: SequenceId | None, stem: str, position: int, count: int) -> SequenceId | None:
    """The sequence id of track `position` of `count`: the video's own when alone, else `<video>-t<k>`."""
    if count == 1:
        return named or SequenceId(stem, "vid-01", "000")
    base = named.name if named is not None else stem
    return SequenceId(f"{base}-t{position}", named.condition if named else "vid-01",
                      named.view if named else "000")


def _sequence(track: Track, position: int, ident: SequenceId | None, reader: FrameReader,
              total: int) -> TrackExtraction:
    """The kept frames of a track as a `TrackExtraction`, numbered `position` in its video."""
    kept = [r for r in track.records if r.status == KEPT]
    dropped = dict.fromkeys(PEOPLE_DROP_REASONS, 0)
    for r in track.records:
        if r.status != KEPT:
            dropped[r.status] += 1
    dropped[MISSING] += total - len(track.records)  # frames before the track began or after it ended
    heights = [float(r.box[3] - r.box[1]) for r in kept]
    mean_height = float(np.mean(heights)) if heights else 0.0
    quality = Quality(total, len(kept), dropped, mean_height, reader.announced)
    _judge(quality)
    frames = to_binary(np.stack([r.silhouette for r in kept]), f"{reader.path} track {position}")
    return TrackExtraction(frames, np.array([r.frame for r in kept], np.int64), ident, quality, reader.path,
                           track=position, hidden=np.array([r.hidden for r in kept], np.float32))


def _per_frame(track: Track, total: int) -> tuple[np.ndarray, np.ndarray]:
    """A track's boxes `[total, 4]` and hidden shares `[total]` per video frame, NaN where absent."""
    boxes = np.full((total, 4), np.nan, np.float32)
    hidden = np.full(total, np.nan, np.float32)
    for r in track.records:
        if r.status != MISSING:
            boxes[r.frame], hidden[r.frame] = r.box, r.hidden
    return boxes, hidden
