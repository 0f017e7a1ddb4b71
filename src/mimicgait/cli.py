"""The `mimicgait` command line: one sub-command per module of `mimicgait.commands`.

Each module in `mimicgait.commands` exposes `register(subparsers)`, which adds its parser and sets
`func` (called with the parsed namespace, returning an exit code). Discovery keeps this file free
of per-command edits.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from mimicgait import __version__, commands
from mimicgait.engine.host_memory import reuse_freed_memory


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
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        reuse_freed_memory()  # freed tensors' memory is reused, not faulted in again each step
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, KeyError) as err:
        # Expected user errors: say what and how to fix, no traceback.
        print(f"mimicgait: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
