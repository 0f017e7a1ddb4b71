"""One video (or frame folder) to one pretreated silhouette sequence, with its quality report.

The steps, each in its own module: decode (stream batches), background (per-pixel model),
foreground (colour distance, shadows, clean-up) or a user's segmenter, track (the person, and
which frames to drop), then the data layer's own pretreatment (`mimicgait.data.pretreat`: crop,
scale to height 64, centre, cut to width 64), binarised as the data layer's sequences are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mimicgait.data.pretreat import pretreat_frame
from mimicgait.data.records import SequenceRecord, to_binary
from mimicgait.errors import UserError
from mimicgait.video.background import AUTO, load_background
from mimicgait.video.decode import FrameReader
from mimicgait.video.foreground import ForegroundSettings
from mimicgait.video.naming import SequenceId, parse_sequence_name
from mimicgait.video.segmenter import Segmenter, frame_masks, load_segmenter
from mimicgait.video.track import DROP_REASONS, KEPT, PersonTracker, TrackSettings

#: Fewer kept frames than this is too short a sequence to recognise a gait from.
MIN_FRAMES = 10
#: A person shorter than this (pixels, in the video) gives blurred 64-pixel silhouettes.
MIN_HEIGHT = 64


class NoPersonError(UserError):
    """The video shows nobody usable: every frame was dropped."""


@dataclass
class Quality:
    """What happened to a sequence's frames, and whether the result looks usable."""

    total: int  # frames decoded
    kept: int
    dropped: dict[str, int]  # reason (missing, edge, small) -> frames
    mean_height: float  # person height in video pixels over the kept frames (0 when none)
    announced: int | None = None  # frames the container claims; more than `total` means damage
    warnings: list[str] = field(default_factory=list)

    def line(self, name: str) -> str:
        """One line for the log: `NAME: kept K of T frames (dropped: ...), person height H px`."""
        dropped = ", ".join(f"{n} {reason}" for reason, n in self.dropped.items())
        text = f"{name}: kept {self.kept} of {self.total} frames (dropped: {dropped})"
        if self.kept:
            text += f", person height {self.mean_height:.0f} px"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"total": self.total, "kept": self.kept, "dropped": dict(self.dropped),
                "mean_height": round(self.mean_height, 1), "announced": self.announced,
                "warnings": list(self.warnings)}


@dataclass
class Extraction:
    """The silhouettes of one sequence and how they were obtained."""

    frames: np.ndarray  # [T, H, W] uint8 in {0, 1}, as the data layer's SequenceRecord frames
    frame_index: np.ndarray  # [T] int64: the video frame each silhouette came from
    sequence: SequenceId | None  # from the file name or given; None when unknown
    quality: Quality
    source: Path
    preview: list[np.ndarray] | None = None  # [H', W', 3] uint8 panels, when asked for

    @property
    def name(self) -> str:
        """The sequence name when known, else the source's file name."""
        return self.sequence.name if self.sequence is not None else self.source.name

    def record(self) -> SequenceRecord:
        """As a `SequenceRecord` of the data layer (needs an identity)."""
        if self.sequence is None:
            raise UserError(f"{self.source}: no <sid>-<cond>-<nn>-<view> name; give the sequence an "
                            "id (--id)")
        return SequenceRecord(*self.sequence.key, self.frames)


