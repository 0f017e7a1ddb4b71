"""The one rule for sequence names: subject, condition and view names, and video `--id`s.

A name becomes a file or folder name when a dataset is written (`<out>/<sid>/<type>/<view>/...`,
`<out>/<sid>.npz`), so a name such as `..`, `a/b` or one holding a NUL could put a file outside the
output directory or make a path that means something else. Every reader (npz entries, pkl and PNG
folders) and every writer (`data convert`, `silhouettes`, `embed --id`) applies this one check.
"""

from __future__ import annotations

from mimicgait.errors import UserError

#: Longest name accepted: far beyond any dataset's ids, well inside a file name's 255 bytes.
MAX_LENGTH = 128


def name_problem(name: object) -> str | None:
    """Why `name` cannot be a sequence name (subject, condition or view), or None when it can.

    Refused: anything but a string, the empty name, `.` and `..`, path separators (`/`, `\\`),
    NUL and other control characters, and names longer than `MAX_LENGTH`.
    """
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not text"
    if not name:
        return "is empty"
    if name in (".", ".."):
        return "is a path step ('.' or '..'), not a name"
    if "/" in name or "\\" in name:
        return "holds a path separator ('/' or '\\')"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "holds a control character"
    if len(name) > MAX_LENGTH:
        return f"is longer than {MAX_LENGTH} characters"
    return None


def check_name(name: object, what: str) -> str:
    """`name` itself when it is a valid sequence name; else a `UserError` naming `what` (e.g. 'subject
    of --id 001-nm-01-090' or 'archive d/001.npz entry') with the rule it breaks."""
    problem = name_problem(name)
    if problem:
        raise UserError(f"{what} {name!r} {problem}; use a plain name such as 001, nm-01 or 090")
    return name  # type: ignore[return-value]  (a str: name_problem refuses everything else)


def check_key(key: tuple[object, ...], what: str) -> tuple[str, str, str]:
    """A (subject, condition, view) key whose three names are all valid; else a `UserError`."""
    subject, condition, view = key
    return (check_name(subject, f"{what}: subject"), check_name(condition, f"{what}: condition"),
            check_name(view, f"{what}: view"))
