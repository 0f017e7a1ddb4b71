"""`mimicgait configs`: list the built-in configs, each with the first sentence of its header comment.

Built-in configs are found by name wherever a command takes `--config` (`--config casia-b/cpu`);
without a list a user has to read the package's folder to learn the names.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `configs` sub-command."""
    p = subparsers.add_parser(
        "configs",
        help="list the built-in configs (names for --config)",
        description="List the configs shipped with mimicgait, by the name --config takes, with the first "
        "sentence of each file's header comment. `--show NAME` prints one config file.",
    )
    p.add_argument("--show", metavar="NAME", help="print the YAML file of one built-in config")
    p.add_argument("--json", action="store_true", help="print {name: description} as JSON")
    p.set_defaults(func=run)


def describe(path: Path, limit: int = 100) -> str:
    """The first sentence of the file's leading comment block, without '#', cut to `limit`
    characters (empty when the file starts without a comment)."""
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text.startswith("#"):
            break
        words += text.lstrip("#").split()
    sentence = " ".join(words)
    for end in (". ",):
        if end in sentence:
            sentence = sentence[: sentence.index(end) + 1]
    return sentence if len(sentence) <= limit else sentence[: limit - 3].rstrip() + "..."


def run(args: argparse.Namespace) -> int:
    """Print the list (or one config's file); returns the exit code."""
    from mimicgait.engine.config import CONFIG_DIR, builtin_configs
    from mimicgait.errors import UserError

    names = builtin_configs()
    if args.show:
        name = args.show[:-5] if args.show.endswith(".yaml") else args.show
        if name not in names:
            raise UserError(f"--show {args.show}: no built-in config of that name; built-in names: "
                            f"{', '.join(names)}")
        print((CONFIG_DIR / f"{name}.yaml").read_text(encoding="utf-8"), end="")
        return 0
    described = {name: describe(CONFIG_DIR / f"{name}.yaml") for name in names}
    if args.json:
        print(json.dumps(described, indent=1))
        return 0
    width = max(len(name) for name in names)
    for name, text in described.items():
        print(f"{name:<{width}}  {text}".rstrip())
    return 0
