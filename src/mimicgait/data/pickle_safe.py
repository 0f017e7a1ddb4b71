"""Read pickled numpy arrays (OpenGait's `.pkl` sequences) without running code from the file.

A pickle can name any importable callable and have it called while loading (`os.system` via
`__reduce__` is the classic). The unpickler here resolves only the handful of names a plain ndarray
needs, so a hostile or merely unexpected file fails with an error naming it instead of executing.

Admitted names, by pickle protocol:
- 0-4: `numpy.core.multiarray._reconstruct` (numpy < 2) or `numpy._core.multiarray._reconstruct`
  (numpy >= 2), `numpy.ndarray`, `numpy.dtype`;
- 5: `numpy.core.numeric._frombuffer` / `numpy._core.numeric._frombuffer` (in-band buffers);
- 2 (Python 3 writing bytes for Python 2): `_codecs.encode`, replaced by a function that accepts
  only the latin-1 codec, which is all numpy uses it for.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from mimicgait.data.records import DataError


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a callable outside the admitted list."""


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """Stand-in for `_codecs.encode` that only does what protocol-2 numpy pickles ask of it."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin1", errors)


def _allowed() -> dict[tuple[str, str], object]:
    names: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    # Both spellings map to whichever numpy is installed, so pickles from numpy 1 and 2 both load.
    core = getattr(np, "_core", None) or np.core
    for package in ("numpy.core", "numpy._core"):
        names[(f"{package}.multiarray", "_reconstruct")] = core.multiarray._reconstruct
        names[(f"{package}.numeric", "_frombuffer")] = core.numeric._frombuffer
    return names


class ArrayUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose `find_class` admits only what an ndarray needs (see module doc)."""

    _ALLOWED = _allowed()

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load {module}.{name}: only numpy arrays may be stored in a sequence pickle"
            ) from None


def load_array(path: str | Path) -> np.ndarray:
    """Load one ndarray from a pickle file, refusing anything that would run code.

    Raises `DataError` naming the file when it is unreadable, truncated, holds something other than
    an ndarray, or references any callable outside the admitted list.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from err
    try:
        obj = ArrayUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError as err:
        raise DataError(f"{path}: unsafe pickle, not loaded: {err}") from err
    except Exception as err:  # truncated/corrupt pickles raise EOFError, ValueError, TypeError, ...
        raise DataError(f"{path}: corrupt or truncated pickle ({type(err).__name__}: {err})") from err
    if not isinstance(obj, np.ndarray):
        raise DataError(f"{path}: holds a {type(obj).__name__}, expected one numpy array of frames")
    return obj
