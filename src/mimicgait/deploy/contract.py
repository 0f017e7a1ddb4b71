"""The input contract of a deployed model: what counts as a silhouette sequence, and how it is made
ready for the network.

A deployed model is handed frames from anywhere: a data directory, a segmenter, a user's arrays.
`as_silhouettes` accepts the usual silhouette encodings (uint8 0/1 or 0/255, bool, float 0..1),
binarises them at half range, and pretreats frames that are not at the model's frame size (crop to
the person, scale to the frame height, centre; `mimicgait.data.synthetic.pretreat_batch`, the
vectorised form of the release's pretreatment). It refuses, with a message that says what to do,
what is not a silhouette sequence: colour or many-level grey images (photographs), NaN, no frames,
and frames without any foreground. Without this check, frames in 0..255 where 0..1 is meant give
embeddings hundreds of times too large and photographs are silently binarised into noise.
"""

from __future__ import annotations

import numpy as np
import torch

from mimicgait.errors import UserError

#: A grey value counts as "in between" when it lies in (LOW, HIGH) of the full range.
_LOW, _HIGH = 0.1, 0.9
#: Silhouettes resized with interpolation have grey values on the outline only; a photograph has
#: them everywhere. More than this fraction of in-between values among the non-zero pixels (or of
#: all pixels) marks frames as photographs.
MAX_INBETWEEN = 0.35

PHOTO_HINT = ("these look like photographs, not silhouettes; make silhouettes first "
              "(mimicgait silhouettes --video/--frames ...)")


def _to_numpy(frames: np.ndarray | torch.Tensor) -> np.ndarray:
    if torch.is_tensor(frames):
        frames = frames.detach().cpu()
        if frames.dtype in (torch.bfloat16, torch.float16):
            frames = frames.float()
        return frames.numpy()
    return np.asarray(frames)


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


def as_silhouettes(
    frames: np.ndarray | torch.Tensor, frame_size: tuple[int, int], name: str = "sequence"
) -> np.ndarray:
    """Check and normalise one sequence for a model whose data frames are `frame_size` (H, W).

    frames: [T, H, W] in an accepted encoding, at any size. Returns uint8 {0, 1} [T', H, W] at
    `frame_size`; frames of another size are pretreated, and frames without foreground are dropped
    (T' <= T). Raises UserError naming `name` when the input is not a silhouette sequence.
    """
    array = _to_numpy(frames)
    problem = silhouette_problem(array)
    if problem:
        raise UserError(f"{name}: {problem}")
    mask = binarise(array)  # [T, H, W]
    lit = mask.reshape(len(mask), -1).any(1)  # [T]
    if not lit.any():
        raise UserError(f"{name}: every frame is blank (no foreground); nothing to recognise")
    mask = mask[lit]
    h, w = int(frame_size[0]), int(frame_size[1])
    if mask.shape[1:] == (h, w):
        return mask.astype(np.uint8)
    if h != w:
        raise UserError(f"{name}: frames are {mask.shape[2]}x{mask.shape[1]}, the model takes {w}x{h}; "
                        "pretreat them to that size first")
    from mimicgait.data.synthetic import pretreat_batch

    out = pretreat_batch(mask, size=h)  # [T', h, w] uint8 {0, 1}
    kept = out.reshape(len(out), -1).any(1)
    if not kept.any():
        raise UserError(f"{name}: no frame keeps any foreground after pretreatment")
    return out[kept]
