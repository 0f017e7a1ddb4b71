"""Shared test helpers: a tiny learnable silhouette dataset written as npz archives, tiny configs, and
every registered encoder at a tiny width."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from mimicgait.engine.config import load_config


def make_dataset(root: Path, subjects: int = 6, conditions: int = 4, views: int = 2, frames: int = 12,
                 size: int = 32, seed: int = 0) -> Path:
    """Write `<sid>.npz` archives of moving blobs whose shape depends on the subject (so identity is
    learnable), plus a partition.json with every subject in TRAIN_SET."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = np.arange(size)[:, None]
    cols = np.arange(size)[None, :]
    for s in range(subjects):
        width = 3 + 2 * (s % 4)
        top = 2 + 3 * (s // 4)
        entries = {}
        for c in range(conditions):
            for v in range(views):
                t = np.arange(frames)[:, None, None]
                shift = (2 * np.sin(t * 0.8 + c + v)).round().astype(int)
                centre = size // 2 + shift
                body = (np.abs(cols - centre) <= width // 2) & (rows >= top) & (rows < size - 2)
                noise = rng.random((frames, size, size)) < 0.02
                sil = (body ^ noise).astype(np.uint8)  # [T, H, W]
                entries[f"nm-{c + 1:02d}/{v * 90:03d}"] = np.packbits(sil, axis=-1)
        np.savez_compressed(root / f"{s + 1:03d}.npz", **entries)
    ids = [f"{s + 1:03d}" for s in range(subjects)]
    (root / "partition.json").write_text(json.dumps({"TRAIN_SET": ids, "TEST_SET": []}))
    return root


def tiny_config(*overrides: str) -> dict:
    """The built-in tiny config with test overrides (no progress bar, CPU)."""
    return load_config("tiny", ["train.progress=false", "train.device=cpu", *overrides])


#: Every registered encoder (and each DeepGaitV2 variant) at a tiny width, for 32x22 inputs; keyed
#: "name" or "name-variant". tests/test_models.py checks it covers `list_encoders()`.
TINY_ENCODERS = {
    "gaitbase": dict(channels=(4, 8, 8, 16), out_channels=8),
    "gaitgl": dict(channels=(4, 8, 8), parts=32),
    "deepgaitv2": dict(channels=(4, 8, 8, 16), layers=(1, 1, 1, 1)),
    "deepgaitv2-3d": dict(channels=(4, 8, 8, 16), layers=(1, 1, 1, 1), variant="3d"),
    "gaitset": dict(channels=(4, 8, 8), out_channels=8),
    "gaitpart": dict(channels=(4, 8, 8), out_channels=8),
}


def casia_b_root() -> Path | None:
    """The packed CASIA-B folder (with train/): MIMICGAIT_CASIA_B, or ../shared/data/casia-b beside
    the clone; None when absent (tests that need it skip)."""
    import os

    env = os.environ.get("MIMICGAIT_CASIA_B")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data" / "casia-b"
    return root if (root / "train").is_dir() else None


def casia_b_videos() -> Path | None:
    """CASIA-B's raw videos: MIMICGAIT_CASIA_B_VIDEOS, or ../shared/data/casia-b-videos beside the
    clone; None when absent."""
    import os

    env = os.environ.get("MIMICGAIT_CASIA_B_VIDEOS")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data" / "casia-b-videos"
    return root if (root / "001-nm-01-090.avi").is_file() else None


#: Command-line options that train the built-in tiny config on the CPU without a progress bar.
TINY_CLI = ["--config", "tiny", "--set", "train.progress=false", "--set", "train.device=cpu"]


def cli(capsys, *args: object) -> tuple[int, str]:
    """(exit status, stderr) of `mimicgait ARGS` run in this process."""
    from mimicgait.cli import main

    capsys.readouterr()
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


def hashes(*roots: Path) -> dict[str, str]:
    """sha256 of every file under `roots` (and the names of every directory): what "nothing
    changed" is checked against."""
    out = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out
