"""The project's own error type for a user's mistake (bad input, missing file, bad setting).

The command line turns a `UserError` into one line on stderr and exit status 2; anything else is a
bug and keeps its traceback. It subclasses ValueError so that callers catching ValueError still do.
"""

from __future__ import annotations

import errno


class UserError(ValueError):
    """A mistake the user can fix; the message names the file or key and says how."""


class DivergenceError(UserError, FloatingPointError):
    """Training produced a non-finite loss: a setting (learning rate, clipping, a barely trained
    teacher) the user can change. Also a FloatingPointError, so code catching that still does."""


#: OS error numbers that describe the user's file system, not a bug: reported in one line.
ENVIRONMENT_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.ENOENT,
        errno.EEXIST,
        errno.ENAMETOOLONG,
    }
)


def path_error(err: OSError, path: object, what: str = "") -> UserError:
    """A `UserError` for an OS error on a user's path: names the path, the reason and the fix.

    `what` says which argument the path came from (e.g. '--out'), so the user knows what to change.
    """
    reason = err.strerror or str(err)
    label = f"{what} {path}" if what else str(path)
    fixes = {
        errno.EACCES: "check its permissions or choose another location",
        errno.EPERM: "check its permissions or choose another location",
        errno.EROFS: "the file system is read-only; choose another location",
        errno.ENOSPC: "the disk is full; free space or choose another location",
        errno.EDQUOT: "the disk quota is exhausted; free space or choose another location",
        errno.ENOTDIR: "a part of the path is a file, not a directory; choose another location",
        errno.EISDIR: "it is a directory; give a file name",
    }
    fix = fixes.get(err.errno or 0, "check the path")
    other = f" ({err.filename})" if err.filename and str(err.filename) != str(path) else ""
    return UserError(f"{label}: {reason}{other}; {fix}")
