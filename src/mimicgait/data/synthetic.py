"""Synthetic walking silhouettes in the CASIA-B layout, for tests, demos and sanity checks.

A person (`mimicgait.data.synthetic_body`) is a set of 3D capsules moving with textbook gait
kinematics. An orthographic camera turned about the vertical axis by the view angle (CASIA-B style:
000 sees the walker from the front, 090 from the side, 180 from behind) projects every capsule to a
2D stadium, exactly. Each stadium covers one interval of every image row, so a frame is rasterised
by writing +1/-1 at the interval ends and taking a running sum along the row: the cost grows with
rows x parts, not pixels x parts, and all frames (and views) of a walk are rasterised at once.
Segmentation noise and missing frames follow, then the pretreatment real data gets (crop to the
person, scale to the frame height, centre on the horizontal centroid).

`generate_dataset` writes the packed archive format of the CASIA-B copy in /work/shared/data
(`<sid>.npz`, entries `<cond>-<nn>/<view>` = np.packbits(frames, axis=-1)) plus an OpenGait
style `partition.json`, which `mimicgait.data.sources.open_source` reads like real data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mimicgait.data.synthetic_body import SubjectParams, WalkParams, body_capsules, sample_subject, sample_walk

__all__ = [
    "CONDITIONS",
    "VIEWS",
    "SubjectParams",
    "WalkParams",
    "generate_dataset",
    "pretreat_batch",
    "rasterise_capsules",
    "render_sequence",
    "render_walk",
    "sample_subject",
    "sample_walk",
]

VIEWS: tuple[str, ...] = tuple(f"{v:03d}" for v in range(0, 181, 18))
CONDITIONS: tuple[str, ...] = tuple([f"nm-{i:02d}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"])

_RENDER_SCALE = 2  # rasterise at twice the output height, then pretreat down
_WIDTH_RATIO = 1.5  # rendered width / height: wide enough for a full stride and outstretched arms


def project(a: np.ndarray, b: np.ndarray, view_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic projection of capsule end points [T, K, 3] to image (u, v) [T, K, 2].

    The camera circles the walker: at 000 it faces the walker's front, at 090 the walker's left
    side (walking towards the image left, as in CASIA-B), at 180 the back. v is height (up).
    """
    th = np.radians(view_deg)
    right = np.array([-np.sin(th), 0.0, -np.cos(th)])  # image horizontal axis in body coordinates
    proj = np.stack([right, np.array([0.0, 1.0, 0.0])], 1)  # [3, 2]
    return a @ proj, b @ proj


def _linear_interval(c: np.ndarray, m: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float):
    """Solutions x of lo <= c + m x <= hi as (left, right); (inf, -inf) when empty."""
    flat = np.abs(m) < 1e-9
    safe = np.where(flat, 1.0, m)
    x1, x2 = (lo - c) / safe, (hi - c) / safe
    left, right = np.minimum(x1, x2), np.maximum(x1, x2)
    inside = (c >= lo) & (c <= hi)
    left = np.where(flat, np.where(inside, -np.inf, np.inf), left)
    right = np.where(flat, np.where(inside, np.inf, -np.inf), right)
    return left, right


def _row_intervals(a: np.ndarray, b: np.ndarray, r: np.ndarray, y: np.ndarray):
    """Where each row crosses each 2D stadium.

    a, b: [N, K, 2] segment ends; r: [K]; y: [N, R] row heights. Returns left and right x bounds
    [N, K, R] (left > right where the row misses the part).
    """
    ax, ay = a[..., 0:1], a[..., 1:2]  # [N, K, 1]
    bx, by = b[..., 0:1], b[..., 1:2]
    rr = r[None, :, None]  # [1, K, 1]
    yy = y[:, None, :]  # [N, 1, R]
    with np.errstate(invalid="ignore"):
        # End disks.
        ha = rr * rr - (yy - ay) ** 2
        hb = rr * rr - (yy - by) ** 2
        sa, sb = np.sqrt(np.maximum(ha, 0.0)), np.sqrt(np.maximum(hb, 0.0))
        left = np.minimum(np.where(ha >= 0, ax - sa, np.inf), np.where(hb >= 0, bx - sb, np.inf))
        right = np.maximum(np.where(ha >= 0, ax + sa, -np.inf), np.where(hb >= 0, bx + sb, -np.inf))
        # Swept rectangle: 0 <= (p - a).u <= L and |(p - a).n| <= r, both linear in x along the row.
        dx, dy = bx - ax, by - ay
        length = np.maximum(np.sqrt(dx * dx + dy * dy), 1e-9)
        ux, uy = dx / length, dy / length
        rel = yy - ay
        l1, r1 = _linear_interval(-ax * ux + rel * uy, ux, 0.0, length)
        l2, r2 = _linear_interval(ax * uy + rel * ux, -uy, -rr, rr)
        rl, rrt = np.maximum(l1, l2), np.minimum(r1, r2)
        empty = rl > rrt
        left = np.minimum(left, np.where(empty, np.inf, rl))
        right = np.maximum(right, np.where(empty, -np.inf, rrt))
    return left, right


