"""The input contract of a deployed model: what counts as a silhouette sequence, and how it is made
ready for the network.

A deployed model is handed frames from anywhere: a data directory, a segmenter, a user's arrays.
`as_silhouettes` accepts the usual silhouette encodings (uint8 0/1 or 0/255, bool, float 0..1),
binarises them at half range, and pretreats frames that are not at the model's frame size (crop to
the person, scale to the frame height, centre; `mimicgait.data.rasterise.pretreat_batch`, the
vectorised form of the release's pretreatment). It refuses, with a message that says what to do,
what is not a silhouette sequence: colour or many-level grey images (photographs), NaN, no frames,
and frames without any foreground. Without this check, frames in 0..255 where 0..1 is meant give
embeddings hundreds of times too large and photographs are silently binarised into noise.
"""

from __future__ import annotations

import numpy as np
import torch

from mimicgait.data.contract import binarise, silhouette_problem
from mimicgait.errors import UserError


def _to_numpy(frames: np.ndarray | torch.Tensor) -> np.ndarray:
    if torch.is_tensor(frames):
        frames = frames.detach().cpu()
        if frames.dtype in (torch.bfloat16, torch.float16):
            frames = frames.float()
        return frames.numpy()
    return np.asarray(frames)


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
    from mimicgait.data.rasterise import pretreat_batch

    out = pretreat_batch(mask, size=h)  # [T', h, w] uint8 {0, 1}
    kept = out.reshape(len(out), -1).any(1)
    if not kept.any():
        raise UserError(f"{name}: no frame keeps any foreground after pretreatment")
    return out[kept]
