"""Write any supported source as an OpenGait pkl tree or as the packed archive format.

- `pkl`: `<out>/<sid>/<type>/<view>/<view>.pkl`, one pickled `[T, H, W]` uint8 array of 0/255 per
  sequence (OpenGait's pretreatment output, readable by OpenGait itself).
- `npz`: `<out>/<sid>.npz` per subject, entries `<type>/<view>` of frames bit-packed along the width
  (`numpy.unpackbits(a, axis=-1, count=W)` restores them), compressed, plus an entry `__width__`
  holding W (needed when W is not a multiple of 8, e.g. OpenGait's 44-pixel crops).

The source is only read. Sequence names become folder and file names, so each is checked
(`data.names`) before its path is made: no name can put a file outside `out`. Every file is
written to a hidden temporary name in its final folder and renamed into place, so an interrupted
conversion leaves whole files or none, never a torn one.
"""

from __future__ import annotations

import json
import logging
import pickle
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mimicgait.data.names import check_key
from mimicgait.data.records import SequenceRecord
from mimicgait.data.sources import WIDTH_ENTRY, SequenceSource
from mimicgait.errors import UserError
from mimicgait.io import check_output_dir, make_output_dir, write_atomic

log = logging.getLogger(__name__)

OUTPUT_FORMATS = ("pkl", "npz")


def _check_destination(source: SequenceSource, out: Path, force: bool) -> None:
    src, dst = source.root.resolve(), out.resolve()
    if dst == src or src in dst.parents or dst in src.parents:
        raise UserError(f"--out {out} overlaps the source {source.root}; choose a separate directory")
    check_output_dir(out, "--out", empty=True, force=force)


def _undo(out: Path, before: set[Path] | None) -> None:
    """Remove what a failed conversion wrote: all of `out` when it did not exist (`before` None),
    else the files and folders that were not in `before` (files it replaced cannot come back)."""
    if before is None:
        shutil.rmtree(out, ignore_errors=True)
        return
    for path in sorted(out.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path in before:
            continue
        if path.is_dir() and not path.is_symlink():
            if not any(path.iterdir()):
                path.rmdir()
        else:
            path.unlink(missing_ok=True)


def convert(
    source: SequenceSource,
    out: str | Path,
    fmt: str,
    subjects: Iterable[str] | None = None,
    force: bool = False,
) -> dict[str, int]:
    """Write the source's sequences (or the given subjects') to `out` in format `fmt`.

    Returns counts {'sequences', 'files', 'frames'}. The source's partition, if any, is written
    as `<out>/partition.json`. A conversion that fails (a bad file without `errors='skip'`, a full
    disk, Ctrl-C) removes what it wrote, so no partial output directory is taken for a whole one.
    """
    if fmt not in OUTPUT_FORMATS:
        raise UserError(f"unknown output format {fmt!r}; use one of {', '.join(OUTPUT_FORMATS)}")
    out = Path(out)
    _check_destination(source, out, force)
    before = set(out.rglob("*")) if out.is_dir() else None
    make_output_dir(out, "--out")
    try:
        return _write(source, out, fmt, subjects)
    except BaseException:
        _undo(out, before)  # no partial output directory is left behind
        raise


def _write(source: SequenceSource, out: Path, fmt: str, subjects: Iterable[str] | None) -> dict[str, int]:
    """The conversion proper (see `convert`), into an existing directory `out`."""
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
        check_key(record.key, f"{source.root}: sequence {'/'.join(record.key)!r}")  # names become paths
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
