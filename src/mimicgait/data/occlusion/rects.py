"""Occluders as sets of disjoint axis-aligned rectangles, one set per frame: counting and painting.

Every wild occluder (a cut's missing side, an object's parts, another walker's row runs) is a union
of disjoint half-open pixel rectangles, so the walker pixels it hides are a sum of integral-image
lookups (four per rectangle, however large), and its mask is painted by a difference array and two
cumulative sums. Rectangles are planned on the CPU in NumPy (`Rects`); the pixel work has a NumPy
form (sequences) and a torch form (batches, on their device), equal by construction: both are
integer arithmetic on the same rectangles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Rects:
    """Rectangles `[y0, y1) x [x0, x1)` (clipped to the frame, maybe empty) of frame `frame`.

    All arrays are int64 `[M]`; `frame` counts frames of the whole request (n * S + t in a batch).
    """

    frame: np.ndarray
    y0: np.ndarray
    y1: np.ndarray
    x0: np.ndarray
    x1: np.ndarray


_SIGNS = np.array([1, -1, -1, 1], dtype=np.int64)


def _corners(rects: Rects, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices into `[F, H + 1, W + 1]` of each rectangle's four corners `[4, M]`, with signs `[4]`."""
    stride = width + 1
    base = rects.frame * ((height + 1) * stride)
    top, bottom = base + rects.y0 * stride, base + rects.y1 * stride
    flat = np.stack([bottom + rects.x1, top + rects.x1, bottom + rects.x0, top + rects.x0])
    return flat, _SIGNS


