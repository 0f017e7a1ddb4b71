"""The `mimicgait` command line: one sub-command per module of `mimicgait.commands`.

Each module in `mimicgait.commands` exposes `register(subparsers)`, which adds its parser and sets
`func` (called with the parsed namespace, returning an exit code). Discovery keeps this file free
of per-command edits.

A `mimicgait.errors.UserError` (a user's mistake: bad file, key or setting) is printed as one line
and gives exit status 2, as does an OS error about the user's file system (no permission, disk
full) that names its path. Every other exception is a bug and keeps its traceback; `-v` shows the
traceback of user errors too. A mistake on the command line itself (an unknown option, a value
its `type=` refuses) is one line too, naming the option, with exit status 2; Ctrl-C is one line and
exit status 130, as a shell reports an interrupted command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from typing import NoReturn

import mimicgait.commands as commands
from mimicgait.engine.host_memory import reuse_freed_memory
from mimicgait.errors import ENVIRONMENT_ERRNOS, UserError, path_error
from mimicgait.onednn import limit_onednn_cache
from mimicgait.version import __version__

#: Exit status of a command stopped by Ctrl-C (128 + SIGINT), what shells report for it.
INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse's parser, saying a command-line mistake in one line (argparse's own `error` prints
    the whole usage first, burying the line that names the option)."""

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {text} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every discovered sub-command (sub-parsers share its class)."""
    parser = _Parser(
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
    """Entry point of the console script: runs the command; Ctrl-C anywhere is one line and 130."""
    try:
        return _run(argv)
    except KeyboardInterrupt:
        if _verbose(argv):
            raise
        print("mimicgait: interrupted (Ctrl-C)", file=sys.stderr)
        return INTERRUPTED


def _verbose(argv: list[str] | None) -> bool:
    """Whether `-v` was given (read from the words, as Ctrl-C may come before parsing ends)."""
    words = sys.argv[1:] if argv is None else argv
    return any(word in ("-v", "--verbose") for word in words)


def _run(argv: list[str] | None) -> int:
    """Parse the command line and run the sub-command; user errors become one line and status 2."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a mistake already said in one line
        return done.code if isinstance(done.code, int) else 0 if done.code is None else 2
    level = logging.DEBUG if args.verbose else logging.INFO
    if int(os.environ.get("RANK", "0") or 0) != 0:
        level = logging.WARNING  # under torchrun only rank 0 reports progress; the others warn or fail
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        reuse_freed_memory()  # freed tensors' memory is reused, not faulted in again each step
        limit_onednn_cache()  # evaluation's many batch shapes would each keep a primitive
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
