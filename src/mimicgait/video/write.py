"""Extracted sequences on disk, in a layout the data layer reads, and the preview GIF.

- `npz` (default): `<out>/<sid>.npz`, entries `<cond>/<view>` of frames bit-packed along the width
  plus `__width__`, as `mimicgait data convert` writes them. Writing into an existing archive
  (with `force`) keeps its other entries.
- `pkl`: `<out>/<sid>/<cond>/<view>/<view>.pkl`, one `[T, H, W]` uint8 0/255 array (OpenGait).
- `png`: `<out>/<sid>/<cond>/<view>/<nnn>.png`, one 0/255 image per frame, named by video frame.

`planned_paths` lists what a run will write, so a command can refuse existing files before any
decoding; every file is written atomically.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from mimicgait.data.sources import WIDTH_ENTRY
from mimicgait.errors import UserError
from mimicgait.io import os_errors, write_atomic
from mimicgait.video.extract import Extraction
from mimicgait.video.naming import SequenceId

if TYPE_CHECKING:
    from mimicgait.video.people import VideoPeople

OUTPUT_FORMATS = ("npz", "png", "pkl")


def sequence_path(out: Path, sequence: SequenceId, fmt: str) -> Path:
    """The file (npz, pkl) or folder (png) a sequence is written to."""
    if fmt == "npz":
        return out / f"{sequence.subject}.npz"
    folder = out / sequence.subject / sequence.condition / sequence.view
    return folder / f"{sequence.view}.pkl" if fmt == "pkl" else folder


def planned_paths(out: Path, sequences: Iterable[SequenceId], fmt: str) -> list[Path]:
    """Distinct output paths of the sequences, in order."""
    return list(dict.fromkeys(sequence_path(out, s, fmt) for s in sequences))


def existing_outputs(out: Path, sequences: Iterable[SequenceId], fmt: str) -> list[Path]:
    """The planned paths already present (a png folder counts when it holds any file)."""
    found = []
    for path in planned_paths(out, sequences, fmt):
        if path.is_dir() and any(path.iterdir()) or path.is_file():
            found.append(path)
    return found


def write_sequences(extractions: list[Extraction], out: str | Path, fmt: str = "npz") -> list[Path]:
    """Write the extractions (each with a `sequence`) under `out`; returns the paths written.

    Existing outputs are replaced: the caller checks them first (`existing_outputs`).
    """
    if fmt not in OUTPUT_FORMATS:
        raise UserError(f"--format {fmt!r}: use one of {', '.join(OUTPUT_FORMATS)}")
    out = Path(out)
    written: list[Path] = []
    if fmt == "npz":
        by_subject: dict[str, dict[str, np.ndarray]] = {}
        for item in extractions:
            entry = f"{item.sequence.condition}/{item.sequence.view}"
            by_subject.setdefault(item.sequence.subject, {})[entry] = np.packbits(item.frames, axis=-1)
        for subject, entries in by_subject.items():
            path = out / f"{subject}.npz"
            merged = _existing_entries(path)
            merged.update(entries)
            merged[WIDTH_ENTRY] = np.array([extractions[0].frames.shape[-1]], np.int64)
            with os_errors(path, "--out"):
                write_atomic(path, lambda f, e=merged: np.savez_compressed(f, **e))
            written.append(path)
        return written
    for item in extractions:
        path = sequence_path(out, item.sequence, fmt)
        grey = item.frames * np.uint8(255)  # [T, H, W] 0/255
        with os_errors(path, "--out"):
            if fmt == "pkl":
                write_atomic(path, lambda f, a=grey: pickle.dump(a, f, protocol=4))
            else:
                if path.is_dir():
                    for old in path.glob("*.png"):  # a replaced sequence leaves no stale frames
                        old.unlink()
                for frame, index in zip(grey, item.frame_index, strict=True):
                    name = path / f"{int(index):04d}.png"
                    write_atomic(name, lambda f, a=frame: Image.fromarray(a).save(f, "PNG"))
        written.append(path)
    return written


def _existing_entries(path: Path) -> dict[str, np.ndarray]:
    """The entries of an archive about to be rewritten (none when it does not exist)."""
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except Exception as err:
        raise UserError(f"{path}: cannot read the existing archive to add to it ({err}); "
                        "move it away") from err


def write_preview(extraction: Extraction, path: str | Path, fps: float = 25.0) -> Path:
    """An animated GIF of the preview panels (frame | mask | silhouette), one per video frame."""
    if not extraction.preview:
        raise ValueError("the extraction holds no preview panels; call extract(..., preview=True)")
    pictures = [Image.fromarray(panel) for panel in extraction.preview]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:],
                     duration=max(20, round(1000 / fps)), loop=0, optimize=False)
    data = buffer.getvalue()
    with os_errors(path, "--preview"):
        return write_atomic(path, lambda f: f.write(data))


def existing_track_outputs(out: Path, sequence: SequenceId | None, stem: str, fmt: str) -> list[Path]:
    """What a video's tracks could replace in `out`: the video's own sequence path (one track) and
    any `<video>-t<k>` sequence (several), found before decoding since the track count is not
    known yet."""
    found = existing_outputs(out, [sequence], fmt) if sequence is not None else []
    base = sequence.name if sequence is not None else stem
    pattern = f"{base}-t*.npz" if fmt == "npz" else f"{base}-t*"
    if not out.is_dir():
        return found
    return found + sorted(out.glob(pattern))


def write_track_masks(people: VideoPeople, path: str | Path) -> Path:
    """`path` (.npz, compressed): per track `track_<k>`, its full-frame visible mask `[T, H, W]` bool
    over every decoded frame (all False where the track is absent), for scoring against any truth."""
    arrays = {f"track_{k}": people.masks[k] for k in people.masks}
    with os_errors(path, "--masks"):
        return write_atomic(path, lambda f: np.savez_compressed(f, **arrays))