def extract(
    source: str | Path,
    background: str | Path | np.ndarray | None = AUTO,
    segmenter: Segmenter | str | None = None,
    *,
    sequence: SequenceId | None = None,
    size: tuple[int, int] = (64, 64),
    foreground: ForegroundSettings | None = None,
    tracking: TrackSettings | None = None,
    batch: int = 64,
    preview: bool = False,
) -> Extraction:
    """Silhouettes of the person walking in a video file or a folder of frames.

    `background`: 'auto' (estimated from the video), a clip, frame folder or image of the empty
    scene, an RGB array `[H, W, 3]`, or None when `segmenter` (a callable or 'module:function')
    makes the masks. `sequence`: the identity, else parsed from the name. Raises `NoPersonError`
    (a `UserError`) when no frame shows a usable person, `UserError` for unreadable input.
    """
    foreground = foreground or ForegroundSettings()
    reader = FrameReader(source)
    if segmenter is None and background is None:
        raise UserError(f"{source}: give a background (a clip of the empty scene, or 'auto') or a segmenter")
    segment = load_segmenter(segmenter) if isinstance(segmenter, str) else segmenter
    scene = None if segment is not None else load_background(background, reader, batch)
    tracker = PersonTracker(tracking or TrackSettings())
    kept_frames: list[np.ndarray] = []  # [H, W] uint8 0..255 each
    kept_index: list[int] = []
    heights: list[int] = []
    dropped = dict.fromkeys(DROP_REASONS, 0)
    panels: list[np.ndarray] | None = [] if preview else None
    index = 0
    for frames in reader.batches(batch):  # [B, H, W, 3]
        masks = frame_masks(frames, scene, segment, foreground)  # [B, H, W]
        for i, person in enumerate(tracker.update(masks)):
            silhouette = None
            if person.status == KEPT:
                silhouette = pretreat_frame(person.mask.view(np.uint8) * np.uint8(255), *size)
                if silhouette is None:
                    dropped["small"] += 1
                else:
                    kept_frames.append(silhouette)
                    kept_index.append(index + i)
                    heights.append(person.height)
            else:
                dropped[person.status] += 1
            if panels is not None:
                panels.append(_panel(frames[i], masks[i], person.mask, silhouette))
        index += len(frames)
    quality = Quality(index, len(kept_frames), dropped, float(np.mean(heights)) if heights else 0.0,
                      reader.announced)
    _judge(quality)
    if sequence is None:
        sequence = parse_sequence_name(reader.path)
    if not kept_frames:
        reasons = ", ".join(f"{n} {r}" for r, n in dropped.items())
        raise NoPersonError(f"{reader.path}: no usable person in any of its {index} frames ({reasons}); "
                            f"nothing written. {_no_person_hint(segment is not None, foreground)}")
    frames_out = to_binary(np.stack(kept_frames), str(reader.path))  # [T, H, W] {0, 1}
    return Extraction(frames_out, np.asarray(kept_index, np.int64), sequence, quality, reader.path, panels)


def _no_person_hint(segmented: bool, foreground: ForegroundSettings) -> str:
    """What to change when no frame kept a person: the segmenter, or the background and --threshold."""
    if segmented:
        return "Is this the empty scene, or does the segmenter find no person in it?"
    default = ForegroundSettings().threshold
    return (f"Is this the empty scene, is the background wrong, or is --threshold {foreground.threshold} "
            f"too high (default {default}: a pixel is foreground when it differs from the background by "
            "more than that many grey levels)?")


def _judge(quality: Quality) -> None:
    """Add the warnings a user should see about a sequence."""
    if quality.announced is not None and quality.total < quality.announced:
        quality.warnings.append(f"decoded {quality.total} of the {quality.announced} frames the file "
                                "announces: truncated or damaged")
    if 0 < quality.kept < MIN_FRAMES:
        quality.warnings.append(f"only {quality.kept} frames kept: too few to recognise a gait")
    if quality.kept and quality.mean_height < MIN_HEIGHT:
        quality.warnings.append(f"person only {quality.mean_height:.0f} px tall: silhouettes will be coarse")


def _panel(frame: np.ndarray, mask: np.ndarray, person: np.ndarray | None,
           silhouette: np.ndarray | None) -> np.ndarray:
    """Preview panel at half size: frame | mask (person white, rest grey) | result, uint8 RGB."""
    half = frame[::2, ::2]  # [H/2, W/2, 3]
    shown = np.where(mask[::2, ::2, None] > 0, np.uint8(110), np.uint8(0)).repeat(3, axis=2)
    if person is not None:
        shown[person[::2, ::2]] = 255
    size = half.shape[0]
    result = np.zeros((size, size, 3), np.uint8)
    if silhouette is not None:  # nearest-neighbour scale of the 64-pixel result to the panel height
        rows = np.arange(size) * silhouette.shape[0] // size
        cols = np.arange(size) * silhouette.shape[1] // size
        result[:] = silhouette[rows][:, cols, None]
    return np.concatenate([half, shown, result], axis=1)
