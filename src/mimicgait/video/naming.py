"""Sequence identities from file names: CASIA-B's `<sid>-<cond>-<nn>-<view>` convention.

A video `001-nm-05-090.avi` (or a frame folder `001-nm-05-090/`) is subject `001`, condition
`nm-05` (the data layer's sequence type, `<cond>-<nn>`), view `090`. Names in any other form carry
no identity; the caller then has to give one (`--id`). `<sid>-bkgrd-<view>` names CASIA-B's
empty-hall background clips, which are not walking sequences. The pattern admits letters, digits
and `_` only, so a parsed identity is always a valid sequence name (`mimicgait.data.names`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mimicgait.data.names import check_name
from mimicgait.errors import UserError

# <sid>-<cond>-<nn>-<view>: letters for the condition, digits for its number and the view.
_SEQUENCE = re.compile(r"^(?P<sid>[A-Za-z0-9_]+)-(?P<cond>[A-Za-z]+)-(?P<nn>\d+)-(?P<view>\d+)$")
_BACKGROUND = re.compile(r"^[A-Za-z0-9_]+-bkgrd-\d+$")


@dataclass(frozen=True)
class SequenceId:
    """Where a sequence goes in a dataset: subject, condition (`nm-05`), view (`090`)."""

    subject: str
    condition: str
    view: str

    @property
    def name(self) -> str:
        """The `<sid>-<cond>-<nn>-<view>` form, e.g. `001-nm-05-090`."""
        return f"{self.subject}-{self.condition}-{self.view}"

    @property
    def key(self) -> tuple[str, str, str]:
        """(subject, condition, view), the key of the data layer's indexes."""
        return (self.subject, self.condition, self.view)


def _stem(path_or_name: str | Path) -> str:
    """The file name without directory and extension (a folder's name as it is)."""
    path = Path(path_or_name)
    return path.stem if path.suffix and not path.is_dir() else path.name


def parse_sequence_name(path_or_name: str | Path) -> SequenceId | None:
    """The identity in a `<sid>-<cond>-<nn>-<view>` file or folder name, else None."""
    match = _SEQUENCE.match(_stem(path_or_name))
    if match is None:
        return None
    return SequenceId(match["sid"], f"{match['cond'].lower()}-{match['nn']}", match["view"])


def parse_id_option(text: str) -> SequenceId:
    """An identity given by the user (`--id 001-nm-05-090`); a `UserError` when malformed.

    The whole text must be a plain name (`data.names`): `../../x-nm-01-090` is refused rather than
    cut to its last part, since what the user wrote was a path, not an identity.
    """
    check_name(text, "--id")
    parsed = parse_sequence_name(text)
    if parsed is None or Path(text).suffix:
        raise UserError(f"--id {text!r}: give it as <subject>-<cond>-<nn>-<view>, e.g. 001-nm-05-090")
    return parsed


def is_background_clip(path_or_name: str | Path) -> bool:
    """True for CASIA-B background clips named `<sid>-bkgrd-<view>` (no walker in them)."""
    return _BACKGROUND.match(_stem(path_or_name)) is not None
