"""Output files: atomic writes, and checks of output paths before any long work starts.

Every file the library writes that a later run relies on (checkpoints, converted datasets, reports)
goes through `write_atomic`: the content is written to a temporary file beside the target, flushed
to disk, and renamed over the target in one step, so a killed process never leaves a half-written
file in place of a good one. An OS error while writing (disk full, no permission) becomes a
`UserError` naming the file.

Every command checks its output paths first, with `check_output_file` / `check_output_dir`: an
output that is a file where a directory is expected (or the reverse), a location without write
permission, or an existing file that would be overwritten without `--force` is reported in one
line before the first minute of work, not after the last one; `check_not_an_input` refuses, even
with `--force`, an output that is one of the command's own inputs (or lies inside an input
directory). `os_errors` turns an OS error of a block of code into a `UserError` naming the path.

`mimicgait.dirlock.directory_lock` keeps a second process from writing into a directory in use;
its lock file (`LOCK_NAME`) is the one entry the directory checks here ignore.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from mimicgait.errors import UserError, path_error

#: The lock file `directory_lock` keeps inside a directory in use; directory checks ignore it.
LOCK_NAME = ".mimicgait.lock"


def file_mode() -> int:
    """The mode a new file gets under this process's umask (0o666 & ~umask); temporary files made
    with mkstemp (0600) are given it before they take a target's place."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call `write(file)` on a temporary binary file next to `path`, fsync it, rename it to `path`.

    An OS error (no permission, disk full, a file where a folder should be) raises a `UserError`
    naming `path`; the temporary file is removed and `path` keeps its previous content.
    """
    path = Path(path)
    with os_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os_errors(path):
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; give the file the usual mode
                os.fchmod(fd, file_mode())
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # some filesystems refuse fsync on directories
        pass
    return path


@contextmanager
def os_errors(path: str | Path, what: str = "") -> Iterator[None]:
    """Turn an `OSError` raised inside the block into a `UserError` naming `path` (and `what`, the
    option it came from), so the command line prints one line instead of a traceback."""
    try:
        yield
    except UserError:
        raise
    except OSError as err:
        raise path_error(err, path, what) from err


def nearest_existing(path: Path) -> Path:
    """`path` or its closest ancestor that exists (what a later mkdir would create inside)."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def read_only_storage(path: str | Path) -> bool:
    """Whether the existing `path` lies on a file system mounted read-only (False when unknown)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (not POSIX), or the path vanished
        return False


def _check_can_create(path: Path, what: str) -> None:
    """Refuse `path` when it cannot be created: an ancestor is a file or is not writable."""
    base = nearest_existing(path.parent if path.parent != path else path)
    if not base.is_dir():
        raise UserError(f"{what} {path}: {base} is a file, not a directory; choose another location")
    if read_only_storage(base):
        raise UserError(f"{what} {path}: {base} is on a read-only file system; choose another location")
    if not os.access(base, os.W_OK | os.X_OK):
        raise UserError(f"{what} {path}: no permission to write in {base}; choose another location")


def check_output_file(
    path: str | Path,
    force: bool = False,
    what: str = "--out",
    replaceable: Callable[[Path], bool] | None = None,
) -> Path:
    """Check, before any work, that a command may write the file `path`; returns it as a Path.

    Refused with a `UserError` naming `what` (the option, e.g. '--json') and the path: a directory
    at `path`, an existing file when `force` is false (nothing a user made is overwritten without
    asking) unless `replaceable(path)` says it is this command's own earlier output (a report the
    command wrote before), and a location where the file cannot be created (an ancestor is a file,
    or not writable). Nothing is created.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {path} is a directory; give a file name")
    if path.exists() or path.is_symlink():
        if not force and not (replaceable is not None and replaceable(path)):
            raise UserError(
                f"{what} {path} already exists; choose another name or pass --force to overwrite it"
            )
        if not os.access(path, os.W_OK):
            raise UserError(f"{what} {path}: no permission to overwrite it; choose another name")
    _check_can_create(path, what)
    return path


def _same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file (links and hard links included); a path that does not
    exist is compared by its resolved name."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_not_an_input(
    path: str | Path, what: str, inputs: Iterable[tuple[str, str | Path | None]]
) -> None:
    """Refuse the output `path` (option `what`) when it is one of the command's inputs, given as
    (option, path) pairs (None: option not given), or lies inside an input directory.

    Checked even with `--force`, which allows replacing earlier outputs, never the gallery, model,
    report or data the command is reading: a `UserError` naming both options.
    """
    out = Path(path)
    for option, given in inputs:
        if given is None or str(given) == "":
            continue
        source = Path(given)
        if _same_file(out, source):
            raise UserError(f"{what} {out} is the input {option} {source}; the command would destroy what it "
                            "reads. Choose another name")
        if source.is_dir() and out.resolve().is_relative_to(source.resolve()):
            raise UserError(f"{what} {out} lies inside the input {option} {source}; write it outside "
                            "that directory")


def check_output_dir(
    path: str | Path, what: str = "--out", empty: bool = False, force: bool = False
) -> Path:
    """Check, before any work, that a command may write into the directory `path`; returns it.

    Refused with a `UserError` naming `what` and the path: a file at `path`, a directory without
    write permission, a location where it cannot be created, and, with `empty=True` (a command
    that fills a whole directory, such as `synth`), an existing non-empty directory unless `force`
    is true. Commands that continue their own earlier output (train --resume, pipeline) pass
    `empty=False` and check what they find themselves. Nothing is created.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} is a file; give a directory")
    if path.is_dir():
        if read_only_storage(path):
            raise UserError(f"{what} {path} is on a read-only file system; choose another directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UserError(f"{what} {path}: no permission to write in it; choose another directory")
        if empty and not force and any(path.iterdir()):
            raise UserError(
                f"{what} {path} is not empty; choose a new directory or pass --force to overwrite its files"
            )
        return path
    _check_can_create(path, what)
    return path


def make_output_dir(path: str | Path, what: str = "--out") -> Path:
    """`mkdir -p path`, an OS error becoming a `UserError` naming `what` and the path."""
    path = Path(path)
    with os_errors(path, what):
        path.mkdir(parents=True, exist_ok=True)
    return path


def check_own_directory(path: Path, allowed: set[str] | frozenset[str], kind: str) -> None:
    """Refuse an existing directory `path` that holds entries other than `allowed` (the names a
    `kind`, e.g. 'training run', writes): a command continuing its own output never writes into
    someone else's files."""
    if not path.is_dir():
        return
    foreign = sorted(p.name for p in path.iterdir() if p.name not in allowed and p.name != LOCK_NAME)
    if foreign:
        more = ", ..." if len(foreign) > 3 else ""
        raise UserError(f"--out {path} holds files that are not {kind} ({', '.join(foreign[:3])}{more}); "
                        "choose a new or empty directory")
