"""Every person in a video, one sequence per track: `extract_people` on a file or folder of frames,
`PeopleStream` on frames as they come (`mimicgait watch`). The tracking itself (detections, the
Kalman filters, splitting merged blobs, each frame's status) is `video.people_tracker`; its public
names are re-exported here."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mimicgait.data.records import to_binary
from mimicgait.errors import UserError
from mimicgait.video.background import AUTO, load_background
from mimicgait.video.decode import FrameReader
from mimicgait.video.extract import MIN_FRAMES, Extraction, NoPersonError, Quality, _judge, _no_person_hint
from mimicgait.video.foreground import ForegroundSettings
from mimicgait.video.naming import SequenceId, parse_sequence_name
from mimicgait.video.people_tracker import (
    HIDDEN,
    MERGED,
    PEOPLE_DROP_REASONS,
    PeopleSettings,
    PeopleTracker,
)
from mimicgait.video.person_track import Track, TrackFrame
from mimicgait.video.segmenter import Segmenter, frame_masks, load_segmenter
from mimicgait.video.track import KEPT, MISSING

__all__ = ["HIDDEN", "KEPT", "MERGED", "PEOPLE_DROP_REASONS", "PeopleSettings", "PeopleStream",
           "PeopleTracker", "TrackExtraction", "TrackFrame", "TrackMasks", "VideoPeople", "extract_people"]


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
