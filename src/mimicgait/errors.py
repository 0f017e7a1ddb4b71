"""The project's own error type for a user's mistake (bad input, missing file, bad setting).

The command line turns a `UserError` into one line on stderr and exit status 2; anything else is a
bug and keeps its traceback. It subclasses ValueError so that callers catching ValueError still do.
"""

from __future__ import annotations


class UserError(ValueError):
    """A mistake the user can fix; the message names the file or key and says how."""
