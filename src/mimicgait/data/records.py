"""One silhouette sequence as every source yields it, and the value rules all sources share.

Sources read very different files (pickled OpenGait arrays, bit-packed archives, PNG folders); they
all hand on a `SequenceRecord` whose frames are `[T, H, W]` uint8 in {0, 1}. Normalising here, once,
means the store and everything after it never have to guess whether 1 or 255 means "person".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimicgait.data.names import name_problem
from mimicgait.errors import UserError

#: Grey values at or above this count as foreground when 0..255 frames are binarised (as OpenGait).
BINARY_THRESHOLD = 128


class DataError(UserError):
    """A data file that cannot be used as it is: corrupt, wrong shape, wrong values.

    A `UserError` (so also a `ValueError`): the CLI prints it in one line; the message names the file.
    """


@dataclass
class SequenceRecord:
    """One walking sequence of one subject under one condition and view."""

    subject: str  # e.g. "001"
    condition: str  # sequence type, e.g. "nm-01"
    view: str  # e.g. "090"
    frames: np.ndarray  # [T, H, W] uint8 in {0, 1}

    def __post_init__(self) -> None:
        """Refuse names that could not be written as file names (`data.names`): every writer takes
        its paths from a record's names, so this is the last guard before a path is made."""
        for field_name in ("subject", "condition", "view"):
            problem = name_problem(getattr(self, field_name))
            if problem:
                raise DataError(f"sequence {self.subject!r}/{self.condition!r}/{self.view!r}: its "
                                f"{field_name} {problem}; rename it")

    @property
    def key(self) -> tuple[str, str, str]:
        """(subject, condition, view): the sequence's identity in every index."""
        return (self.subject, self.condition, self.view)


def to_binary(frames: np.ndarray, where: str) -> np.ndarray:
    """Check and convert one sequence's frames to `[T, H, W]` uint8 in {0, 1}.

    Accepted: bool; {0, 1}; or grey values 0..255 (binarised at 128 as OpenGait's pretreatment
    output is). Rejected with a `DataError` naming `where`: other ranks, NaN or infinite values,
    negative or >255 values, fractional values in (0, 1) (a probability map is not a silhouette).
    """
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise DataError(f"{where}: expected frames of shape (T, H, W), got shape {frames.shape}")
    if frames.dtype == np.bool_:
        return frames.view(np.uint8)
    if frames.dtype.kind not in "uif":
        raise DataError(f"{where}: frames have dtype {frames.dtype}; expected uint8 silhouettes")
    if frames.size == 0:
        return np.zeros(frames.shape, dtype=np.uint8)
    if frames.dtype.kind == "f" and not np.isfinite(frames).all():
        raise DataError(f"{where}: frames contain NaN or infinite values; re-extract the silhouettes")
    low, high = frames.min(), frames.max()
    if low < 0 or high > 255:
        raise DataError(
            f"{where}: frame values span {low}..{high}; expected binary silhouettes (0/1 or 0..255)"
        )
    if high <= 1:
        if frames.dtype.kind == "f" and not np.isin(frames, (0.0, 1.0)).all():
            raise DataError(f"{where}: frames hold fractional values in [0, 1]; expected binary 0/1")
        return frames.astype(np.uint8, copy=False)
    return (frames >= BINARY_THRESHOLD).astype(np.uint8)
