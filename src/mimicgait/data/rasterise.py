"""From 3D capsules to pretreated binary silhouettes, vectorised over frames.

An orthographic camera turned about the vertical axis by the view angle (CASIA-B style: 000 sees
the walker from the front, 090 from the side, 180 from behind) projects every capsule to a 2D
stadium, exactly. Each stadium covers one interval of every image row, so a frame is rasterised by
writing +1/-1 at the interval ends and taking a running sum along the row: the cost grows with
rows x parts, not pixels x parts, and all frames of a view are rasterised at once. Segmentation
noise follows, then the pretreatment real data gets (crop to the person, scale to the frame
height, centre horizontally on the mass).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_WIDTH_RATIO = 1.0  # rendered width / height: room for a full stride and swinging arms
_MISS = 1e8  # penalty scale pushing a missed piece's interval bounds apart


def project(a: np.ndarray, b: np.ndarray, view_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic projection of capsule end points [T, K, 3] to image (u, v) [T, K, 2].

    The camera circles the walker: at 000 it faces the walker's front, at 090 the walker's left
    side (walking towards the image left, as in CASIA-B), at 180 the back. v is height (up).
    """
    th = np.radians(view_deg)
    right = np.array([-np.sin(th), 0.0, -np.cos(th)])  # image horizontal axis in body coordinates
    proj = np.stack([right, np.array([0.0, 1.0, 0.0])], 1)  # [3, 2]
    return a @ proj, b @ proj


def _slab(c: torch.Tensor, m: torch.Tensor, lo, hi) -> tuple[torch.Tensor, torch.Tensor]:
    """Solutions x of lo <= c + m x <= hi as (left, right), assuming m != 0."""
    x1, x2 = (lo - c) / m, (hi - c) / m
    return torch.minimum(x1, x2), torch.maximum(x1, x2)


def _row_intervals(a: torch.Tensor, b: torch.Tensor, r: torch.Tensor, y: torch.Tensor):
    """Where each row crosses each 2D stadium.

    a, b: [N, K, 2] segment ends; r: [K]; y: [N, R] row heights. Returns left and right x bounds
    [N, K, R]; left > right where the row misses the part. The stadium is the union of its two
    end disks and the rectangle swept between them. A piece the row misses gets its bounds pushed
    far apart the wrong way (by a penalty proportional to how far it misses), so the union is a
    plain min / max without branches (torch.where is slow on CPU, and so is sqrt of numbers <= 0).
    """
    ax, ay = a[..., 0:1], a[..., 1:2]  # [N, K, 1]
    bx, by = b[..., 0:1], b[..., 1:2]
    rr = r[None, :, None]  # [1, K, 1]
    yy = y[:, None, :]  # [N, 1, R]
    # End disks: half-chord sqrt(r^2 - dy^2) where the row crosses the disk.
    ha = rr * rr - (yy - ay) ** 2  # [N, K, R]
    hb = rr * rr - (yy - by) ** 2
    sa = ha.abs().add_(1e-12).sqrt_() + ha.clamp_max(0).mul_(_MISS)
    sb = hb.abs().add_(1e-12).sqrt_() + hb.clamp_max(0).mul_(_MISS)
    left = torch.minimum(ax - sa, bx - sb)
    right = torch.maximum(ax + sa, bx + sb)
    # Swept rectangle: 0 <= (p - a).u <= L and |(p - a).n| <= r, both linear in x along the row.
    # A tiny x offset keeps the direction defined for zero-length segments (spheres), and tiny
    # slopes stand in for zero ones: a row then maps to a huge interval or to a far-away one.
    dx, dy = bx - ax + 1e-7, by - ay
    length = (dx * dx + dy * dy).sqrt()
    ux, uy = dx / length, dy / length
    ux_safe = ux + torch.copysign(torch.full_like(ux, 1e-7), ux)
    uy_safe = uy + torch.copysign(torch.full_like(uy, 1e-7), uy)
    rel = yy - ay  # [N, K, R]
    l1, r1 = _slab(rel * uy - ax * ux_safe, ux_safe, 0.0, length)
    l2, r2 = _slab(rel * ux + ax * uy_safe, -uy_safe, -rr, rr)
    rl, rrt = torch.maximum(l1, l2), torch.minimum(r1, r2)
    miss = (rrt - rl).clamp_max_(0).mul_(_MISS)  # 0 where the rectangle meets the row, else << 0
    left = torch.minimum(left, rl - miss)
    right = torch.maximum(right, rrt + miss)
    return left, right


