"""An enrolled gallery: identities and their sequence embeddings in one SQLite file.

SQLite (the standard library's sqlite3, write-ahead log) gives a single file that survives crashes:
an enrolment is one transaction, so a process killed in the middle leaves every earlier identity
intact and none of the interrupted one. The gallery records the fingerprint of the model that made
its embeddings and refuses embeddings of any other model, whose distances would mean nothing.

Tables: `meta` (key, value: fingerprint, metric, channels, parts, model description),
`identities` (id, name), `sequences` (id, identity, condition, view, source, frames, enrolled,
embedding float32 [C, P] as bytes).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mimicgait.errors import UserError

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
FORMAT = "mimicgait-gallery/1"


def _header(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(16)


class Gallery:
    """An open gallery database; use as a context manager or call `close`."""

    def __init__(self, path: str | Path, create: bool = False) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise UserError(f"--gallery {self.path} is a directory; give a file name such as gallery.db")
        existed = self.path.exists()
        if existed and _header(self.path) != b"SQLite format 3\x00":
            # sqlite3 would take an empty or foreign file over as a new database: never touch it
            raise UserError(f"--gallery {self.path} exists and is not a mimicgait gallery; "
                            "choose another name")
        if not create and not existed:
            raise UserError(f"--gallery {self.path} does not exist; enrol identities first "
                            "(mimicgait gallery enroll --gallery FILE ...)")
        try:
            self.db = sqlite3.connect(self.path, timeout=30.0)
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if existed and "meta" not in tables:  # checked before anything is written to it
                self.db.close()
                raise UserError(f"--gallery {self.path} is an SQLite database but not a mimicgait gallery; "
                                "choose another name")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
            fmt = self.meta().get("format")
        except sqlite3.DatabaseError as err:
            raise UserError(f"--gallery {self.path} is not a mimicgait gallery ({err})") from None
        if fmt is None:
            with self.db:
                self.db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
        elif fmt != FORMAT:
            raise UserError(f"--gallery {self.path} has format {fmt!r}; this version reads {FORMAT!r}")

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- the model ------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    @property
    def fingerprint(self) -> str | None:
        return self.meta().get("fingerprint")

    def check_model(self, model_meta: dict[str, Any], where: str = "--model") -> None:
        """Refuse a model other than the one whose embeddings the gallery holds."""
        mine = self.fingerprint
        if mine is not None and mine != model_meta["fingerprint"]:
            described = json.loads(self.meta().get("model", "{}"))
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
    ) -> int:
        """Add sequences (embeddings [n, C, P]) under identity `names` [n], in one transaction.
        Returns the number of new identities."""
        self.check_model(model_meta)
        n = len(names)
        if embeddings.ndim != 3 or embeddings.shape[0] != n:
            raise ValueError(f"enroll: {n} names for embeddings of shape {tuple(embeddings.shape)}")
        blobs = embeddings.detach().to("cpu", torch.float32).contiguous().numpy()
        now = time.time()
        with self.db:  # one transaction: all of it or nothing
            self._bind_model(model_meta)
            before = self.db.execute("SELECT COUNT(*) FROM identities").fetchone()[0]
            self.db.executemany("INSERT OR IGNORE INTO identities(name) VALUES (?)",
                                [(s,) for s in set(names)])
            ids = dict(self.db.execute("SELECT name, id FROM identities").fetchall())
            rows = [(ids[names[i]], conditions[i] if conditions else None, views[i] if views else None,
                     sources[i] if sources else None, int(frames[i]) if frames else None, now,
                     blobs[i].tobytes()) for i in range(n)]
            self.db.executemany("INSERT INTO sequences(identity, condition, view, source, frames, enrolled, "
                                "embedding) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            after = self.db.execute("SELECT COUNT(*) FROM identities").fetchone()[0]
        return int(after - before)

    def remove(self, names: Sequence[str]) -> int:
        """Delete identities (and their sequences); returns how many existed."""
        with self.db:
            found = [n for n in names if self.db.execute("SELECT 1 FROM identities WHERE name = ?",
                                                         (n,)).fetchone()]
            self.db.executemany("DELETE FROM identities WHERE name = ?", [(n,) for n in found])
        return len(found)

    def identities(self) -> list[tuple[str, int]]:
        """(name, number of sequences) per identity, by name."""
        return [(name, int(count)) for name, count in self.db.execute(
            "SELECT i.name, COUNT(s.id) FROM identities i LEFT JOIN sequences s ON s.identity = i.id "
            "GROUP BY i.id ORDER BY i.name").fetchall()]

    def load(self, part_major: bool = False) -> tuple[list[str], np.ndarray, Tensor, list[dict[str, Any]]]:
        """Everything for search: (identity names, identity index per sequence int64 [n], embeddings
        float32 [n, C, P] or, with `part_major`, [P, n, C] (the layout `ExactIndex` searches, filled
        directly so a large gallery is held once), per-sequence info {condition, view, source, id})."""
        meta = self.meta()
        if "fingerprint" not in meta:
            raise UserError(f"--gallery {self.path} is empty; enrol identities first")
        c, p = int(meta["channels"]), int(meta["parts"])
        n = self.db.execute("SELECT COUNT(*) FROM sequences").fetchone()[0]
        if not n:
            raise UserError(f"--gallery {self.path} holds no sequences; enrol identities first")
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
