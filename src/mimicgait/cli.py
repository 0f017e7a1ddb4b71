"""The `mimicgait` command line: one sub-command per module of `mimicgait.commands`.

Each module in `mimicgait.commands` exposes `register(subparsers)`, which adds its parser and sets
`func` (called with the parsed namespace, returning an exit code). Discovery keeps this file free
of per-command edits.

A `mimicgait.errors.UserError` (a user's mistake: bad file, key or setting) is printed as one line
and gives exit status 2, as does an OS error about the user's file system (no permission, disk
full) that names its path. Every other exception is a bug and keeps its traceback; `-v` shows the
traceback of user errors too.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys

from mimicgait import __version__, commands
from mimicgait.engine.host_memory import reuse_freed_memory
from mimicgait.errors import ENVIRONMENT_ERRNOS, UserError, path_error


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every discovered sub-command."""
    parser = argparse.ArgumentParser(
        prog="mimicgait", description="MimicGait: occluded gait recognition by correlational distillation."
    )
    parser.add_argument("--version", action="version", version=f"mimicgait {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.INFO
    if int(os.environ.get("RANK", "0") or 0) != 0:
        level = logging.WARNING  # under torchrun only rank 0 reports progress; the others warn or fail
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        reuse_freed_memory()  # freed tensors' memory is reused, not faulted in again each step
        return int(args.func(args) or 0)
    except UserError as err:
        # The project's own error type: a user's mistake, said in one line with its fix.
        if args.verbose:
            raise
        return _report(err)
    except BrokenPipeError:
        # the reader of our output went away (`| head`): not an error of ours, and nothing to say
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (so the interpreter's final flush is quiet)
        return 0
    except OSError as err:
        # The user's file system (no permission, disk full, a file where a folder should be) is
        # reported like a user error when the path is known; any other OSError is a bug.
        if args.verbose or err.errno not in ENVIRONMENT_ERRNOS or not err.filename:
            raise
        return _report(path_error(err, err.filename))


def _report(err: UserError) -> int:
    """Print a user error as one line on stderr; returns exit status 2."""
    text = " ".join(str(err).split())  # one line, whatever the message's own layout
    print(f"mimicgait: error: {text}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
