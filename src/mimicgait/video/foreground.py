"""Foreground masks: colour distance to the background, shadow suppression, morphological clean-up.

Per pixel, the distance is the largest absolute difference over the three colour channels; a
pixel further than `threshold` grey levels from the background is foreground. Shadow suppression
(after Horprasert et al., 1999) then returns to the background the foreground pixels that are only
a little darker than the background with the same chromaticity: brightness ratio in
[`shadow_low`, 1) and chromaticity change below `shadow_chroma`, distance below `shadow_max`.
The bounds are deliberately narrow: dark clothes against a light wall are also "darker with the
same chromaticity", only much darker. A 3x3 opening removes speckle, a small elliptic closing
fills pinholes. All of it works on a whole batch `[B, H, W, 3]` at once except the morphology,
which is one OpenCV call per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimicgait.video.decode import require_cv2


@dataclass(frozen=True)
class ForegroundSettings:
    """Thresholds of the background subtraction (defaults measured on CASIA-B, docs/video.md)."""

    threshold: int = 30  # grey levels (max over channels) that make a pixel foreground
    shadow: bool = True  # suppress shadows and floor reflections
    shadow_low: float = 0.75  # brightness ratio frame / background above which a darkening may be shadow
    shadow_chroma: float = 0.02  # largest chromaticity change (L1 of r,g,b shares) of a shadow
    shadow_max: int = 45  # a shadow pixel differs from the background by less than this
    opening: int = 3  # square opening kernel (0: none)
    closing: int = 3  # elliptic closing kernel (0: none)


def colour_distance(frames: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Max over channels of |frame - background|: uint8 `[B, H, W]` from `[B, H, W, 3]`, `[H, W, 3]`."""
    cv2 = require_cv2()
    diff = np.empty_like(frames)  # [B, H, W, 3]
    for i, frame in enumerate(frames):
        cv2.absdiff(frame, background, dst=diff[i])
    return np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2])  # [B, H, W]


def suppress_shadows(
    frames: np.ndarray, background: np.ndarray, fg: np.ndarray, dist: np.ndarray, settings: ForegroundSettings
) -> None:
    """Clear, in place in `fg` `[B, H, W]` bool, the pixels that look like shadow or reflection.

    Only the few foreground pixels closer than `shadow_max` are examined, gathered as `[N, 3]`.
    """
    b, y, x = np.nonzero(fg & (dist < settings.shadow_max))  # [N] each
    if b.size == 0:
        return
    pixel = frames[b, y, x].astype(np.float32) + 1.0  # [N, 3]
    scene = background[y, x].astype(np.float32) + 1.0  # [N, 3]
    pixel_sum, scene_sum = pixel.sum(axis=1), scene.sum(axis=1)  # [N]
    ratio = pixel_sum / scene_sum
    chroma = np.abs(pixel / pixel_sum[:, None] - scene / scene_sum[:, None]).sum(axis=1)  # [N]
    shadow = (ratio >= settings.shadow_low) & (ratio < 1.0) & (chroma < settings.shadow_chroma)
    fg[b[shadow], y[shadow], x[shadow]] = False


def clean_masks(masks: np.ndarray, settings: ForegroundSettings) -> np.ndarray:
    """Opening then closing of each mask: uint8 0/1 `[B, H, W]` in, the same shape out."""
    cv2 = require_cv2()
    out = np.ascontiguousarray(masks, dtype=np.uint8)
    opening = np.ones((settings.opening, settings.opening), np.uint8) if settings.opening else None
    closing = (cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (settings.closing, settings.closing))
               if settings.closing else None)
    for mask in out:  # [H, W], cleaned in place
        if opening is not None:
            cv2.morphologyEx(mask, cv2.MORPH_OPEN, opening, dst=mask)
        if closing is not None:
            cv2.morphologyEx(mask, cv2.MORPH_CLOSE, closing, dst=mask)
    return out


def foreground_masks(
    frames: np.ndarray, background: np.ndarray, settings: ForegroundSettings = ForegroundSettings()
) -> np.ndarray:
    """Cleaned foreground of uint8 RGB frames `[B, H, W, 3]` against `[H, W, 3]`: uint8 0/1 `[B, H, W]`."""
    dist = colour_distance(frames, background)  # [B, H, W]
    fg = dist > settings.threshold
    if settings.shadow:
        suppress_shadows(frames, background, fg, dist, settings)
    return clean_masks(fg.view(np.uint8), settings)


def solid_mask(mask: np.ndarray, closing: int = 5) -> np.ndarray:
    """One person's mask `[h, w]` bool made solid: closed with an elliptic kernel of `closing` pixels
    (0: no closing) and its holes filled. A light shirt against a light wall leaves gaps in the
    foreground that are the person all the same; gaps open to the outside wider than the kernel
    stay (filling those would add scene, the space between arm and body)."""
    cv2 = require_cv2()
    pad = max(closing, 1)  # an empty margin, so the closing does not grow a mask cut by the crop
    person = np.pad(mask.astype(np.uint8), pad)  # [h + 2 pad, w + 2 pad] 0/1
    if closing > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (closing, closing))
        person = cv2.morphologyEx(person, cv2.MORPH_CLOSE, kernel)
    outside = person ^ 1  # 1 where not the person
    cv2.floodFill(outside, None, (0, 0), 2)  # what the margin reaches is outside; the rest are holes
    return (outside != 2)[pad:-pad, pad:-pad]
