"""Models that ship inside the package, loaded by name: `mimicgait.load("casiab-mimic")`.

Nothing is downloaded. `index.json` beside this file lists each shipped model (file name, sha256
of the file, model fingerprint, stage, inference mode, backbone, frame size, size in bytes, a
one-line result and its model card). A name resolves to the file in this folder only after the
file's sha256 matches the index, and the loader then checks the model fingerprint inside it (and
reads it with `weights_only=True`), so a flipped byte anywhere is refused. The files and cards are
written by `benchmarks/ship_pretrained.py` from a run of the CASIA-B CPU recipe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mimicgait.errors import UserError
from mimicgait.models.checkpoint import sha256

PACKAGE_DIR = Path(__file__).resolve().parent
INDEX_FILE = PACKAGE_DIR / "index.json"


@dataclass(frozen=True)
class ShippedModel:
    """One entry of the index: what the model is and how to check its file."""

    name: str
    file: Path
    sha256: str
    fingerprint: str
    stage: str
    inference: str | None
    backbone: str
    frame_size: tuple[int, int]
    bytes: int
    summary: str
    card: Path


@lru_cache(maxsize=1)
def shipped_models() -> dict[str, ShippedModel]:
    """Every shipped model by name, from `index.json` ({} when the package ships none)."""
    if not INDEX_FILE.is_file():
        return {}
    entries = json.loads(INDEX_FILE.read_text())
    return {
        name: ShippedModel(
            name=name, file=PACKAGE_DIR / e["file"], sha256=e["sha256"], fingerprint=e["fingerprint"],
            stage=e["stage"], inference=e.get("inference"), backbone=e["backbone"],
            frame_size=(int(e["frame_size"][0]), int(e["frame_size"][1])), bytes=int(e["bytes"]),
            summary=e["summary"], card=PACKAGE_DIR / e["card"],
        )
        for name, e in entries.items()
    }


def model_names() -> list[str]:
    """The shipped models' names, in the index's order."""
    return list(shipped_models())


def _names_hint() -> str:
    names = model_names()
    return f"shipped models: {', '.join(names)} (`mimicgait models`)" if names else "no models are shipped"


def shipped_model(name: str) -> ShippedModel:
    """The index entry of `name`; an unknown name is a UserError that lists the names."""
    entry = shipped_models().get(name)
    if entry is None:
        raise UserError(f"no shipped model is called {name!r}; {_names_hint()}")
    return entry


def verified_file(name: str) -> Path:
    """The file of shipped model `name`, after its sha256 is checked against the index."""
    entry = shipped_model(name)
    if not entry.file.is_file():
        raise UserError(f"shipped model {name!r}: its file {entry.file} is missing from the installed "
                        "package; reinstall mimicgait")
    if sha256(entry.file) != entry.sha256:
        raise UserError(f"shipped model {name!r}: {entry.file} does not match the sha256 in the package "
                        "index (corrupted or edited); reinstall mimicgait")
    return entry.file


def is_model_name(text: str | Path) -> bool:
    """Whether `text` could only be a model name, not a path: no separator and no file suffix."""
    text = str(text)
    return bool(text) and "/" not in text and "\\" not in text and Path(text).suffix == ""


def shipped_name(source: str | Path) -> str | None:
    """The shipped model a `--model` value names, or None: an existing path always wins."""
    text = str(source)
    return text if text in shipped_models() and not Path(source).exists() else None


def resolve_model(source: str | Path) -> tuple[Path, str | None]:
    """(path, shipped name or None) for `--model`: an existing path wins; otherwise a shipped
    model's name, its file verified. Neither is a UserError that lists the shipped names."""
    name = shipped_name(source)
    if name is not None:
        return verified_file(name), name
    path = Path(source)
    if path.exists():
        return path, None
    if is_model_name(source):
        raise UserError(f"no shipped model is called {str(source)!r} and no such file exists; "
                        f"{_names_hint()}")
    raise UserError(f"{path} does not exist; pass an exported model file, a checkpoint, a run directory "
                    f"or a shipped model's name ({_names_hint()})")


def model_path(source: str | Path) -> Path:
    """What a `--model` value reads from, without checking it: the path itself, or a shipped
    model's file inside the package (so outputs can be checked never to land on it)."""
    name = shipped_name(source)
    return shipped_models()[name].file if name is not None else Path(source)
