"""Where silhouette sequences come from: three on-disk layouts behind one interface.

- `npz`: the packed archive format (one `<sid>.npz` per subject, entries `<type>/<view>` holding
  bit-packed frames `[T, H, W/8]`), as in ../shared/data/casia-b.
- `pkl`: OpenGait's tree `<sid>/<type>/<view>/*.pkl`, each pickle one `[T, H, W]` array.
- `png`: CASIA-B's original release `<sid>/<type>/<view>/*.png`, raw silhouette images that are
  pretreated (cropped, scaled, centred) on reading.

`open_dataset(DIR)` looks at the directory and picks the reader; a user never names the format.
Every reader lists its sequences cheaply (names only) and decodes frames on demand, yielding
`SequenceRecord`s whose frames are `[T, H, W]` uint8 in {0, 1}.

Several pickles in one OpenGait sequence folder: OpenGait loads every `.pkl` of the folder in
sorted name order, one modality each. Here the silhouette is the first pickle, in sorted name order,
holding a 3-D uint8 or bool array (`[T, H, W]`); later pickles are ignored (a logged note when they
hold silhouette-like arrays of a different length, since OpenGait would reject that folder).

Size: over 300 lines because the common reader, one short class per format and the detection that
picks among them change together whenever the record contract does.
"""

from __future__ import annotations

import logging
import os
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from mimicgait.data.contract import silhouette_problem
from mimicgait.data.names import name_problem
from mimicgait.data.partition import find_partition, load_partition
from mimicgait.data.pickle_safe import load_array
from mimicgait.data.pretreat import pretreat_frames
from mimicgait.data.records import DataError, SequenceRecord, to_binary
from mimicgait.errors import UserError

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # (subject, condition, view)
FORMATS = ("npz", "pkl", "png")
WIDTH_ENTRY = "__width__"  # optional npz entry: the unpacked frame width when not 8 x packed bytes


