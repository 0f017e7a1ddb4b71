"""Who is in view, as frames come: the tracks of `video.people` identified against a gallery.

`Watcher.observe(records)` takes each frame's track records (`PeopleStream.push`) and keeps, per
track, its kept silhouettes. A track is identified once it has `min_frames` of them, then again
every `every` new ones, on a sliding window of its last `window` silhouettes (0: all of them), and
once more when it ends (or the video does) on that window. An `Answer` is returned whenever a
track's decision is new or changes. With a window at least as long as a track, the last answer
embeds exactly the frames `identify --video` embeds, so both name the same identity.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from mimicgait.video.people import KEPT, TrackFrame


@dataclass
class Answer:
    """A track's identity as of frame `frame`: the decision (`unknown` above the threshold) and the
    ranked identities `[(name, distance)]`, from `frames` silhouettes `hidden` hidden on average."""

    frame: int
    track: int
    decision: str
    matches: list[tuple[str, float]]
    frames: int
    hidden: float
    kind: str = "new"  # new (first answer), changed, or final (the track or the video ended)


@dataclass
class _Seen:
    silhouettes: deque
    hidden: deque
    since: int = 0  # kept frames since the last identification
    decision: str | None = None
    answer: Answer | None = None  # the last identification
    last_frame: int = -1


class Watcher:
    """Identify tracks as their silhouettes arrive (see the module docstring).

    `recognizer` a `mimicgait.deploy.Recognizer`; `names` the gallery's identity names, `identity`
    `[n]` each gallery sequence's index into them and `embeddings` `[n, C, P]` (`Gallery.load`).
    """

    def __init__(self, recognizer, names: list[str], identity: np.ndarray, embeddings, *,
                 threshold: float | None = None, top_k: int = 3, min_frames: int = 20, every: int = 15,
                 window: int = 0) -> None:
        from mimicgait.deploy.search import ExactIndex

        self.recognizer = recognizer
        self.names = names
        self.index = ExactIndex(None, identity, recognizer.metric, part_major=embeddings)
        self.threshold = threshold
        self.top_k = top_k
        self.min_frames = max(1, min_frames)
        self.every = max(1, every)
        self.window = window
        self.tracks: dict[int, _Seen] = {}

    def observe(self, records: list[TrackFrame]) -> list[Answer]:
        """One frame's track records; returns the answers that are new or changed."""
        answers = []
        for record in records:
            seen = self.tracks.get(record.track)
            if seen is None:
                size = self.window or None
                seen = self.tracks[record.track] = _Seen(deque(maxlen=size), deque(maxlen=size))
            seen.last_frame = record.frame
            if record.status != KEPT or record.silhouette is None:
                continue
            seen.silhouettes.append(record.silhouette)
            seen.hidden.append(record.hidden)
            seen.since += 1
            due = seen.decision is None and len(seen.silhouettes) >= self.min_frames
            if due or (seen.decision is not None and seen.since >= self.every):
                answers.extend(self._identify(record.track, seen, record.frame))
        return answers

    def finish(self, live: set[int] | None = None) -> list[Answer]:
        """The last word on every track except those in `live` (still in view): at a track's end, or
        with `live` None at the end of the video. A track with frames not yet used is identified
        once more; one whose last identification used them all repeats it as final."""
        answers = []
        for track, seen in self.tracks.items():
            if (live is not None and track in live) or not seen.silhouettes:
                continue
            if seen.since:
                answers.extend(self._identify(track, seen, seen.last_frame, final=True))
            elif seen.answer is not None and seen.answer.kind != "final":
                seen.answer = replace(seen.answer, frame=seen.last_frame, kind="final")
                answers.append(seen.answer)
        return answers

    def _identify(self, track: int, seen: _Seen, frame: int, final: bool = False) -> list[Answer]:
        """Embed the window and rank the gallery; an answer only when the decision is new or changed
        (or, `final`, when it is the track's last word and it has frames unused so far)."""
        from mimicgait.data.records import to_binary

        frames = to_binary(np.stack(seen.silhouettes), f"track {track}")  # [T, H, W] {0, 1}
        feats = self.recognizer.embed([frames])  # [1, C, P]
        found = self.index.search(feats, self.top_k)
        ranked = [(self.names[j], float(d)) for j, d in zip(found.identity[0], found.distance[0], strict=True)
                  if j >= 0]
        best = ranked[0][1] if ranked else math.inf
        decision = ranked[0][0] if ranked and (self.threshold is None or best < self.threshold) else "unknown"
        seen.since = 0
        kind = "final" if final else ("new" if seen.decision is None else "changed")
        answer = Answer(frame, track, decision, ranked, len(frames), float(np.mean(seen.hidden)), kind)
        changed = decision != seen.decision
        seen.decision, seen.answer = decision, answer
        return [answer] if changed or final else []
