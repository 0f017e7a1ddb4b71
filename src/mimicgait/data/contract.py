"""What counts as a silhouette sequence: the check the data layer applies to what it reads and the
deployed model's input contract (`mimicgait.deploy.contract`) applies to what it is given.

Silhouettes come as uint8 0/1 or 0/255, bool, or float 0..1; grey values appear only on outlines
(where a release resized them). Colour frames, or grey frames with many levels over the whole
person, are photographs: binarising them gives noise, so they are refused with a hint.
"""

from __future__ import annotations

import numpy as np

#: A grey value counts as "in between" when it lies in (LOW, HIGH) of the full range.
_LOW, _HIGH = 0.1, 0.9
#: Silhouettes resized with interpolation have grey values on the outline only; a photograph has
#: them everywhere. More than this fraction of in-between values among the non-zero pixels (or of
#: all pixels) marks frames as photographs.
MAX_INBETWEEN = 0.35

PHOTO_HINT = ("these look like photographs, not silhouettes; make silhouettes first "
              "(mimicgait silhouettes --video/--frames ...)")


def silhouette_problem(frames: np.ndarray) -> str | None:
    """Why `frames` are not a silhouette sequence (None when they are): colour channels, NaN, a
    value range other than 0..1 / 0..255, or many grey levels. `frames` is [T, H, W] (or
    [T, H, W, 3|4] for colour, which is refused)."""
    if frames.ndim == 4 and frames.shape[-1] in (3, 4):
        return "frames have colour channels [T, H, W, " + f"{frames.shape[-1]}]; " + PHOTO_HINT
    if frames.ndim != 3:
        return f"expected frames [T, H, W], got shape {tuple(frames.shape)}"
    if frames.shape[0] == 0:
        return "the sequence has no frames"
    if frames.dtype == np.bool_:
        return None
    if np.issubdtype(frames.dtype, np.floating):
        if np.isnan(frames).any():
            return "frames contain NaN"
        lo, hi = float(frames.min()), float(frames.max())
        if lo < 0.0 or hi > 1.0:
            return (f"float frames must lie in [0, 1], got [{lo:g}, {hi:g}]; pass uint8 0..255 frames "
                    "as uint8, or divide by 255")
        full = 1.0
    elif np.issubdtype(frames.dtype, np.integer):
        lo, hi = int(frames.min()), int(frames.max())
        if lo < 0 or hi > 255:
            return f"integer frames must lie in 0..255, got {lo}..{hi}"
        full = 1.0 if hi <= 1 else 255.0
    else:
        return f"unsupported frame dtype {frames.dtype}; use uint8, bool or float32"
    values = frames.astype(np.float32, copy=False) / full
    inbetween = (values > _LOW) & (values < _HIGH)
    foreground = values > 0
    share = float(inbetween.sum()) / max(1, int(foreground.sum()))
    if share > MAX_INBETWEEN and float(inbetween.mean()) > 0.02:
        return f"{100 * share:.0f} % of the lit pixels are grey levels; " + PHOTO_HINT
    return None


def binarise(frames: np.ndarray) -> np.ndarray:
    """Silhouettes in any accepted encoding -> bool [T, H, W] (threshold at half range)."""
    if frames.dtype == np.bool_:
        return frames
    if np.issubdtype(frames.dtype, np.floating):
        return frames >= 0.5
    return frames >= (1 if int(frames.max()) <= 1 else 128)
