"""An enrolled gallery: identities and their sequence embeddings in one SQLite file.

SQLite (the standard library's sqlite3, write-ahead log) gives a single file that survives crashes:
an enrolment is one transaction, so a process killed in the middle leaves every earlier identity
intact and none of the interrupted one. The gallery records the fingerprint of the model that made
its embeddings and refuses embeddings of any other model, whose distances would mean nothing.

Several processes may use one gallery. A new gallery is built beside its name and linked into
place, so a second process never sees a half-made file; an enrolment reads what is enrolled and
which model the gallery holds inside its own write transaction, and a sequence's source is unique
per gallery, so concurrent enrolments of the same data leave every sequence once. Readers (`list`,
`identify`) open the file read-only and work on read-only storage. Sizes read from the file are
checked before anything is allocated; a damaged row is reported by its id. SQLite's failures
(locked, read-only, disk full, not a database) become one-line `UserError`s naming the gallery.

Size: over 300 lines because creating, opening (read-write or read-only), upgrading, enrolling
under the write lock and reading with bounded sizes all act on one connection and one set of
invariants; SQLite's error messages live in `gallery_errors`.

Tables: `meta` (key, value: fingerprint, metric, channels, parts, model description),
`identities` (id, name), `sequences` (id, identity, condition, view, source, frames, enrolled,
embedding float32 [C, P] as bytes).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from mimicgait.deploy.gallery_errors import (
    BUSY_TIMEOUT_S,
    database_error,
    error_kind,
    header,
    why_not_writable,
)
from mimicgait.errors import UserError, path_error
from mimicgait.io import file_mode, read_only_storage

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identities (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (
    id INTEGER PRIMARY KEY,
    identity INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    condition TEXT, view TEXT, source TEXT, frames INTEGER, enrolled REAL,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sequences_identity ON sequences(identity);
"""
#: Added by this version (an index, so galleries of earlier versions open and gain it on first write).
UNIQUE_SOURCES = "CREATE UNIQUE INDEX IF NOT EXISTS sequences_source ON sequences(source);"
FORMAT = "mimicgait-gallery/1"
#: Most float32 values one sequence's embedding may hold (C x P): far above any model, far below
#: what a damaged `channels` row could otherwise make `load` allocate.
MAX_EMBEDDING_VALUES = 1 << 24


class Enrolled(NamedTuple):
    """What one `Gallery.enroll` added: new identities, and sequences (those already enrolled, by
    source, are skipped)."""

    identities: int
    sequences: int


