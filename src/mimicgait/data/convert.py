"""Write any supported source as an OpenGait pkl tree or as the packed archive format.

- `pkl`: `<out>/<sid>/<type>/<view>/<view>.pkl`, one pickled `[T, H, W]` uint8 array of 0/255 per
  sequence (OpenGait's pretreatment output, readable by OpenGait itself).
- `npz`: `<out>/<sid>.npz` per subject, entries `<type>/<view>` of frames bit-packed along the width
  (`numpy.unpackbits(a, axis=-1, count=W)` restores them), compressed, plus an entry `__width__`
  holding W (needed when W is not a multiple of 8, e.g. OpenGait's 44-pixel crops).

The source is only read. Every file is written to a hidden temporary name in its final folder and
renamed into place, so an interrupted conversion leaves whole files or none, never a torn one.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mimicgait.data.records import SequenceRecord
from mimicgait.data.sources import WIDTH_ENTRY, SequenceSource
from mimicgait.errors import UserError
from mimicgait.io import write_atomic

log = logging.getLogger(__name__)

OUTPUT_FORMATS = ("pkl", "npz")


def _check_destination(source: SequenceSource, out: Path, force: bool) -> None:
    src, dst = source.root.resolve(), out.resolve()
    if dst == src or src in dst.parents or dst in src.parents:
        raise UserError(f"--out {out} overlaps the source {source.root}; choose a separate directory")
    if dst.exists() and not dst.is_dir():
        raise UserError(f"--out {out} is a file; choose a directory")
    if dst.is_dir() and any(dst.iterdir()) and not force:
        raise UserError(f"--out {out} is not empty; choose a new directory or pass --force to overwrite "
                         "its files")


def convert(
    source: SequenceSource,
    out: str | Path,
    fmt: str,
    subjects: Iterable[str] | None = None,
    force: bool = False,
) -> dict[str, int]:
    """Write the source's sequences (or the given subjects') to `out` in format `fmt`.

    Returns counts {'sequences', 'files', 'frames'}. The source's partition, if any, is written
    as `<out>/partition.json`.
    """
    if fmt not in OUTPUT_FORMATS:
        raise UserError(f"unknown output format {fmt!r}; use one of {', '.join(OUTPUT_FORMATS)}")
    out = Path(out)
    _check_destination(source, out, force)
    out.mkdir(parents=True, exist_ok=True)
    counts = {"sequences": 0, "files": 0, "frames": 0}
    pending: dict[str, np.ndarray] = {}  # npz: entries of the subject being collected
    current: str | None = None

    def flush_subject() -> None:
        if current is not None and pending:
            write_atomic(out / f"{current}.npz", lambda f: np.savez_compressed(f, **pending))
            counts["files"] += 1
        pending.clear()

    record: SequenceRecord
    for record in source.iter_records(subjects):
        counts["sequences"] += 1
        counts["frames"] += len(record.frames)
        if fmt == "pkl":
            grey = record.frames * np.uint8(255)  # [T, H, W] 0/255, as OpenGait stores silhouettes
            path = out / record.subject / record.condition / record.view / f"{record.view}.pkl"
            write_atomic(path, lambda f, a=grey: pickle.dump(a, f, protocol=4))
            counts["files"] += 1
        else:
            if record.subject != current:
                flush_subject()
                current = record.subject
            pending[f"{record.condition}/{record.view}"] = np.packbits(record.frames, axis=-1)
            pending[WIDTH_ENTRY] = np.array([record.frames.shape[-1]], dtype=np.int64)
    flush_subject()
    if source.partition is not None:
        text = json.dumps(source.partition, indent=1).encode()
        write_atomic(out / "partition.json", lambda f: f.write(text))
    log.debug("wrote %d sequences (%d frames) as %d %s file(s) to %s", counts["sequences"], counts["frames"],
             counts["files"], fmt, out)
    return counts
