"""The video with each tracked person's box and answer drawn on it, to check the answers by eye.

Each track gets a colour of its own; its box is drawn solid while the person is seen, dashed while
they are hidden behind someone (the filter's estimate of where they are), with a label above it
(`t2 004 0.61`: track, identity or `unknown`, distance) and, when partly hidden, their hidden
share (`hidden 45%`). Written as MP4/AVI through OpenCV's video writer, or as an animated GIF
through Pillow; the output has the input's frame count, size and rate.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mimicgait.errors import UserError
from mimicgait.io import os_errors, write_atomic
from mimicgait.video.decode import require_cv2

if TYPE_CHECKING:
    from mimicgait.video.people import VideoPeople

ANNOTATION_SUFFIXES = (".mp4", ".avi", ".gif")
#: Track colours (RGB), distinct on a grey hall and on each other.
PALETTE = np.array([[230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48], [145, 30, 180],
                    [70, 240, 240], [240, 50, 230], [210, 245, 60]], np.uint8)


@dataclass(frozen=True)
class Mark:
    """What to draw for one track in one frame: its box `[4]` x0, y0, x1, y1 and label."""

    track: int
    box: np.ndarray
    label: str
    hidden: float  # share of the person hidden, 0..1 (NaN: unknown)
    seen: bool = True  # False: not visible in this frame (drawn dashed)


def check_annotation_path(path: str | Path) -> Path:
    """The `--annotate` file, refused in one line when its suffix is not one we can write."""
    out = Path(path)
    if out.suffix.lower() not in ANNOTATION_SUFFIXES:
        raise UserError(f"--annotate {out}: give a file ending in {', '.join(ANNOTATION_SUFFIXES)}")
    return out


def draw_marks(frame: np.ndarray, marks: list[Mark]) -> np.ndarray:
    """A copy of RGB `frame` `[H, W, 3]` uint8 with the marks drawn on it."""
    cv2 = require_cv2()
    out = np.ascontiguousarray(frame).copy()
    scale = max(0.35, frame.shape[0] / 600)
    colours = [tuple(int(c) for c in PALETTE[(m.track - 1) % len(PALETTE)]) for m in marks]
    for mark, colour in zip(marks, colours, strict=True):  # boxes first, so no box crosses a label
        x0, y0, x1, y1 = (int(round(float(v))) for v in mark.box)
        if mark.seen:
            cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, 1 + int(scale > 0.6))
        else:
            _dashed_box(out, x0, y0, x1 - 1, y1 - 1, colour)
    taken: list[tuple[int, int, int, int]] = []  # label rectangles drawn so far
    for mark, colour in zip(marks, colours, strict=True):
        x0, y0 = (int(round(float(v))) for v in mark.box[:2])
        lines = [mark.label]
        if np.isfinite(mark.hidden) and mark.hidden >= 0.05:
            lines.append(f"hidden {100 * mark.hidden:.0f}%")
        sizes = [cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0] for line in lines]
        line_height = max(h for _, h in sizes) + 5
        width = max(w for w, _ in sizes) + 3
        block = len(lines) * line_height
        top = max(y0 - block, 0)
        step = -line_height  # another track's label is there (their boxes overlap): stack above it ...
        while any(_overlaps((x0, top, x0 + width, top + block), r) for r in taken):
            top += step
            if top < 0:  # ... or, with no room above, below the box
                top, step = int(round(float(mark.box[3]))) + 2, line_height
        taken.append((x0, top, x0 + width, top + len(lines) * line_height))
        for i, (line, (w, h)) in enumerate(zip(lines, sizes, strict=True)):
            y = top + (i + 1) * line_height - 3
            cv2.rectangle(out, (x0, y - h - 2), (x0 + w + 2, y + 2), colour, -1)
            cv2.putText(out, line, (x0 + 1, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                        cv2.LINE_AA)
    return out


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two rectangles x0, y0, x1, y1 intersect."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _dashed_box(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, colour: tuple[int, ...]) -> None:
    """A dashed rectangle, drawn in place."""
    cv2 = require_cv2()
    step = 6
    for x in range(x0, x1, 2 * step):
        cv2.line(image, (x, y0), (min(x + step, x1), y0), colour, 1)
        cv2.line(image, (x, y1), (min(x + step, x1), y1), colour, 1)
    for y in range(y0, y1, 2 * step):
        cv2.line(image, (x0, y), (x0, min(y + step, y1)), colour, 1)
        cv2.line(image, (x1, y), (x1, min(y + step, y1)), colour, 1)


class AnnotatedVideo:
    """A video being written frame by frame: `add(frames, marks)` per batch, then `close()`.

    MP4/AVI go to a temporary file beside `path` and are renamed into place on `close`, so an
    interrupted run leaves no half video under the final name; a GIF is built in memory and written
    atomically.
    """

    def __init__(self, path: str | Path, fps: float, width: int, height: int) -> None:
        self.path = check_annotation_path(path)
        self.fps = fps if fps and np.isfinite(fps) and fps > 0 else 25.0
        self.size = (width, height)
        self.count = 0
        self.gif: list[np.ndarray] | None = None
        self.writer = None
        with os_errors(self.path, "--annotate"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.suffix.lower() == ".gif":
            self.gif = []
        else:
            cv2 = require_cv2()
            self.partial = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() == ".mp4" else "MJPG"))
            self.writer = cv2.VideoWriter(str(self.partial), fourcc, self.fps, self.size)
            if not self.writer.isOpened():
                raise UserError(f"--annotate {self.path}: OpenCV cannot write this video here; "
                                "try .avi or .gif")

    def add(self, frames: np.ndarray, marks: list[list[Mark]]) -> None:
        """Draw and append uint8 RGB frames `[B, H, W, 3]`, with the marks of each."""
        for frame, frame_marks in zip(frames, marks, strict=True):
            drawn = draw_marks(frame, frame_marks)
            if self.gif is not None:
                self.gif.append(drawn)
            else:
                self.writer.write(np.ascontiguousarray(drawn[..., ::-1]))
            self.count += 1

    def abort(self) -> None:
        """Give up: no file is left under the final name, nor a partial one."""
        if self.writer is not None:
            self.writer.release()
            self.partial.unlink(missing_ok=True)
        self.gif = None

    def close(self) -> Path:
        """Finish the file under its final name."""
        if self.gif is not None:
            from PIL import Image

            pictures = [Image.fromarray(f) for f in self.gif]
            buffer = io.BytesIO()
            pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:],
                             duration=max(20, round(1000 / self.fps)), loop=0)
            data = buffer.getvalue()
            with os_errors(self.path, "--annotate"):
                write_atomic(self.path, lambda f: f.write(data))
            return self.path
        self.writer.release()
        with os_errors(self.path, "--annotate"):
            self.partial.replace(self.path)
        return self.path


def annotate_people(people: VideoPeople, labels: dict[int, str], path: str | Path, batch: int = 64) -> Path:
    """Write `path`: the tracked video `people` with each track's box and `labels[track]` (default
    `t<k>`), read again from its source. Returns the path written."""
    from mimicgait.video.decode import FrameReader

    reader = FrameReader(people.source)
    video = AnnotatedVideo(path, reader.fps, reader.width, reader.height)
    index = 0
    try:
        for frames in reader.batches(batch):  # [B, H, W, 3]
            marks = [frame_marks(people, labels, index + i) for i in range(len(frames))]
            video.add(frames, marks)
            index += len(frames)
    except BaseException:
        video.abort()
        raise
    return video.close()


def frame_marks(people: VideoPeople, labels: dict[int, str], index: int) -> list[Mark]:
    """The marks of every track present in video frame `index`."""
    marks = []
    for track, boxes in people.boxes.items():
        if index >= len(boxes) or not np.isfinite(boxes[index]).all():
            continue
        hidden = float(people.hidden[track][index])
        marks.append(Mark(track, boxes[index], labels.get(track, f"t{track}"), hidden,
                          seen=not (np.isfinite(hidden) and hidden >= 1.0)))
    return marks