class SequenceSource(ABC):
    """A directory of silhouette sequences, listed cheaply and decoded on demand.

    `errors='raise'` (default) stops at the first unreadable file with a `DataError` naming it;
    `errors='skip'` logs a warning, records `(where, reason)` in `problems` and carries on.
    """

    format: str = ""

    def __init__(self, root: Path, partition: dict[str, list[str]] | None, errors: str = "raise") -> None:
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip', not {errors!r}")
        self.root = root
        self.partition = partition
        self.partition_path: Path | None = None
        self.errors = errors
        self.problems: list[tuple[str, str]] = []
        self._keys: list[Key] | None = None

    # -- what each layout provides -------------------------------------------------------------
    @abstractmethod
    def _scan(self) -> list[Key]:
        """Every sequence key in the directory (names only, no frame decoding)."""

    @abstractmethod
    def read(self, key: Key) -> SequenceRecord:
        """Decode one sequence; raises `DataError` naming the file when it cannot."""

    def read_packed(self, key: Key) -> tuple[np.ndarray, int]:
        """One sequence bit-packed along the width: (`[T, H, ceil(W/8)]` uint8, W).

        Layouts already stored packed override this to skip an unpack/repack round trip.
        """
        frames = self.read(key).frames
        return np.packbits(frames, axis=-1), frames.shape[-1]

    # -- shared behaviour ----------------------------------------------------------------------
    def list_keys(self, subjects: Iterable[str] | None = None) -> list[Key]:
        """Sorted (subject, condition, view) keys, optionally only for the given subjects."""
        if self._keys is None:
            self._keys = sorted(self._scan())
        if subjects is None:
            return list(self._keys)
        wanted = {subjects} if isinstance(subjects, str) else set(subjects)
        absent = sorted(wanted - set(self.subjects()))
        if absent:
            raise UserError(f"{self.root}: no sequences for subject(s) {', '.join(absent[:10])}")
        return [k for k in self._keys if k[0] in wanted]

    def subjects(self) -> list[str]:
        """Sorted subject ids that have at least one sequence."""
        return sorted({k[0] for k in self.list_keys()})

    def iter_records(self, subjects: Iterable[str] | None = None) -> Iterator[SequenceRecord]:
        """Decode sequences in key order (all, or only the given subjects)."""
        for key in self.list_keys(subjects):
            record = self.try_read(key)
            if record is not None:
                yield record

    def try_read(self, key: Key) -> SequenceRecord | None:
        """`read`, honouring `errors`: None (logged, recorded in `problems`) instead of raising."""
        try:
            return self.read(key)
        except DataError as err:
            self._problem(err)
            return None

    def try_read_packed(self, key: Key) -> tuple[np.ndarray, int] | None:
        """`read_packed`, honouring `errors` like `try_read`."""
        try:
            return self.read_packed(key)
        except DataError as err:
            self._problem(err)
            return None

    def _problem(self, err: DataError) -> None:
        if self.errors == "raise":
            raise err
        log.warning("skipped: %s", err)
        self.problems.append((str(err).split(": ", 1)[0], str(err)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"


class PackedNpzSource(SequenceSource):
    """One `<sid>.npz` per subject; entries `<type>/<view>` of bit-packed frames `[T, H, W/8]`."""

    format = "npz"

    def __init__(self, root: Path, partition: dict[str, list[str]] | None, errors: str = "raise") -> None:
        super().__init__(root, partition, errors)
        self._open: tuple[str, np.lib.npyio.NpzFile] | None = None  # the last subject's archive

    def _scan(self) -> list[Key]:
        keys: list[Key] = []
        for path in sorted(self.root.glob("*.npz")):
            try:
                with zipfile.ZipFile(path) as archive:
                    names = archive.namelist()
            except (zipfile.BadZipFile, OSError) as err:
                self._problem(DataError(f"{path}: not a readable npz archive ({err}); re-create it"))
                continue
            problem = name_problem(path.stem)
            if problem:
                self._problem(DataError(f"{path}: the subject name {path.stem!r} {problem}; rename the file"))
                continue
            for name in names:
                entry = name[:-4] if name.endswith(".npy") else name
                if entry == WIDTH_ENTRY:
                    continue
                parts = entry.split("/")
                reason = _entry_problem(parts)
                if reason:
                    self._problem(DataError(f"{path}: entry {name!r} {reason}; re-create the archive"))
                    continue
                keys.append((path.stem, parts[0], parts[1]))
        return keys

    def _archive(self, subject: str) -> np.lib.npyio.NpzFile:
        if self._open is None or self._open[0] != subject:
            if self._open is not None:
                self._open[1].close()
            path = self.root / f"{subject}.npz"
            try:
                self._open = (subject, np.load(path, allow_pickle=False))
            except Exception as err:
                raise DataError(f"{path}: cannot open archive ({err})") from err
        return self._open[1]

    def read_packed(self, key: Key) -> tuple[np.ndarray, int]:
        subject, condition, view = key
        where = f"{self.root / (subject + '.npz')}[{condition}/{view}]"
        try:
            packed = self._archive(subject)[f"{condition}/{view}"]
        except DataError:
            raise
        except Exception as err:  # CRC errors, truncated streams, pickled entries, ...
            reason = f"{type(err).__name__}: {err}"
            raise DataError(f"{where}: corrupt entry ({reason}); re-create the archive") from err
        if packed.ndim != 3 or packed.dtype != np.uint8:
            raise DataError(
                f"{where}: expected bit-packed uint8 frames (T, H, W/8), got {packed.dtype} {packed.shape}"
            )
        width = self._width(subject, packed.shape[-1])
        return packed, width

    def _width(self, subject: str, packed_bytes: int) -> int:
        """The unpacked width: the archive's `__width__` entry, else 8 pixels per packed byte."""
        archive = self._archive(subject)
        path = self.root / f"{subject}.npz"
        if WIDTH_ENTRY not in archive.files:
            return packed_bytes * 8
        try:
            width = int(np.asarray(archive[WIDTH_ENTRY]).reshape(-1)[0])
        except Exception as err:
            raise DataError(f"{path}: unreadable {WIDTH_ENTRY} entry ({err})") from err
        if not 8 * packed_bytes - 7 <= width <= 8 * packed_bytes:
            raise DataError(f"{path}: {WIDTH_ENTRY}={width} does not fit "
                            f"{packed_bytes} packed bytes per row")
        return width

    def read(self, key: Key) -> SequenceRecord:
        packed, width = self.read_packed(key)
        return SequenceRecord(*key, np.unpackbits(packed, axis=-1, count=width))


class _TreeSource(SequenceSource):
    """Layouts with one folder per sequence: `<sid>/<type>/<view>/<files>`."""

    suffix = ""

    def _scan(self) -> list[Key]:
        keys: list[Key] = []
        for subject in self._named(_subdirs(self.root)):
            for condition in self._named(_subdirs(subject)):
                keys.extend((subject.name, condition.name, view.name)
                            for view in self._named(_subdirs(condition)))
        return keys

    def _named(self, folders: list[Path]) -> list[Path]:
        """The folders whose names are valid sequence names; the others are problems (`errors`)."""
        kept = []
        for folder in folders:
            problem = name_problem(folder.name)
            if problem:
                self._problem(DataError(f"{folder.parent}: the folder name {folder.name!r} {problem}; "
                                        "rename it"))
            else:
                kept.append(folder)
        return kept

    def _files(self, key: Key) -> list[Path]:
        folder = self.root.joinpath(*key)
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() == self.suffix and p.is_file())
        if not files:
            raise DataError(f"{folder}: no {self.suffix} files in this sequence folder")
        return files


class PklTreeSource(_TreeSource):
    """OpenGait's layout: `<sid>/<type>/<view>/*.pkl`, frames `[T, H, W]` 0..255 (or 0/1)."""

    format = "pkl"
    suffix = ".pkl"

    def read(self, key: Key) -> SequenceRecord:
        chosen: tuple[Path, np.ndarray] | None = None
        for path in self._files(key):
            array = load_array(path)
            if array.ndim != 3 or array.dtype not in (np.uint8, np.bool_):
                continue
            if chosen is None:
                chosen = (path, array)
            elif len(array) != len(chosen[1]):
                log.info("%s: ignored; its %d frames differ from %s (%d)", path, len(array), chosen[0].name,
                         len(chosen[1]))
        if chosen is None:
            folder = self.root.joinpath(*key)
            raise DataError(f"{folder}: no pickle here holds a (T, H, W) uint8 silhouette array")
        problem = silhouette_problem(chosen[1][len(chosen[1]) // 2 :][:1]) if len(chosen[1]) else None
        if problem:
            raise DataError(f"{chosen[0]}: {problem}")
        return SequenceRecord(*key, to_binary(chosen[1], str(chosen[0])))


class PngTreeSource(_TreeSource):
    """CASIA-B's release: `<sid>/<type>/<view>/*.png` raw silhouettes, pretreated on reading."""

    format = "png"
    suffix = ".png"

    def __init__(
        self,
        root: Path,
        partition: dict[str, list[str]] | None,
        errors: str = "raise",
        frame_size: tuple[int, int] = (64, 64),
    ) -> None:
        super().__init__(root, partition, errors)
        self.frame_size = frame_size

    def read(self, key: Key) -> SequenceRecord:
        images = []
        for path in self._files(key):
            try:
                with Image.open(path) as image:
                    images.append(np.asarray(image.convert("L")))
            except Exception as err:  # PIL raises many types for broken files
                raise DataError(f"{path}: cannot decode PNG ({type(err).__name__}: {err})") from err
        if images:  # colour or many-level grey images are photographs: binarised they are noise
            problem = silhouette_problem(images[len(images) // 2][None])
            if problem:
                raise DataError(f"{self.root.joinpath(*key)}: {problem}")
        frames = pretreat_frames(images, *self.frame_size)  # [T, H, W] 0..255, empty frames dropped
        return SequenceRecord(*key, to_binary(frames, str(self.root.joinpath(*key))))


def _entry_problem(parts: list[str]) -> str | None:
    """Why an npz entry split at '/' cannot be a `<type>/<view>` sequence (`data.names`), or None."""
    if len(parts) != 2:
        return "is not named <type>/<view>"
    for what, part in zip(("type", "view"), parts, strict=True):
        problem = name_problem(part)
        if problem:
            return f"has a {what} name that {problem}"
    return None


def _subdirs(folder: Path) -> list[Path]:
    """Sorted visible sub-directories."""
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries if e.is_dir() and not e.name.startswith("."))


def detect_format(root: str | Path) -> str:
    """Name the layout of a data directory ('npz', 'pkl' or 'png'), or explain why none fits."""
    root = Path(root)
    if not root.exists():
        raise UserError(f"data directory {root} does not exist; check --data")
    if not root.is_dir():
        raise UserError(f"--data must be a directory of sequences, but {root} is a file")
    with os.scandir(root) as it:
        entries = [e for e in it if not e.name.startswith(".")]
    if not entries:
        raise UserError(f"data directory {root} is empty; point --data at the folder holding the sequences")
    if any(e.is_file() and e.name.endswith(".npz") for e in entries):
        return "npz"
    for subject in sorted(Path(e.path) for e in entries if e.is_dir()):
        for condition in _subdirs(subject):
            for view in _subdirs(condition):
                suffixes = {p.suffix.lower() for p in view.iterdir()}
                for fmt in ("pkl", "png"):
                    if f".{fmt}" in suffixes:
                        return fmt
    hint = ""
    nested = [e.name for e in entries if e.is_dir() and any(Path(e.path).glob("*.npz"))]
    if nested:
        hint = f"; its sub-directory {nested[0]!r} holds archives: pass --data {root / nested[0]}"
    raise UserError(
        f"{root}: unknown data format (expected <sid>.npz archives, <sid>/<type>/<view>/*.pkl or "
        f"<sid>/<type>/<view>/*.png){hint}"
    )


def open_dataset(
    path: str | Path,
    partition: str | Path | None = None,
    errors: str = "raise",
    frame_size: tuple[int, int] = (64, 64),
) -> SequenceSource:
    """Open a data directory of any supported layout.

    `partition` overrides the `partition.json` otherwise picked up from the directory or its
    parent. `frame_size` (H, W) only matters for PNG folders, which are pretreated on reading.
    A partition none of whose subjects exist in the data is rejected (wrong file or wrong data).
    """
    root = Path(path)
    fmt = detect_format(root)
    partition_path = Path(partition) if partition is not None else find_partition(root)
    split = load_partition(partition_path) if partition_path is not None else None
    if fmt == "npz":
        source: SequenceSource = PackedNpzSource(root, split, errors)
    elif fmt == "pkl":
        source = PklTreeSource(root, split, errors)
    else:
        source = PngTreeSource(root, split, errors, frame_size)
    if split is not None:
        named = set(split["TRAIN_SET"]) | set(split["TEST_SET"])
        if named and not named & set(source.subjects()):
            raise UserError(
                f"partition {partition_path} names none of the {len(source.subjects())} subjects in {root}; "
                "pass the partition that belongs to this data with --partition"
            )
    source.partition_path = partition_path
    return source