class Gallery:
    """An open gallery database; use as a context manager or call `close`.

    `create`: make the file when it is missing (enrolment). `readonly`: open it for reading only
    (listing, search), which works on read-only storage and never changes the file.
    """

    def __init__(self, path: str | Path, create: bool = False, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if self.path.is_dir():
            raise UserError(f"--gallery {self.path} is a directory; give a file name such as gallery.db")
        if not self.path.exists():
            folder = self.path.parent
            if not folder.is_dir():
                state = "is a file, not a folder" if folder.exists() else "does not exist; create it"
                raise UserError(f"--gallery {self.path}: the folder {folder} {state} or choose another "
                                "location")
            if not create:
                raise UserError(f"--gallery {self.path} does not exist; enrol identities first "
                                "(mimicgait gallery enroll --gallery FILE ...)")
            self._check_writable()
            with self._errors():
                self._create()
        with self._errors():
            first = header(self.path)
        if first != b"SQLite format 3\x00":
            # sqlite3 would take an empty or foreign file over as a new database: never touch it
            raise UserError(f"--gallery {self.path} exists and is not a mimicgait gallery; "
                            "choose another name")
        if not readonly:
            self._check_writable()
        with self._errors():
            self.db = self._connect()
            try:
                self._check_format()
                if not readonly:
                    self._prepare()
            except BaseException:
                self.db.close()
                raise

    def _check_writable(self) -> None:
        """Refuse, before SQLite tries, a gallery whose file or folder cannot be written (SQLite in
        write-ahead-log mode also writes files beside it): a read-only file system, no permission."""
        folder = self.path.parent
        exists = self.path.exists()
        if (read_only_storage(folder) or not os.access(folder, os.W_OK | os.X_OK)
                or (exists and not os.access(self.path, os.W_OK))):
            hint = ("list and identify still read it; enrol into a copy on writable storage" if exists
                    else "choose another location")
            why = why_not_writable(self.path)
            raise UserError(f"--gallery {self.path} cannot be written: {why}; {hint}")

    def _create(self) -> None:
        """Build an empty gallery in a temporary file beside `path` and link it into place.

        The link fails when the name exists: of two processes creating one gallery at once, one
        places its file and the other opens that one. Nobody sees a half-made database.
        """
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            os.chmod(tmp, file_mode())  # mkstemp makes 0600; a gallery gets the usual mode
            db = sqlite3.connect(tmp)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA + UNIQUE_SOURCES)
                with db:
                    db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
            finally:
                db.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                log.debug("%s was created by another process; using it", self.path)
            except OSError:  # a file system without hard links: place it unless someone else did
                if not self.path.exists():
                    os.replace(tmp, self.path)
        finally:
            for leftover in (tmp, tmp.with_name(f"{tmp.name}-wal"), tmp.with_name(f"{tmp.name}-shm")):
                leftover.unlink(missing_ok=True)

    def _connect(self) -> sqlite3.Connection:
        """The connection: read-write, or read-only through SQLite's URI `mode=ro`."""
        if not self.readonly:
            return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            db.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()  # opening is lazy: read now
            return db
        except sqlite3.OperationalError as err:
            db.close()
            if not error_kind(err).startswith("SQLITE_CANTOPEN"):
                raise
        # A write-ahead-log database needs a shared-memory file beside it, which read-only storage
        # cannot hold; where nobody can write, the file cannot change, and SQLite may read it as is.
        return sqlite3.connect(f"{uri}&immutable=1", uri=True)

    def _check_format(self) -> None:
        """Refuse an SQLite file that is not a gallery, or a gallery of another format."""
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:  # checked before anything is written to it
            raise UserError(f"--gallery {self.path} is an SQLite database but not a mimicgait gallery; "
                            "choose another name")
        fmt = self.meta().get("format")
        if fmt is not None and fmt != FORMAT:
            raise UserError(f"--gallery {self.path} has format {fmt!r}; this version reads {FORMAT!r}")

    def _prepare(self) -> None:
        """For writing: the tables and indexes of this version, and the format row."""
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)
        self._unique_sources()
        if "format" not in self.meta():
            with self._writing():
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))

    def _unique_sources(self) -> None:
        """Give a gallery of an earlier version the unique index on sequence sources, first removing
        the duplicate rows that concurrent enrolments of that version could leave (the first kept)."""
        if self.db.execute("SELECT 1 FROM sqlite_master WHERE type='index' AND name='sequences_source'"
                           ).fetchone():
            return
        with self._writing():
            removed = self.db.execute(
                "DELETE FROM sequences WHERE source IS NOT NULL AND id NOT IN "
                "(SELECT MIN(id) FROM sequences WHERE source IS NOT NULL GROUP BY source)").rowcount
            self.db.execute(UNIQUE_SOURCES)
        if removed:
            log.warning("--gallery %s: removed %d duplicate sequence row(s) left by concurrent enrolments of "
                        "an earlier version", self.path, removed)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One write transaction taken at its start (BEGIN IMMEDIATE): what it reads cannot change
        before it commits, because no other writer runs meanwhile. Rolled back on any error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite and OS failures inside the block become one-line `UserError`s naming the gallery."""
        try:
            yield
        except UserError:
            raise
        except sqlite3.Error as err:
            raise database_error(err, self.path) from err
        except OSError as err:
            raise path_error(err, self.path, "--gallery") from err

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- the model ------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        with self._errors():
            return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    @property
    def fingerprint(self) -> str | None:
        return self.meta().get("fingerprint")

    def model_description(self) -> dict[str, Any]:
        """The `model` row (stage, inference, backbone, frame size of the enrolling model); {} when
        the gallery has none yet. A row that is not a JSON object is reported, naming it."""
        text = self.meta().get("model")
        if text is None:
            return {}
        try:
            described = json.loads(text)
        except ValueError:
            described = None
        if not isinstance(described, dict):
            raise UserError(f"--gallery {self.path}: its meta row 'model' is not a JSON object; the gallery "
                            "is damaged (enrol into a new gallery)")
        return described

    def check_model(self, model_meta: dict[str, Any], where: str = "--model") -> None:
        """Refuse a model other than the one whose embeddings the gallery holds."""
        mine = self.fingerprint
        if mine is not None and mine != model_meta["fingerprint"]:
            described = self.model_description()
            raise UserError(
                f"{where}: the gallery {self.path} was enrolled with another model (fingerprint "
                f"{mine[:12]}, {described.get('stage')} {described.get('inference') or ''}); this one is "
                f"{model_meta['fingerprint'][:12]}. Use that model, or enrol into a new gallery"
            )

    def _bind_model(self, model_meta: dict[str, Any]) -> None:
        if self.fingerprint is not None:
            return
        described = {k: model_meta.get(k) for k in ("stage", "inference", "backbone", "frame_size")}
        rows = [("fingerprint", model_meta["fingerprint"]), ("metric", model_meta["embedding"]["metric"]),
                ("channels", str(model_meta["embedding"]["channels"])),
                ("parts", str(model_meta["embedding"]["parts"])), ("model", json.dumps(described))]
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)

    # -- contents -------------------------------------------------------------------------------
    def enroll(
        self,
        model_meta: dict[str, Any],
        names: Sequence[str],
        embeddings: Tensor,
        conditions: Sequence[str] | None = None,
        views: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
        frames: Sequence[int] | None = None,
    ) -> Enrolled:
        """Add sequences (embeddings [n, C, P]) under identity `names` [n], in one transaction.

        The model check and the list of what is already enrolled are read inside that transaction:
        a sequence whose source another enrolment added meanwhile is skipped, and a model other
        than the one another enrolment bound the gallery to meanwhile is refused."""
        if self.readonly:
            raise ValueError(f"enroll: the gallery {self.path} was opened read-only")
        n = len(names)
        if embeddings.ndim != 3 or embeddings.shape[0] != n:
            raise ValueError(f"enroll: {n} names for embeddings of shape {tuple(embeddings.shape)}")
        blobs = embeddings.detach().to("cpu", torch.float32).contiguous().numpy()
        now = time.time()
        with self._errors(), self._writing():  # one transaction: all of it or nothing
            self.check_model(model_meta)
            self._bind_model(model_meta)
            todo = self._not_enrolled(sources, n)
            before = self.db.execute("SELECT COUNT(*) FROM identities").fetchone()[0]
            self.db.executemany("INSERT OR IGNORE INTO identities(name) VALUES (?)",
                                [(s,) for s in {names[i] for i in todo}])
            ids = dict(self.db.execute("SELECT name, id FROM identities").fetchall())
            rows = [(ids[names[i]], conditions[i] if conditions else None, views[i] if views else None,
                     sources[i] if sources else None, int(frames[i]) if frames else None, now,
                     blobs[i].tobytes()) for i in todo]
            self.db.executemany("INSERT INTO sequences(identity, condition, view, source, frames, enrolled, "
                                "embedding) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            after = self.db.execute("SELECT COUNT(*) FROM identities").fetchone()[0]
        return Enrolled(int(after - before), len(todo))

    def _not_enrolled(self, sources: Sequence[str] | None, n: int) -> list[int]:
        """Indices of the `n` new sequences to insert: all without sources, else those whose source
        is neither in the gallery nor earlier in the same batch."""
        if not sources:
            return list(range(n))
        known: set[str] = set()
        wanted = list(dict.fromkeys(sources))
        for i in range(0, len(wanted), 500):  # bounded number of SQL parameters per query
            chunk = wanted[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            known.update(r[0] for r in self.db.execute(
                f"SELECT source FROM sequences WHERE source IN ({marks})", chunk))
        todo = []
        for i, source in enumerate(sources):
            if source not in known:
                known.add(source)
                todo.append(i)
        return todo

    def remove(self, names: Sequence[str]) -> int:
        """Delete identities (and their sequences); returns how many existed."""
        if self.readonly:
            raise ValueError(f"remove: the gallery {self.path} was opened read-only")
        with self._errors(), self._writing():
            found = [n for n in names if self.db.execute("SELECT 1 FROM identities WHERE name = ?",
                                                         (n,)).fetchone()]
            self.db.executemany("DELETE FROM identities WHERE name = ?", [(n,) for n in found])
        return len(found)

    def sources(self) -> set[str]:
        """The sources of every enrolled sequence (those enrolled without one are left out)."""
        with self._errors():
            return {r[0] for r in self.db.execute("SELECT source FROM sequences WHERE source IS NOT NULL")}

    def identities(self) -> list[tuple[str, int]]:
        """(name, number of sequences) per identity, by name."""
        with self._errors():
            return [(name, int(count)) for name, count in self.db.execute(
                "SELECT i.name, COUNT(s.id) FROM identities i LEFT JOIN sequences s ON s.identity = i.id "
                "GROUP BY i.id ORDER BY i.name").fetchall()]

    def _size(self, meta: dict[str, str], key: str) -> int:
        """The whole number in the meta row `key` (channels, parts), checked before it sizes anything."""
        text = meta.get(key)
        try:
            value = int(str(text))
        except ValueError:
            raise UserError(f"--gallery {self.path}: its meta row {key!r} is {str(text)[:20]!r}, not a whole "
                            "number; the gallery is damaged (enrol into a new gallery)") from None
        if not 1 <= value <= MAX_EMBEDDING_VALUES:
            raise UserError(f"--gallery {self.path}: its meta row {key!r} is {value}, outside 1.."
                            f"{MAX_EMBEDDING_VALUES}; the gallery is damaged (enrol into a new gallery)")
        return value

    def _embedding_shape(self, meta: dict[str, str]) -> tuple[int, int]:
        """(C, P) of every embedding, checked against each row's stored size before any allocation:
        a damaged row is named by its id, and memory is only ever asked for what the file holds."""
        c, p = self._size(meta, "channels"), self._size(meta, "parts")
        if c * p > MAX_EMBEDDING_VALUES:
            raise UserError(f"--gallery {self.path}: its meta rows say {c} channels x {p} parts, more than "
                            f"{MAX_EMBEDDING_VALUES} values per sequence; the gallery is damaged")
        bad = self.db.execute("SELECT id, typeof(embedding), length(embedding) FROM sequences WHERE "
                              "typeof(embedding) != 'blob' OR length(embedding) != ? ORDER BY id LIMIT 1",
                              (4 * c * p,)).fetchone()
        if bad is not None:
            sid, kind, size = bad
            raise UserError(f"--gallery {self.path}: sequence row {sid} holds a {kind} of {size} bytes as "
                            f"its embedding, not {c}x{p} float32 ({4 * c * p} bytes); the row is damaged: "
                            "remove its identity (mimicgait gallery remove) and enrol it again")
        return c, p

    def load(self, part_major: bool = False) -> tuple[list[str], np.ndarray, Tensor, list[dict[str, Any]]]:
        """Everything for search: (identity names, identity index per sequence int64 [n], embeddings
        float32 [n, C, P] or, with `part_major`, [P, n, C] (the layout `ExactIndex` searches, filled
        directly so a large gallery is held once), per-sequence info {condition, view, source, id}).

        Read in one transaction: one snapshot of the gallery, whatever other processes enrol meanwhile."""
        with self._errors():
            self.db.execute("BEGIN")
            try:
                return self._load(part_major)
            finally:
                self.db.rollback()

    def _load(self, part_major: bool) -> tuple[list[str], np.ndarray, Tensor, list[dict[str, Any]]]:
        meta = self.meta()
        if "fingerprint" not in meta:
            raise UserError(f"--gallery {self.path} is empty; enrol identities first")
        n = self.db.execute("SELECT COUNT(*) FROM sequences").fetchone()[0]
        if not n:
            raise UserError(f"--gallery {self.path} holds no sequences; enrol identities first")
        c, p = self._embedding_shape(meta)
        names = [r[0] for r in self.db.execute("SELECT name FROM identities ORDER BY name")]
        index = {name: i for i, name in enumerate(names)}
        identity = np.empty(n, np.int64)
        # filled row by row: no second copy in memory
        embeddings = np.empty((p, n, c) if part_major else (n, c * p), np.float32)
        info: list[dict[str, Any]] = []
        cursor = self.db.execute("SELECT s.id, i.name, s.condition, s.view, s.source, s.embedding "
                                 "FROM sequences s JOIN identities i ON i.id = s.identity ORDER BY s.id")
        for row, (sid, name, condition, view, source, blob) in enumerate(cursor):
            identity[row] = index[name]
            if part_major:
                embeddings[:, row, :] = np.frombuffer(blob, np.float32).reshape(c, p).T
            else:
                embeddings[row] = np.frombuffer(blob, np.float32)
            info.append({"id": sid, "condition": condition, "view": view, "source": source})
        out = torch.from_numpy(embeddings if part_major else embeddings.reshape(n, c, p))
        return names, identity, out, info