def band_masks(rects: Rects, frames: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows [F, H] and columns [F, W] (bool) of at most one rectangle per frame: the rectangle is
    their outer product (a cut's missing side; no integral image or painting needed)."""
    rows = np.zeros((frames, height), dtype=bool)
    cols = np.zeros((frames, width), dtype=bool)
    y, x = np.arange(height), np.arange(width)
    rows[rects.frame] = (y[None, :] >= rects.y0[:, None]) & (y[None, :] < rects.y1[:, None])
    cols[rects.frame] = (x[None, :] >= rects.x0[:, None]) & (x[None, :] < rects.x1[:, None])
    return rows, cols


def count_bands(rects: Rects, row_prefix: np.ndarray, col_prefix: np.ndarray) -> np.ndarray:
    """Walker pixels under at most one rectangle per frame that spans the full width or the full
    height, from running sums of the walker's pixels per row `[F, H + 1]` and per column `[F, W + 1]`."""
    full_width = (rects.x0 == 0) & (rects.x1 == col_prefix.shape[1] - 1)
    f = rects.frame
    by_rows = row_prefix[f, rects.y1] - row_prefix[f, rects.y0]
    by_cols = col_prefix[f, rects.x1] - col_prefix[f, rects.x0]
    out = np.zeros(len(row_prefix), dtype=np.int64)
    out[f] = np.where(full_width, by_rows, by_cols)
    return out


def _count_dtype(height: int, width: int) -> np.dtype:
    """The narrowest integer type that holds a frame's pixel count (int16 up to 181 x 181)."""
    return np.dtype(np.int16) if height * width < 2**15 else np.dtype(np.int32)


# -- NumPy ---------------------------------------------------------------------------------------
def _prefix_np(a: np.ndarray, axis: int) -> np.ndarray:
    """In-place running sum along `axis` (1 or 2) of a 3-D array: one vectorised add per row or
    column, several times faster than `np.cumsum` along a strided axis of small frames."""
    for i in range(1, a.shape[axis]):
        if axis == 1:
            a[:, i] += a[:, i - 1]
        else:
            a[:, :, i] += a[:, :, i - 1]
    return a


def integral_np(walker: np.ndarray) -> np.ndarray:
    """[F, H, W] bool -> [F, H + 1, W + 1] integral image (pixels above and left of each corner)."""
    f, h, w = walker.shape
    out = np.zeros((f, h + 1, w + 1), dtype=_count_dtype(h, w))
    out[:, 1:, 1:] = walker
    return _prefix_np(_prefix_np(out, 2), 1)


def count_np(integral: np.ndarray, rects: Rects) -> np.ndarray:
    """Walker pixels under the rectangles, per frame: int64 [F]."""
    f, h1, w1 = integral.shape
    flat, _ = _corners(rects, h1 - 1, w1 - 1)
    corner = integral.reshape(-1)[flat].astype(np.int32)  # [4, M]
    values = corner[0] - corner[1] - corner[2] + corner[3]  # signs as in _corners
    return np.bincount(rects.frame, weights=values, minlength=f).astype(np.int64)


def paint_np(rects: Rects, frames: int, height: int, width: int) -> np.ndarray:
    """The rectangles' mask: [F, H, W] bool."""
    flat, sign = _corners(_nonempty(rects), height, width)
    diff = np.zeros(frames * (height + 1) * (width + 1), dtype=np.int8)
    # +1 at (y0, x0) and (y1, x1), -1 at the other corners: the 2-D running sum is 1 inside, 0 outside
    # (the rectangles are disjoint, so every partial sum lies in -1..1). Disjoint non-empty
    # rectangles never share a corner of the same kind, so each kind is one fancy-indexed add.
    for corner, step in zip(flat, sign.tolist(), strict=True):
        diff[corner] += step
    diff = diff.reshape(frames, height + 1, width + 1)
    return _prefix_np(_prefix_np(diff, 2), 1)[:, :height, :width] > 0


def _nonempty(rects: Rects) -> Rects:
    """The rectangles that cover at least one pixel."""
    keep = (rects.y1 > rects.y0) & (rects.x1 > rects.x0)
    return Rects(rects.frame[keep], rects.y0[keep], rects.y1[keep], rects.x0[keep], rects.x1[keep])


# -- torch ---------------------------------------------------------------------------------------
def _prefix_torch(a: torch.Tensor, dim: int) -> torch.Tensor:
    """In-place running sum along `dim` (1 or 2): row by row on the CPU (as `_prefix_np`), one
    `cumsum` kernel elsewhere; the same integers either way."""
    if a.device.type != "cpu":
        return a.copy_(a.cumsum(dim, dtype=a.dtype))
    for i in range(1, a.shape[dim]):
        a.select(dim, i).add_(a.select(dim, i - 1))
    return a


def integral_torch(walker: torch.Tensor) -> torch.Tensor:
    """[F, H, W] bool -> [F, H + 1, W + 1] integral image, on walker's device."""
    f, h, w = walker.shape
    dtype = torch.int16 if _count_dtype(h, w) == np.int16 else torch.int32
    out = torch.empty((f, h + 1, w + 1), dtype=dtype, device=walker.device)
    out[:, 0], out[:, :, 0] = 0, 0
    out[:, 1:, 1:] = walker
    return _prefix_torch(_prefix_torch(out, 2), 1)


def count_torch(integral: torch.Tensor, rects: Rects) -> np.ndarray:
    """Walker pixels under the rectangles, per frame: int64 [F] (NumPy, on the CPU)."""
    f, h1, w1 = integral.shape
    flat, sign = _corners(rects, h1 - 1, w1 - 1)
    dev = integral.device
    corner = integral.view(-1).index_select(0, torch.from_numpy(flat.reshape(-1)).to(dev))
    corner = corner.view(4, -1).to(torch.int32)  # [4, M]
    values = (corner[0] - corner[1] - corner[2] + corner[3]).long()  # [M]; signs as in _corners
    per_frame = torch.zeros(f, dtype=torch.long, device=dev)
    per_frame.index_add_(0, torch.from_numpy(rects.frame).to(dev), values)
    return per_frame.cpu().numpy()


def paint_torch(rects: Rects, frames: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    """The rectangles' mask: [F, H, W] uint8 0/1 on `device` (as `paint_np`)."""
    flat, sign = _corners(rects, height, width)
    weights = torch.from_numpy(np.ascontiguousarray(np.broadcast_to(sign[:, None], flat.shape))).to(device)
    diff = torch.zeros(frames * (height + 1) * (width + 1), dtype=torch.int32, device=device)
    diff.index_add_(0, torch.from_numpy(flat.reshape(-1)).to(device), weights.reshape(-1).to(torch.int32))
    diff = diff.to(torch.int8).view(frames, height + 1, width + 1)
    inside = _prefix_torch(_prefix_torch(diff, 2), 1)[:, :height, :width]  # 0 or 1: rectangles are disjoint
    return inside.contiguous().view(torch.uint8)
