"""Frames in, a batch at a time: video files through OpenCV, or a folder of still images.

OpenCV (the `opencv-python-headless` wheel, the `video` extra) decodes every container and codec
its bundled FFmpeg knows, without a system FFmpeg; the same library does the morphology and
connected components later on. Frames are streamed in batches of uint8 RGB `[B, H, W, 3]`, so a
long video never sits in memory whole, and never as float.

A file OpenCV cannot open at all is a `UserError`; a file that stops decoding early (truncated or
damaged) yields the frames before the damage, and `decoded` falls short of `announced`, which the
caller reports.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np

from mimicgait.errors import UserError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def require_cv2() -> ModuleType:
    """The `cv2` module, or a one-line `UserError` saying how to install it."""
    try:
        import cv2
    except ImportError as err:
        raise UserError(
            "reading videos needs OpenCV, which is not installed: pip install mimicgait[video]"
        ) from err
    return cv2


def list_images(folder: Path) -> list[Path]:
    """The image files of a frame folder in name order (hidden files ignored)."""
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


class FrameReader:
    """Decoded frames of one video file or one folder of images, re-readable from the start.

    `batches(size)` streams uint8 RGB `[B, H, W, 3]` arrays; every call starts again at frame 0
    (a background estimate reads the frames once, the segmentation a second time). Attributes:
    `height`, `width`, `fps`, `announced` (the frame count the container states; None for folders, which
    know it exactly, or when the container does not say) and, after a full pass, `decoded`.
    """

    def __init__(self, path: str | Path) -> None:
        self.cv2 = require_cv2()
        self.path = Path(path)
        if not self.path.exists():
            raise UserError(f"{self.path} does not exist; check --video / --frames")
        self.images: list[Path] | None = None
        self.announced: int | None = None
        self.decoded: int | None = None
        self.fps = 25.0  # frames per second the container states; 25 for frame folders or when unknown
        if self.path.is_dir():
            self.images = list_images(self.path)
            if not self.images:
                raise UserError(
                    f"{self.path}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this frame folder"
                )
            first = self._read_image(self.images[0])
        else:
            capture = self._open()
            count = int(capture.get(self.cv2.CAP_PROP_FRAME_COUNT))
            self.announced = count if count > 0 else None
            fps = float(capture.get(self.cv2.CAP_PROP_FPS))
            if np.isfinite(fps) and 1.0 <= fps <= 1000.0:
                self.fps = fps
            ok, first = capture.read()
            capture.release()
            if not ok or first is None:
                raise UserError(f"{self.path}: no frame could be decoded (corrupt, truncated or not a "
                                "video); re-copy or re-encode the file")
            first = first[..., ::-1]
        self.height, self.width = int(first.shape[0]), int(first.shape[1])

    def _open(self):  # -> cv2.VideoCapture
        capture = self.cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise UserError(f"{self.path}: OpenCV cannot open it as a video (corrupt, truncated or an "
                            "unknown format); re-copy it or convert it to MP4/AVI")
        return capture

    def _read_image(self, path: Path) -> np.ndarray:
        image = self.cv2.imread(str(path), self.cv2.IMREAD_COLOR)  # [H, W, 3] BGR
        if image is None:
            raise UserError(f"{path}: cannot decode this image; replace or remove it")
        return image[..., ::-1]  # RGB

    def batches(self, size: int = 64) -> Iterator[np.ndarray]:
        """Stream all frames as uint8 RGB `[B, H, W, 3]`, B <= size; sets `decoded` at the end."""
        if size < 1:
            raise ValueError(f"batch size must be at least 1, got {size}")
        batch = np.empty((size, self.height, self.width, 3), np.uint8)  # reused buffer
        filled = 0
        count = 0
        for frame in self._frames():
            if frame.shape[:2] != (self.height, self.width):
                raise UserError(f"{self.path}: frame {count} is {frame.shape[1]}x{frame.shape[0]}, the first "
                                f"is {self.width}x{self.height}; all frames must have one size")
            batch[filled] = frame
            filled += 1
            count += 1
            if filled == size:
                yield batch.copy()
                filled = 0
        if filled:
            yield batch[:filled].copy()
        self.decoded = count

    def _frames(self) -> Iterator[np.ndarray]:
        if self.images is not None:
            for path in self.images:
                yield self._read_image(path)
            return
        capture = self._open()
        try:
            while True:
                ok, frame = capture.read()  # [H, W, 3] BGR
                if not ok or frame is None:
                    break
                yield frame[..., ::-1]
        finally:
            capture.release()

    def __len__(self) -> int:
        """Frames known to exist: the folder's image count, else the container's announcement."""
        if self.images is not None:
            return len(self.images)
        return self.decoded if self.decoded is not None else (self.announced or 0)


def input_paths(video: str | Path | None, frames: str | Path | None) -> list[Path]:
    """What `--video FILE|DIR` or `--frames DIR` names: the video files (background clips named
    `<sid>-bkgrd-<view>` in a folder are skipped) or the one frame folder."""
    from mimicgait.video.naming import is_background_clip

    if frames is not None:
        folder = Path(frames)
        if not folder.is_dir():
            raise UserError(f"--frames {folder} is not a directory; give a folder of PNG/JPG frames")
        return [folder]
    path = Path(str(video))
    if not path.exists():
        raise UserError(f"--video {path} does not exist")
    if path.is_file():
        return [path]
    videos = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    for clip in (p for p in videos if is_background_clip(p)):
        log.info("skipped %s: a background clip (pass it with --background)", clip.name)
    videos = [p for p in videos if not is_background_clip(p)]
    if not videos:
        raise UserError(f"--video {path}: no video files ({', '.join(VIDEO_SUFFIXES)}) in this folder")
    return videos
