"""OpenGait partition files: which subjects train and which test.

The file is JSON with lists `TRAIN_SET` and `TEST_SET` of subject ids (strings, as the folder or
archive names spell them). A partition is data about a dataset, so it is checked against the
subjects that actually exist before a split is used: a typo or a wrong dataset must not turn into
a silently smaller training set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mimicgait.errors import UserError

SPLITS = ("TRAIN_SET", "TEST_SET")
PARTITION_NAME = "partition.json"


def load_partition(path: str | Path) -> dict[str, list[str]]:
    """Read and shape-check a partition JSON; return {'TRAIN_SET': [...], 'TEST_SET': [...]}.

    Ids are returned as strings (numbers in the file are accepted and converted). Raises
    `FileNotFoundError` or `ValueError` naming the file and what to fix.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"partition file {path} not found; pass --partition FILE or omit it")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"partition file {path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or not any(split in data for split in SPLITS):
        raise UserError(f"partition file {path} must be a JSON object with lists TRAIN_SET and TEST_SET")
    partition: dict[str, list[str]] = {}
    for split in SPLITS:
        ids = data.get(split, [])
        if not isinstance(ids, list) or not all(isinstance(i, (str, int)) for i in ids):
            raise UserError(f"partition file {path}: {split} must be a list of subject ids")
        partition[split] = [str(i) for i in ids]
    overlap = sorted(set(partition["TRAIN_SET"]) & set(partition["TEST_SET"]))
    if overlap:
        raise UserError(f"partition file {path}: subjects in both TRAIN_SET and TEST_SET: {_short(overlap)}")
    return partition


def find_partition(data_dir: str | Path) -> Path | None:
    """The `partition.json` next to the data (in the directory itself, then its parent), if any."""
    data_dir = Path(data_dir)
    for folder in (data_dir, data_dir.parent):
        candidate = folder / PARTITION_NAME
        if candidate.is_file():
            return candidate
    return None


def missing_subjects(partition: dict[str, list[str]], existing: Iterable[str]) -> dict[str, list[str]]:
    """Per split, the partition's subjects that are not in the data (empty lists when all exist)."""
    present = set(existing)
    return {split: [s for s in ids if s not in present] for split, ids in partition.items()}


def split_subjects(partition: dict[str, list[str]], split: str, existing: Iterable[str]) -> list[str]:
    """The subjects of one split, checked to exist; a clear error lists any that do not.

    `split` is 'TRAIN_SET' or 'TEST_SET' (case-insensitive; 'train' and 'test' also work).
    """
    name = split.upper()
    name = {"TRAIN": "TRAIN_SET", "TEST": "TEST_SET"}.get(name, name)
    if name not in partition:
        raise UserError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    missing = missing_subjects({name: partition[name]}, existing)[name]
    if missing:
        raise UserError(
            f"partition {name} names {len(missing)} subject(s) absent from the data: {_short(missing)}; "
            "pass the matching --data directory or fix --partition"
        )
    if not partition[name]:
        raise UserError(f"partition {name} is empty")
    return list(partition[name])


def _short(items: list[str], limit: int = 10) -> str:
    """A list for an error message, shortened to its first `limit` items."""
    head = ", ".join(items[:limit])
    return head + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def parse_subjects(value: str | Iterable[Any] | None, what: str = "--subjects") -> list[str] | None:
    """Subject ids from '063-074' / '001,005,010-012' / ['001', 5] (zero padding of ranges kept);
    None stays None. `what` (the option or key) names the source in errors: an empty range, or
    nothing at all in a non-empty setting."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    out: list[str] = []
    for item in (i.strip() for i in items):
        lo, sep, hi = item.partition("-")
        if sep and lo.isdigit() and hi.isdigit():
            if int(hi) < int(lo):
                raise UserError(f"{what}: subject range {item!r} is empty; write LOW-HIGH")
            out += [str(i).zfill(len(lo)) for i in range(int(lo), int(hi) + 1)]
        elif item:
            out.append(item)
    if not out and isinstance(value, str) and value.strip():
        raise UserError(f"{what} is empty; give ids such as 063-074 or 001,005")
    return out
