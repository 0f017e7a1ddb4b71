"""Re-aligning what is left of the walker as the project's pretreatment would (`data.pretreat`).

Per frame: crop to the visible part's bounding box, scale it to the frame height keeping its aspect
ratio, centre it horizontally on the column where the visible mass reaches half, pad or cut to the
frame width. Unlike pretreatment the scaling is nearest-neighbour at half-pixel centres in exact
integer arithmetic (output row i reads box row floor((2i + 1) h / 2H)), so the result is binary,
keeps the frames' value convention and is identical in NumPy and torch; the centre is found on the
box's own columns (the first whose cumulative mass exceeds half), then mapped to the scaled width.
The maps are planned in NumPy from per-frame profiles; `remap_np` / `remap_torch` apply them.
"""

from __future__ import annotations

import numpy as np
import torch


def realign_maps(rows_any: np.ndarray, col_mass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source row of every output row and source column (or -1: blank) of every output column.

    rows_any [F, H] bool, col_mass [F, W] int64 (visible pixels per column) -> ([F, H], [F, W]) int64.
    """
    f, height = rows_any.shape
    width = col_mass.shape[1]
    cols_any = col_mass > 0
    present = rows_any.any(1)  # [F]
    y0 = rows_any.argmax(1)
    y1 = height - 1 - rows_any[:, ::-1].argmax(1)
    x0 = cols_any.argmax(1)
    x1 = width - 1 - cols_any[:, ::-1].argmax(1)
    h, w = y1 - y0 + 1, x1 - x0 + 1  # [F] box size
    i = np.arange(height)
    rowmap = y0[:, None] + ((2 * i[None, :] + 1) * h[:, None]) // (2 * height)  # [F, H]
    scaled = np.maximum((2 * w * height + h) // (2 * h), 1)  # [F] box width at the frame height, half up
    cum = col_mass.cumsum(1)  # [F, W]
    centre = (2 * cum > cum[:, -1:]).argmax(1)  # [F] first column past half the mass
    mid = ((2 * (centre - x0) + 1) * scaled) // (2 * w)  # [F] that column in the scaled box
    k = mid[:, None] - width // 2 + np.arange(width)[None, :]  # [F, W] scaled column of each output column
    inside = (k >= 0) & (k < scaled[:, None]) & present[:, None]
    colmap = np.where(inside, x0[:, None] + ((2 * k + 1) * w[:, None]) // (2 * scaled[:, None]), -1)
    return rowmap.astype(np.int64), colmap.astype(np.int64)


def remap_np(frames: np.ndarray, rowmap: np.ndarray, colmap: np.ndarray) -> np.ndarray:
    """Apply the maps to frames [F, H, Ws]: out[f, i, j] = frames[f, rowmap[f, i], colmap[f, j]] or 0,
    [F, H, W] with W = colmap's width.

    Two gathers of whole rows (rows, then the transposed frames' rows: columns), which move
    memory in blocks rather than pixel by pixel."""
    f, h, ws = frames.shape
    w = colmap.shape[1]
    rows = frames.reshape(f * h, ws)[(rowmap + np.arange(f)[:, None] * h).reshape(-1)]  # [F*H, Ws]
    across = np.ascontiguousarray(rows.reshape(f, h, ws).transpose(0, 2, 1)).reshape(f * ws, h)
    cols = across[(np.maximum(colmap, 0) + np.arange(f)[:, None] * ws).reshape(-1)].reshape(f, w, h)
    cols[colmap < 0] = 0
    return np.ascontiguousarray(cols.transpose(0, 2, 1))


def remap_torch(frames: torch.Tensor, rowmap: np.ndarray, colmap: np.ndarray) -> torch.Tensor:
    """`remap_np` for a tensor [F, H, Ws] on any device (the maps come from the CPU)."""
    f, h, ws = frames.shape
    w = colmap.shape[1]
    dev = frames.device
    rows = torch.from_numpy((rowmap + np.arange(f)[:, None] * h).reshape(-1)).to(dev)  # [F*H]
    picked = frames.reshape(f * h, ws).index_select(0, rows).view(f, h, ws)
    cols = torch.from_numpy(np.maximum(colmap, 0)).to(dev)  # [F, W]
    out = torch.gather(picked, 2, cols[:, None, :].expand(f, h, w))
    inside = torch.from_numpy((colmap >= 0).view(np.uint8)).to(dev)[:, None, :]  # [F, 1, W] 0/1
    return out & inside.bool() if out.dtype == torch.bool else out * inside.to(out.dtype)
