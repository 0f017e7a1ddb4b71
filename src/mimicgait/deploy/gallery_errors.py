"""How a gallery's SQLite failures read: each becomes one line that says what happened and the fix.

SQLite reports a locked database, a read-only file, a full disk, a missing folder and a file that is
not a database as different error codes; the file system says why a file cannot be written. The
gallery (`deploy.gallery`) turns every failure through `database_error`, so the command line prints
"locked by another writer" or "the disk is full" instead of a traceback or a misleading "not a
gallery".
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from mimicgait.errors import UserError
from mimicgait.io import read_only_storage

#: Seconds a writer waits for another process's transaction before reporting the gallery locked.
BUSY_TIMEOUT_S = 30.0


def header(path: Path) -> bytes:
    """The first 16 bytes of a file (an SQLite database starts with 'SQLite format 3')."""
    with open(path, "rb") as f:
        return f.read(16)


def error_kind(err: sqlite3.Error) -> str:
    """SQLite's error name (SQLITE_BUSY, ...), from the exception or, before Python 3.11, its text."""
    name = getattr(err, "sqlite_errorname", None)
    if name:
        return str(name)
    text = str(err).lower()
    for words, kind in (("locked", "SQLITE_BUSY"), ("readonly", "SQLITE_READONLY"),
                        ("disk is full", "SQLITE_FULL"), ("unable to open", "SQLITE_CANTOPEN"),
                        ("i/o error", "SQLITE_IOERR"), ("not a database", "SQLITE_NOTADB"),
                        ("malformed", "SQLITE_CORRUPT")):
        if words in text:
            return kind
    return "SQLITE_ERROR"


def why_not_writable(path: Path) -> str:
    """Why the gallery `path` cannot be opened or written, as far as the file system tells."""
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    if read_only_storage(folder):
        return f"{folder} is on a read-only file system"
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "no permission to write the file or its folder"
    return "check the file's permissions and the storage"


def database_error(err: sqlite3.Error, path: Path) -> UserError:
    """A one-line `UserError` for an SQLite failure on the gallery `path`: what happened and the fix."""
    label = f"--gallery {path}"
    kind = error_kind(err)
    if kind.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return UserError(f"{label} is locked: another process is writing to it and did not finish within "
                         f"{BUSY_TIMEOUT_S:g} s; retry when it is done")
    if kind.startswith("SQLITE_FULL"):
        return UserError(f"{label}: the disk is full; free space and rerun (what was enrolled before is "
                         "kept)")
    if kind.startswith("SQLITE_READONLY"):
        return UserError(f"{label} cannot be written: {why_not_writable(path)}; list and identify still "
                         "read it, enrol into a copy on writable storage")
    if kind.startswith("SQLITE_CANTOPEN"):
        return UserError(f"{label} cannot be opened: {why_not_writable(path)}")
    if kind.startswith("SQLITE_IOERR"):
        return UserError(f"{label}: the storage reported an I/O error ({err}); check the disk and free space")
    if kind.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return UserError(f"{label} is not a mimicgait gallery or is damaged ({err}); choose another file")
    return UserError(f"{label}: {err}")
