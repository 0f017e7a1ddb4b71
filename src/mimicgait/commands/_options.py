"""Command-line options shared by several sub-commands (the leading underscore keeps this module
out of the dispatcher's sub-command discovery)."""

from __future__ import annotations

import argparse


def add_overrides(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """Add the repeatable `--set KEY=VALUE` config override (value read as YAML) as `overrides`."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config key{scope}, value read as YAML (repeatable), e.g. --set optim.lr=0.01",
    )
