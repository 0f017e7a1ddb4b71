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

`directory_lock` keeps a second process from writing into a directory in use (a training run, a
pipeline): a kernel lock (flock) on a file inside it, released by the kernel when its holder dies,
so a killed run never blocks its rerun.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from mimicgait.errors import UserError, path_error

try:
    import fcntl
except ImportError:  # not POSIX: directories are not locked
    fcntl = None  # type: ignore[assignment]

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


def _nearest_existing(path: Path) -> Path:
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
    base = _nearest_existing(path.parent if path.parent != path else path)
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


def _holder(lock: Path) -> str:
    """The PID written in a lock file, for the message of a refused second writer."""
    try:
        pid = lock.read_text().strip()
    except OSError:
        pid = ""
    return f"PID {pid}" if pid.isdigit() else "PID unknown"


def _open_locked(lock: Path, path: Path, what: str) -> int:
    """Open `lock` and take its exclusive lock without waiting; returns the descriptor.

    A holder removes its lock file on release, so a lock taken on a file that is no longer at
    `lock` (removed between our open and our flock) is dropped and taken again on the new file.
    """
    while True:
        with os_errors(lock, what):
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise path_error(err, lock, what) from err
            raise UserError(f"{what} {path} is in use by another mimicgait process ({_holder(lock)}, lock "
                            f"file {lock}); wait for it to finish or choose another {what}") from None
        try:
            current = os.stat(lock).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:
            return fd
        os.close(fd)


def _remove_created(path: Path, top: Path) -> None:
    """Remove the directories from `path` up to (not including) `top` that are still empty: what
    `directory_lock` created for a run that then wrote nothing."""
    current = path
    while current != top and top in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent


#: Directories this process holds with `directory_lock` (resolved paths).
_HELD: set[str] = set()


@contextmanager
def directory_lock(path: str | Path, what: str = "--out") -> Iterator[Path]:
    """Hold the directory `path` (created if missing) for this process while the block runs.

    A second process asking for the same directory gets a `UserError` naming it and the PID of the
    holder (written into the lock file `LOCK_NAME`); the process holding it may ask again (the demo
    holds its directory while it prepares data and runs the pipeline, which takes the lock too),
    and the inner hold shares the outer's. The lock is the kernel's (flock), so a holder killed
    with SIGKILL releases it and a rerun proceeds. On exit the lock file is removed, and
    directories this call created that are still empty are removed too, so a refused or failed
    start leaves no trace.
    """
    path = Path(path)
    if path.is_dir() and str(path.resolve()) in _HELD:  # held by this process already (the demo's run)
        yield path
        return
    top = _nearest_existing(path)
    make_output_dir(path, what)
    if fcntl is None:
        yield path
        return
    lock = path / LOCK_NAME
    try:
        fd = _open_locked(lock, path, what)
    except BaseException:
        _remove_created(path, top)
        raise
    key = str(path.resolve())
    _HELD.add(key)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        _HELD.discard(key)
        lock.unlink(missing_ok=True)  # while still held: a waiting opener then sees another file
        os.close(fd)
        _remove_created(path, top)
