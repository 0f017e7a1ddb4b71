"""Synthetic walking silhouettes in the CASIA-B layout, for tests, demos and sanity checks.

A person (`mimicgait.data.synthetic_body`) is a set of 3D capsules moving with textbook gait
kinematics; a camera at the view angle (CASIA-B style: 000 front, 090 side, 180 behind) sees them
as 2D stadiums, rasterised with segmentation noise and pretreated as real data is
(`mimicgait.data.rasterise`). Missing frames are dropped here.

`generate_dataset` writes the packed archive format of the CASIA-B copy in /work/shared/data
(`<sid>.npz`, entries `<cond>-<nn>/<view>` = np.packbits(frames, axis=-1)) plus an OpenGait
style `partition.json`, which `mimicgait.data.sources.open_dataset` reads like real data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimicgait.data.rasterise import pretreat_batch, project, rasterise_capsules, segmentation_noise
from mimicgait.data.synthetic_body import (
    SubjectParams,
    WalkParams,
    body_capsules,
    sample_subject,
    sample_walk,
)
from mimicgait.errors import UserError
from mimicgait.io import make_output_dir, write_atomic

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
CONDITIONS: tuple[str, ...] = tuple(
    [f"nm-{i:02d}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"]
)

_RENDER_SCALE = 2  # rasterise at twice the output height, then pretreat down


def _keep_frames(frames: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the frames a camera kept: a few dropped at random, sometimes a short gap."""
    keep = rng.random(frames) >= rng.uniform(0.0, 0.06)
    if frames >= 20 and rng.random() < 0.2:
        gap = int(rng.integers(2, 8))
        start = int(rng.integers(0, frames - gap))
        keep[start : start + gap] = False
    if keep.sum() < max(1, frames // 2):
        keep[:] = True
    return np.flatnonzero(keep)


def render_walk(
    subject: SubjectParams,
    walk: WalkParams,
    views: Sequence[float],
    frames: int,
    size: int,
    rng: np.random.Generator | Sequence[np.random.Generator],
) -> list[np.ndarray]:
    """One walk seen by several cameras at once (as CASIA-B records every view simultaneously).

    `rng` drives the per-camera nuisance (segmentation noise, missing frames): one generator for
    all views, or one per view. Returns one uint8 {0,1} array [T_v, size, size] per view;
    T_v <= frames after missing frames.
    """
    rngs = [rng] * len(views) if isinstance(rng, np.random.Generator) else list(rng)
    if len(rngs) != len(views):
        raise ValueError(f"got {len(rngs)} generators for {len(views)} views; pass one or one per view")
    a, b, r = body_capsules(subject, walk, frames)  # [T, K, 3], [T, K, 3], [K]
    out = []
    for view, view_rng in zip(views, rngs, strict=True):
        a2, b2 = project(a, b, float(view))  # [T, K, 2]
        masks = rasterise_capsules(a2, b2, r, rows=_RENDER_SCALE * size)  # [T, 2 size, 2 size]
        masks = segmentation_noise(masks, view_rng)
        kept = _keep_frames(frames, view_rng)
        seq = pretreat_batch(masks[kept], size)  # [T_v, size, size]
        out.append(seq[seq.any(axis=(1, 2))])  # frames without foreground are dropped, as for real data
    return out


def render_sequence(
    subject: SubjectParams,
    view_deg: float,
    condition: str,
    frames: int = 60,
    size: int = 64,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """One sequence of `subject` walking under `condition` ('nm-01', 'bg-02', 'cl-01', ...) seen from
    `view_deg`: uint8 {0,1} [T, size, size], T <= frames (a few frames go missing, as in real data)."""
    rng = np.random.default_rng() if rng is None else rng
    walk = sample_walk(subject, condition, rng)
    return render_walk(subject, walk, [view_deg], frames, size, rng)[0]


def _subject_archive(
    seed: int, index: int, frames: int, size: int, views: Sequence[str], conditions: Sequence[str]
) -> dict[str, np.ndarray]:
    """Every sequence of subject number `index` as packed archive entries.

    Random streams are keyed by (seed, subject index, condition name, view name), so a sequence
    does not change when other subjects, conditions or views are added or left out.
    """
    subject = sample_subject(np.random.default_rng([seed, index, 0]))
    entries = {}
    for cond in conditions:
        walk = sample_walk(subject, cond, np.random.default_rng([seed, index, 1, *cond.encode()]))
        rngs = [np.random.default_rng([seed, index, 2, *cond.encode(), int(v)]) for v in views]
        seqs = render_walk(subject, walk, [float(v) for v in views], frames, size, rngs)
        for view, seq in zip(views, seqs, strict=True):
            entries[f"{cond}/{view}"] = np.packbits(seq, axis=-1)  # [T, size, size / 8]
    return entries


def _write_subject(job: tuple) -> str:
    """Render one subject and write its archive atomically (a full disk leaves no torn file)."""
    out_dir, sid, *args = job
    torch.set_num_threads(1)
    entries = _subject_archive(*args)
    write_atomic(Path(out_dir) / f"{sid}.npz", lambda f: np.savez_compressed(f, **entries))
    return sid


def _remove_temporaries(out: Path, sids: Sequence[str]) -> None:
    """Delete the temporary files of archive writes that a failure cut short (worker processes are
    stopped mid-write when another one fails)."""
    for sid in sids:
        for tmp in out.glob(f".{sid}.npz.*.tmp"):
            tmp.unlink(missing_ok=True)


def generate_dataset(
    out_dir: str | Path,
    subjects: int,
    seed: int,
    frames: int = 60,
    size: int = 64,
    views: Iterable[str | int] = VIEWS,
    conditions: Iterable[str] = CONDITIONS,
    train_fraction: float = 0.6,
    progress: bool = True,
    workers: int = 1,
) -> Path:
    """Write a synthetic CASIA-B-like dataset to `out_dir` and return its path.

    Files: `<sid>.npz` per subject (sid = 001, 002, ...; entries `<cond>/<view>`, uint8
    [T, size, size / 8] bit-packed along the width) and `partition.json` with TRAIN_SET (the first
    `train_fraction` of the subjects) and TEST_SET. The result depends only on the arguments (not
    on `workers`, which sets the number of processes). Every file is written atomically: a failure
    (a full disk) leaves no torn archive and no temporary file.
    """
    if subjects < 1:
        raise UserError(f"subjects={subjects}: need at least one subject")
    if size % 8:
        raise UserError(f"size={size}: must be a multiple of 8 (frames are bit-packed along the width)")
    if frames < 1:
        raise UserError(f"frames={frames}: need at least one frame")
    if not 0.0 <= train_fraction <= 1.0:
        raise UserError(f"train_fraction={train_fraction}: must lie in [0, 1]")
    views = [f"{int(v):03d}" for v in views]
    conditions = list(conditions)
    for cond in conditions:
        if cond.split("-")[0] not in ("nm", "bg", "cl"):
            raise UserError(f"condition {cond!r}: expected nm-NN, bg-NN or cl-NN")
    out = make_output_dir(out_dir, "--out")
    sids = [f"{i + 1:03d}" for i in range(subjects)]
    jobs = [(str(out), sid, seed, i, frames, size, views, conditions) for i, sid in enumerate(sids)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=subjects, desc="synth", unit="subject")
    try:
        _write_subjects(jobs, workers, bar)
    except BaseException:
        _remove_temporaries(out, sids)
        raise
    finally:
        if bar is not None:
            bar.close()
    n_train = int(round(train_fraction * subjects))
    text = json.dumps({"TRAIN_SET": sids[:n_train], "TEST_SET": sids[n_train:]}, indent=1) + "\n"
    write_atomic(out / "partition.json", lambda f: f.write(text.encode()))
    return out


def _write_subjects(jobs: list[tuple], workers: int, bar: Any) -> None:
    """Write every subject's archive, in `workers` processes (one: in this one), advancing `bar`."""
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_write_subject, jobs):
                if bar is not None:
                    bar.update(1)
        return
    threads = torch.get_num_threads()
    try:
        for job in jobs:
            _write_subject(job)
            if bar is not None:
                bar.update(1)
    finally:
        torch.set_num_threads(threads)