def rasterise_capsules(
    a: np.ndarray, b: np.ndarray, r: np.ndarray, rows: int, width_ratio: float = _WIDTH_RATIO
) -> torch.Tensor:
    """Binary images of projected capsules, each frame framed to the person's height.

    a, b: [N, K, 2] projected end points (u, v); r: [K] radii. Frame n spans the vertical extent
    of its parts in `rows` rows, and `rows * width_ratio` columns centred on the mean u of the end
    points (parts beyond are cut). Returns a bool tensor [N, rows, cols].
    """
    a = torch.as_tensor(a, dtype=torch.float32)
    b = torch.as_tensor(b, dtype=torch.float32)
    r = torch.as_tensor(r, dtype=torch.float32)
    n = a.shape[0]
    cols = int(round(rows * width_ratio))
    top = (torch.maximum(a[..., 1], b[..., 1]) + r).amax(1)  # [N]
    bottom = (torch.minimum(a[..., 1], b[..., 1]) - r).amin(1)
    px = (top - bottom) / rows  # [N] pixel size
    x0 = 0.5 * (a[..., 0] + b[..., 0]).mean(1) - 0.5 * cols * px  # [N] left edge of the window
    y = top[:, None] - (torch.arange(rows, dtype=torch.float32) + 0.5) * px[:, None]  # [N, R]
    left, right = _row_intervals(a, b, r, y)  # [N, K, R]
    # Pixel j (centre x0 + (j + 0.5) px) is covered when left <= its centre <= right.
    scale_x0 = x0[:, None, None]
    scale_px = px[:, None, None]
    jl = torch.ceil((left - scale_x0) / scale_px - 0.5).clamp(0, cols)
    jr = torch.floor((right - scale_x0) / scale_px - 0.5).clamp(-1, cols - 1)
    valid = jl <= jr  # False where the row misses the part
    # Difference array over [N, R, cols + 1]: +1 where a run starts, -1 just after it ends.
    row_base = (torch.arange(n)[:, None, None] * rows + torch.arange(rows)[None, None, :]) * (cols + 1)
    starts = (row_base + jl.long())[valid]
    ends = (row_base + jr.long() + 1)[valid]
    diff = torch.zeros(n * rows * (cols + 1), dtype=torch.int16)
    diff.index_add_(0, starts, torch.ones(starts.shape, dtype=torch.int16))
    diff.index_add_(0, ends, torch.full(ends.shape, -1, dtype=torch.int16))
    return diff.view(n, rows, cols + 1).cumsum(2, dtype=torch.int16)[..., :cols] > 0


def _dilate(m: torch.Tensor) -> torch.Tensor:
    """3x3 binary dilation of bool masks [N, H, W]."""
    out = m.clone()
    out[:, 1:] |= m[:, :-1]
    out[:, :-1] |= m[:, 1:]
    rows = out.clone()
    out[:, :, 1:] |= rows[:, :, :-1]
    out[:, :, :-1] |= rows[:, :, 1:]
    return out


def _erode(m: torch.Tensor) -> torch.Tensor:
    """3x3 binary erosion of bool masks [N, H, W]."""
    return ~_dilate(~m)


