"""One writer per output directory: `directory_lock`, a kernel lock (flock) on a file inside it.

A training run, a pipeline or the demo holds its `--out` for as long as it writes there; a second
process asking for the same directory is refused in one line naming the directory and the PID
holding it. The kernel drops the lock of a killed process, so a stale lock never blocks a rerun.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mimicgait.errors import UserError, path_error
from mimicgait.io import LOCK_NAME, make_output_dir, nearest_existing, os_errors

try:
    import fcntl
except ImportError:  # not on this platform: directories are not locked
    fcntl = None  # type: ignore[assignment]


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
    top = nearest_existing(path)
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