def rasterise_capsules(a: np.ndarray, b: np.ndarray, r: np.ndarray, rows: int,
                       width_ratio: float = _WIDTH_RATIO) -> np.ndarray:
    """Binary images of projected capsules, each frame framed to the person's height.

    a, b: [N, K, 2] projected end points (u, v); r: [K] radii. Frame n spans the vertical extent
    of its parts in `rows` rows, and `rows * width_ratio` columns centred on the mean u of the end
    points. Returns bool [N, rows, cols].
    """
    n, k, _ = a.shape
    cols = int(round(rows * width_ratio))
    top = np.max(np.maximum(a[..., 1], b[..., 1]) + r, axis=1)  # [N]
    bottom = np.min(np.minimum(a[..., 1], b[..., 1]) - r, axis=1)
    px = (top - bottom) / rows  # [N] pixel size
    centre = 0.5 * (a[..., 0] + b[..., 0]).mean(axis=1)  # [N]
    x0 = centre - 0.5 * cols * px
    y = top[:, None] - (np.arange(rows) + 0.5)[None, :] * px[:, None]  # [N, R]
    left, right = _row_intervals(a, b, r, y)  # [N, K, R]
    # Pixel j (centre x0 + (j + 0.5) px) is covered when left <= centre <= right.
    with np.errstate(invalid="ignore"):
        jl = np.ceil((left - x0[:, None, None]) / px[:, None, None] - 0.5)
        jr = np.floor((right - x0[:, None, None]) / px[:, None, None] - 0.5)
    jl = np.clip(np.nan_to_num(jl, nan=cols, posinf=cols, neginf=0), 0, cols).astype(np.int64)
    jr = np.clip(np.nan_to_num(jr, nan=-1, posinf=cols - 1, neginf=-1), -1, cols - 1).astype(np.int64)
    valid = jl <= jr
    # Difference array over [N, R, cols + 1]: +1 where a run starts, -1 just after it ends.
    row_base = (np.arange(n)[:, None, None] * rows + np.arange(rows)[None, None, :]) * (cols + 1)  # [N, 1, R]
    starts = (row_base + jl)[valid]
    ends = (row_base + jr + 1)[valid]
    total = n * rows * (cols + 1)
    diff = np.bincount(starts, minlength=total) - np.bincount(ends, minlength=total)
    diff = diff.astype(np.int16).reshape(n, rows, cols + 1)
    return np.cumsum(diff, axis=2, dtype=np.int16)[..., :cols] > 0


def _dilate(m: np.ndarray) -> np.ndarray:
    """3x3 binary dilation of [N, H, W] masks."""
    out = m.copy()
    out[:, 1:] |= m[:, :-1]
    out[:, :-1] |= m[:, 1:]
    rows = out.copy()
    out[:, :, 1:] |= rows[:, :, :-1]
    out[:, :, :-1] |= rows[:, :, 1:]
    return out


def _erode(m: np.ndarray) -> np.ndarray:
    """3x3 binary erosion of [N, H, W] masks."""
    return ~_dilate(~m)