def segmentation_noise(masks: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Background-subtraction-like damage: ragged edges, thicker or thinner frames, missing patches.

    masks: bool [N, H, W] at render resolution; returns a new bool tensor of the same shape.
    """
    n, h, w = masks.shape
    dil, ero = _dilate(masks), _erode(masks)
    # Per frame: grow, shrink or keep the silhouette by one render pixel (half an output pixel).
    pick = torch.from_numpy(rng.choice(3, size=n, p=[0.6, 0.2, 0.2]))  # [N]
    out = masks.clone()
    out[pick == 1] = dil[pick == 1]
    out[pick == 2] = ero[pick == 2]
    # Flip a fraction of the pixels on the silhouette boundary.
    edge = torch.nonzero((dil & ~ero).view(-1)).squeeze(1)
    flip = torch.from_numpy(rng.random(edge.numel(), dtype=np.float32) < rng.uniform(0.05, 0.3))
    flat = out.view(-1)
    chosen = edge[flip]
    flat[chosen] = ~flat[chosen]
    # Now and then a patch of the body is lost (it matched the background).
    lost = rng.random(n) < rng.uniform(0.0, 0.12)
    if lost.any():
        ph, pw = rng.uniform(0.05, 0.2, n) * h, rng.uniform(0.1, 0.3, n) * w
        cy, cx = rng.uniform(0.1, 0.95, n) * h, rng.uniform(0.35, 0.65, n) * w
        yy = np.abs(np.arange(h)[None, :] - cy[:, None]) < ph[:, None] / 2  # [N, H]
        xx = np.abs(np.arange(w)[None, :] - cx[:, None]) < pw[:, None] / 2  # [N, W]
        patch = lost[:, None, None] & yy[:, :, None] & xx[:, None, :]  # [N, H, W]
        out &= ~torch.from_numpy(patch)
    return out


def pretreat_batch(frames: np.ndarray | torch.Tensor, size: int = 64) -> np.ndarray:
    """The OpenGait-style pretreatment of a batch of binary frames, vectorised.

    Each frame is cropped to the rows holding the person, scaled so the person fills `size` rows,
    centred on the column where the cumulative mass reaches half (as OpenGait and
    `mimicgait.data.pretreat` do) and cut or zero-padded to `size` columns (bilinear sampling,
    re-binarised at 0.5). frames: [N, H, W] bool or {0,1}; returns uint8 {0,1} [N, size, size].
    Empty frames stay empty.
    """
    mask = torch.as_tensor(np.asarray(frames) if not torch.is_tensor(frames) else frames) > 0  # [N, H, W]
    n, h, w = mask.shape
    rows = mask.any(2)  # [N, H]
    has = rows.any(1)
    top = rows.byte().argmax(1).float()  # first foreground row (0 when empty)
    bottom = (h - 1 - rows.flip(1).byte().argmax(1)).float()
    bottom = torch.where(has, bottom, torch.full_like(bottom, h - 1))
    col_mass = mask.sum(1, dtype=torch.int32)  # [N, W]
    cum = col_mass.cumsum(1)
    # Centre: the first column where the cumulative mass reaches half (OpenGait's rule).
    half_col = (2 * cum < cum[:, -1:]).sum(1).float()  # [N]
    cx = torch.where(has, half_col + 0.5, torch.full_like(half_col, w / 2))
    scale = (bottom + 1 - top) / size  # [N] input pixels per output pixel
    grid_i = torch.arange(size, dtype=torch.float32) + 0.5  # output pixel centres
    y_in = top[:, None] + grid_i * scale[:, None]  # [N, size] continuous input coordinates
    x_in = cx[:, None] + (grid_i - size / 2) * scale[:, None]
    grid = torch.empty(n, size, size, 2)
    grid[..., 0] = (2 * x_in / w - 1)[:, None, :]
    grid[..., 1] = (2 * y_in / h - 1)[:, :, None]
    out = F.grid_sample(
        mask[:, None].float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return (out[:, 0] >= 0.5).numpy().astype(np.uint8)
