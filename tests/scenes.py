"""Synthetic camera footage for the multi-person tests: walkers drawn as shapes on a textured scene.

A walker is a head, a torso and two swinging legs, in colours of its own, walking at a constant
speed along a ground line; drawn in order, so a later walker hides an earlier one where they
overlap. Every frame comes with each walker's true visible mask, so tracks can be scored exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class Walker:
    """Start column, speed (pixels per frame), feet row, height, shirt and trousers RGB colours;
    `absent` the frames in which they are not drawn (behind a pillar, say)."""

    x: float
    speed: float
    bottom: int
    height: int
    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]
    absent: range = range(0)


def draw_walker(image: np.ndarray, mask: np.ndarray, w: Walker, t: int) -> None:
    """Draw walker `w` at frame `t` into RGB `image` `[H, W, 3]` and set its pixels in `mask` `[H, W]`."""
    cx = w.x + w.speed * t
    top = w.bottom - w.height
    width = int(w.height * 0.28)
    head = int(w.height * 0.08)
    torso_end = int(top + 0.55 * w.height)
    stride = np.sin(0.4 * t) * w.height * 0.18
    shapes = [("circle", (int(cx), top + head), head, (200, 170, 150)),
              ("rect", (int(cx - width / 2), top + 2 * head), (int(cx + width / 2), torso_end), w.shirt)]
    for side in (-1, 1):
        leg = np.array([[cx - width * 0.2, torso_end], [cx + width * 0.2, torso_end],
                        [cx + side * stride + width * 0.15, w.bottom],
                        [cx + side * stride - width * 0.15, w.bottom]], np.int32)
        shapes.append(("poly", leg, None, w.trousers))
    for kind, a, b, colour in shapes:
        for target, value in ((image, colour), (mask, 1)):
            if kind == "circle":
                cv2.circle(target, a, b, value, -1)
            elif kind == "rect":
                cv2.rectangle(target, a, b, value, -1)
            else:
                cv2.fillConvexPoly(target, a, value)


def scene(height: int = 240, width: int = 320, seed: int = 0) -> np.ndarray:
    """A static textured background, uint8 RGB `[H, W, 3]`."""
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(90, 140, (height, width, 3)).astype(np.uint8), (9, 9), 0)


def render(walkers: list[Walker], frames: int, height: int = 240, width: int = 320,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames uint8 RGB `[T, H, W, 3]`, true visible masks bool `[len(walkers), T, H, W]`, whole
    masks as if each walker were alone, the same shape)."""
    background = scene(height, width, seed)
    video = np.repeat(background[None], frames, axis=0)
    visible = np.zeros((len(walkers), frames, height, width), bool)
    whole = np.zeros_like(visible)
    for t in range(frames):
        for k, walker in enumerate(walkers):
            if t in walker.absent:
                continue
            mask = np.zeros((height, width), np.uint8)
            draw_walker(video[t], mask, walker, t)
            visible[:k, t] &= ~mask.astype(bool)  # a later walker hides the earlier ones
            visible[k, t] = whole[k, t] = mask.astype(bool)
    return video, visible, whole


def crossing(frames: int = 110) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two walkers crossing: blue shirt left to right behind, yellow shirt right to left in front."""
    width = 320
    speed = (width + 40) / frames
    walkers = [Walker(-20, speed, 200, 130, (30, 60, 200), (20, 20, 40)),
               Walker(width + 20, -speed, 212, 140, (220, 200, 40), (150, 30, 30))]
    return render(walkers, frames, width=width)


def write_frames(folder: Path, video: np.ndarray) -> Path:
    """The frames as a folder of PNGs (lossless, what `--frames` and `FrameReader` read)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(video):
        cv2.imwrite(str(folder / f"{i:04d}.png"), np.ascontiguousarray(frame[..., ::-1]))
    return folder


def write_video(path: Path, video: np.ndarray, fps: float = 25.0) -> Path:
    """The frames as an MJPG AVI (what a camera file would be)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, video.shape[2:0:-1])
    for frame in video:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    return path