def segmentation_noise(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Background-subtraction-like damage: ragged edges, thicker or thinner frames, missing patches.

    masks: bool [N, H, W] at render resolution; returns a new bool array of the same shape.
    """
    n, h, w = masks.shape
    dil, ero = _dilate(masks), _erode(masks)
    # Per frame: grow, shrink or keep the silhouette by one render pixel (half an output pixel).
    pick = rng.choice(3, size=n, p=[0.6, 0.2, 0.2])[:, None, None]
    out = np.where(pick == 1, dil, np.where(pick == 2, ero, masks))
    # Flip a fraction of the pixels on the silhouette boundary.
    edge = np.flatnonzero(dil & ~ero)
    flip_rate = rng.uniform(0.05, 0.3)
    flat = out.reshape(-1)
    flat[edge[rng.random(edge.size, dtype=np.float32) < flip_rate]] ^= True
    # Now and then a patch of the body is lost (it matched the background).
    lost = rng.random(n) < rng.uniform(0.0, 0.12)
    if lost.any():
        ph = rng.uniform(0.05, 0.2, n) * h
        pw = rng.uniform(0.1, 0.3, n) * w
        cy = rng.uniform(0.1, 0.95, n) * h
        cx = rng.uniform(0.35, 0.65, n) * w
        yy = np.abs(np.arange(h)[None, :] - cy[:, None]) < ph[:, None] / 2  # [N, H]
        xx = np.abs(np.arange(w)[None, :] - cx[:, None]) < pw[:, None] / 2  # [N, W]
        patch = lost[:, None, None] & yy[:, :, None] & xx[:, None, :]
        out &= ~patch
    return out


def pretreat_batch(frames: np.ndarray, size: int = 64) -> np.ndarray:
    """The OpenGait-style pretreatment of a batch of binary frames, vectorised.

    Each frame is cropped to the rows holding the person, scaled so the person fills `size` rows,
    centred on its horizontal centroid and cut or zero-padded to `size` columns (bilinear sampling,
    re-binarised at 0.5). frames: [N, H, W] bool or {0,1}; returns uint8 {0,1} [N, size, size].
    Empty frames stay empty.
    """
    x = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32))  # [N, H, W]
    n, h, w = x.shape
    rows = x.sum(2) > 0  # [N, H]
    has = rows.any(1)
    top = torch.where(has, rows.float().argmax(1), torch.zeros(n, dtype=torch.long)).float()
    bottom = torch.where(has, h - 1 - rows.flip(1).float().argmax(1), torch.full((n,), h - 1)).float()
    col_mass = x.sum(1)  # [N, W]
    total = col_mass.sum(1).clamp_min(1.0)
    cx = (col_mass * (torch.arange(w, dtype=torch.float32) + 0.5)).sum(1) / total  # [N] centroid
    cx = torch.where(has, cx, torch.full((n,), w / 2))
    scale = (bottom + 1 - top) / size  # [N] input pixels per output pixel
    grid_i = torch.arange(size, dtype=torch.float32) + 0.5  # output pixel centres
    y_in = top[:, None] + grid_i[None, :] * scale[:, None]  # [N, size] continuous input coordinates
    x_in = cx[:, None] + (grid_i[None, :] - size / 2) * scale[:, None]
    gy = (2 * y_in / h - 1)[:, :, None].expand(n, size, size)
    gx = (2 * x_in / w - 1)[:, None, :].expand(n, size, size)
    grid = torch.stack([gx, gy], -1)  # [N, size, size, 2]
    out = F.grid_sample(x[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (out[:, 0] >= 0.5).numpy().astype(np.uint8)


def _keep_frames(frames: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the frames a camera kept: a few dropped at random, sometimes a short gap."""
    keep = rng.random(frames) >= rng.uniform(0.0, 0.06)
    if frames >= 20 and rng.random() < 0.2:
        gap = int(rng.integers(2, 8))
        start = int(rng.integers(0, frames - gap))
        keep[start:start + gap] = False
    if keep.sum() < max(1, frames // 2):
        keep[:] = True
    return np.flatnonzero(keep)


def render_walk(subject: SubjectParams, walk: WalkParams, views: Sequence[float], frames: int, size: int,
                rng: np.random.Generator) -> list[np.ndarray]:
    """One walk seen by several cameras at once (as CASIA-B records every view simultaneously).

    Returns one uint8 {0,1} array [T_v, size, size] per view; T_v <= frames after missing frames.
    """
    a, b, r = body_capsules(subject, walk, frames)  # [T, K, 3], [T, K, 3], [K]
    out = []
    for view in views:
        a2, b2 = project(a, b, float(view))  # [T, K, 2]
        masks = rasterise_capsules(a2, b2, r, rows=_RENDER_SCALE * size)
        masks = segmentation_noise(masks, rng)
        kept = _keep_frames(frames, rng)
        out.append(pretreat_batch(masks[kept], size))
    return out


def render_sequence(subject: SubjectParams, view_deg: float, condition: str, frames: int = 60, size: int = 64,
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """One sequence of `subject` walking under `condition` ('nm-01', 'bg-02', 'cl-01', ...) seen from
    `view_deg`: uint8 {0,1} [T, size, size], T <= frames (a few frames go missing, as in real data)."""
    rng = np.random.default_rng() if rng is None else rng
    walk = sample_walk(subject, condition, rng)
    return render_walk(subject, walk, [view_deg], frames, size, rng)[0]


def _subject_archive(seed: int, index: int, frames: int, size: int, views: Sequence[str],
                     conditions: Sequence[str]) -> dict[str, np.ndarray]:
    """Every sequence of subject number `index` as packed archive entries; depends only on its arguments."""
    subject = sample_subject(np.random.default_rng([seed, index, 0]))
    entries = {}
    for ci, cond in enumerate(conditions):
        walk = sample_walk(subject, cond, np.random.default_rng([seed, index, 1, ci]))
        seqs = render_walk(subject, walk, [float(v) for v in views], frames, size,
                           np.random.default_rng([seed, index, 2, ci]))
        for view, seq in zip(views, seqs, strict=True):
            entries[f"{cond}/{view}"] = np.packbits(seq, axis=-1)  # [T, size, size / 8]
    return entries


def _write_subject(job: tuple) -> str:
    out_dir, sid, *args = job
    torch.set_num_threads(1)
    np.savez_compressed(Path(out_dir) / f"{sid}.npz", **_subject_archive(*args))
    return sid


def generate_dataset(out_dir: str | Path, subjects: int, seed: int, frames: int = 60, size: int = 64,
                     views: Iterable[str | int] = VIEWS, conditions: Iterable[str] = CONDITIONS,
                     train_fraction: float = 0.6, progress: bool = True, workers: int = 1) -> Path:
    """Write a synthetic CASIA-B-like dataset to `out_dir` and return its path.

    Files: `<sid>.npz` per subject (sid = 001, 002, ...; entries `<cond>/<view>`, uint8
    [T, size, size / 8] bit-packed along the width) and `partition.json` with TRAIN_SET (the first
    `train_fraction` of the subjects) and TEST_SET. The result depends only on the arguments (not
    on `workers`, which sets the number of processes).
    """
    if subjects < 1:
        raise ValueError(f"subjects={subjects}: need at least one subject")
    if size % 8:
        raise ValueError(f"size={size}: must be a multiple of 8 (frames are bit-packed along the width)")
    if frames < 1:
        raise ValueError(f"frames={frames}: need at least one frame")
    if not 0.0 <= train_fraction <= 1.0:
        raise ValueError(f"train_fraction={train_fraction}: must lie in [0, 1]")
    views = [f"{int(v):03d}" for v in views]
    conditions = list(conditions)
    for cond in conditions:
        if cond.split("-")[0] not in ("nm", "bg", "cl"):
            raise ValueError(f"condition {cond!r}: expected nm-NN, bg-NN or cl-NN")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sids = [f"{i + 1:03d}" for i in range(subjects)]
    jobs = [(str(out), sid, seed, i, frames, size, views, conditions) for i, sid in enumerate(sids)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=subjects, desc="synth", unit="subject")
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_write_subject, jobs):
                if bar is not None:
                    bar.update(1)
    else:
        threads = torch.get_num_threads()
        try:
            for job in jobs:
                _write_subject(job)
                if bar is not None:
                    bar.update(1)
        finally:
            torch.set_num_threads(threads)
    if bar is not None:
        bar.close()
    n_train = int(round(train_fraction * subjects))
    partition = {"TRAIN_SET": sids[:n_train], "TEST_SET": sids[n_train:]}
    (out / "partition.json").write_text(json.dumps(partition, indent=1) + "\n")
    return out
