"""Every person in a fixed camera's video, tracked through crossings (`PeopleTracker`).

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

from dataclasses import dataclass

import numpy as np

from mimicgait.data.pretreat import pretreat_frame
from mimicgait.video.appearance import colour_bins, split_blob
from mimicgait.video.blobs import Detections, box_iou, find_people, overlap_area
from mimicgait.video.decode import require_cv2
from mimicgait.video.foreground import solid_mask
from mimicgait.video.person_track import Track, TrackFrame, centroid_x, mask_box
from mimicgait.video.track import EDGE, KEPT, MISSING, SMALL, TrackSettings

HIDDEN = "hidden"
MERGED = "merged"
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
            track.correct(box, centroid_x(blob, box))
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
            visible_box = mask_box(owner == i)
            if visible_box is not None and hidden < s.reliable_hidden:
                visible_box = visible_box + np.array([x0, y0, x0, y0], np.float32)
                if box_iou(visible_box[None], full[None])[0, 0] >= s.consistent_iou:
                    track.correct(visible_box, centroid_x(part, visible_box))
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
        seen_box = mask_box(mask)
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

