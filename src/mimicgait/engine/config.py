"""Experiment configuration: YAML files that inherit a base, checked against one schema.

A config is a nested dict. `DEFAULTS` below is the schema: every key a config may set, with its
default. Loading merges, in order, the defaults, the chain of `base:` files (a path relative to the
file naming it, or a built-in name), the file itself and the `--set a.b=value` overrides. A key
that is not in the schema is an error that suggests the closest valid key, so a misspelt setting
never passes silently. Maps listed in `FREE_FORM` (encoder keyword arguments, occlusion
probabilities) are passed through; their owners check them.

Built-in configs live in the package (`mimicgait/configs/<dataset>/<name>.yaml`): `--config
casia-b/gaitbase` finds one by name.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mimicgait.engine.config_values import ConfigError, check_values
from mimicgait.engine.schema import DEFAULTS, FREE_FORM, PATH_KEYS
from mimicgait.errors import UserError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

#: Exponent numbers without a dot ('1e-3'), which YAML 1.1 (PyYAML) reads as strings.
_EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _numbers(value: Any) -> Any:
    """Read '1e-3'-style strings as floats, recursively, as YAML 1.2 and Python would."""
    if isinstance(value, str) and _EXPONENT.match(value):
        return float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value



def _suggest(key: str, valid: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(sorted(valid))}"


def _type_ok(default: Any, value: Any) -> bool:
    if default is None or value is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, list):
        return isinstance(value, (list, tuple))
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True


def check(
    config: Mapping[str, Any],
    schema: Mapping[str, Any] = DEFAULTS,
    where: str = "config",
    path: tuple[str, ...] = (),
) -> None:
    """Raise `ConfigError` for unknown keys (with a suggestion) and values of the wrong type."""
    for key, value in config.items():
        here = (*path, str(key))
        dotted = ".".join(here)
        if key not in schema:
            raise ConfigError(f"{where}: unknown key {dotted!r}{_suggest(str(key), schema)}")
        default = schema[key]
        if not _type_ok(default, value):
            raise ConfigError(f"{where}: {dotted} should be {type(default).__name__}, got {value!r}")
        if isinstance(default, dict) and here not in FREE_FORM and isinstance(value, dict):
            check(value, default, where, here)


def merge(base: dict[str, Any], update: Mapping[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """Deep merge `update` into a copy of `base`; free-form maps are replaced, not merged."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        here = (*path, key)
        if isinstance(value, Mapping) and isinstance(out.get(key), dict) and here not in FREE_FORM:
            out[key] = merge(out[key], value, here)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_path(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    """A config file from a path (absolute, relative to `relative_to`, or to the cwd) or a built-in name."""
    text = str(name_or_path)
    candidates = []
    if relative_to is not None and not Path(text).is_absolute():
        candidates.append(relative_to / text)
    candidates.append(Path(text))
    stem = text[:-5] if text.endswith(".yaml") else text
    candidates.append(CONFIG_DIR / f"{stem}.yaml")
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise UserError(
        f"config {text!r} not found as a file nor as a built-in config; built-in names: "
        f"{', '.join(builtin_configs())}"
    )


def builtin_configs() -> list[str]:
    """Names of the configs shipped with the package, e.g. 'casia-b/gaitbase'."""
    return sorted(str(p.relative_to(CONFIG_DIR).with_suffix("")) for p in CONFIG_DIR.rglob("*.yaml"))


#: Most YAML aliases (`*name`) one document may use: a config needs a few, an alias bomb many.
MAX_ALIASES = 64
#: Most values (scalars, lists, maps) a document may hold once its aliases are expanded: a config
#: holds about a hundred; ten lines of nested aliases can hold billions (and fill the memory).
MAX_VALUES = 100_000


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last,
    so the first setting would be ignored without a word), and aliases past `MAX_ALIASES` or
    expanding past `MAX_VALUES` values, counted on the node graph before anything is built."""

    where = "config"  # the file or option, for messages
    aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise ConfigError(f"{self.where}: more than {MAX_ALIASES} YAML aliases (*name); a config "
                                  "needs few, so write the values out")
        return super().compose_node(parent, index)

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None and _expanded_size(node, {}, set()) > MAX_VALUES:
            raise ConfigError(f"{self.where}: its YAML aliases expand to more than {MAX_VALUES} values; "
                              "write the values out")
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise ConfigError(
                    f"{mark.name}:{mark.line + 1}: key {key!r} appears twice in the same mapping; keep one"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """Values in `node` with every alias expanded, counted once per node (`sizes` memoises by id), so
    a bomb is measured without being expanded; a node that contains itself counts as too large."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        return MAX_VALUES + 1  # a recursive structure: endless once expanded
    open_nodes.add(key)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    else:
        children = []
    for child in children:
        total += _expanded_size(child, sizes, open_nodes)
        if total > MAX_VALUES:
            break
    open_nodes.discard(key)
    sizes[key] = total
    return total


def _load_yaml(stream: Any, where: str) -> Any:
    """The YAML document in `stream` (text or a file), read by `_UniqueKeyLoader`; `where` names the
    file or option in its refusals."""
    loader = _UniqueKeyLoader(stream)
    loader.where = where
    try:
        return loader.get_single_data()
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to be a config") from None
    finally:
        loader.dispose()


def _read_chain(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The file's settings merged over its base chain (without the defaults)."""
    if path in seen:
        raise ConfigError(f"{path}: circular 'base' chain: {' -> '.join(map(str, (*seen, path)))}")
    try:
        with open(path, encoding="utf-8") as f:
            data = _numbers(_load_yaml(f, str(path)) or {})
    except (UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"{path}: cannot read it as a YAML text file ({err})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys to values")
    base = data.pop("base", None)
    check(data, where=str(path))
    if base is None:
        return data
    return merge(_read_chain(resolve_path(base, path.parent), (*seen, path)), data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """'optim.lr=0.01' -> (['optim', 'lr'], 0.01); the value is read as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: write KEY=VALUE, e.g. --set optim.lr=0.01")
    try:
        value = _numbers(_load_yaml(raw, f"--set {text!r}")) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {text!r}: value is not valid YAML: {err}") from None
    return key.strip().split("."), value


def apply_overrides(config: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply `--set a.b=value` overrides, each checked against the schema."""
    for text in overrides:
        keys, value = parse_override(text)
        nested: Any = value
        for key in reversed(keys):
            nested = {key: nested}
        check(nested, where=f"--set {text}")
        config = merge(config, nested)
    return config


def resolve_paths(config: dict[str, Any], config_file: Path) -> dict[str, Any]:
    """`PATH_KEYS` values as given when they exist from the working directory, else relative to the
    config file's directory when they exist there (so a config can name runs beside it)."""
    for section, key in PATH_KEYS:
        value = config[section][key]
        if not value or Path(value).is_absolute() or Path(value).exists():
            continue
        beside = config_file.parent / value
        if beside.exists():
            config[section][key] = str(beside)
    return config


def load_config(name_or_path: str | Path | None = None, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """The resolved config: defaults <- base chain <- file <- overrides, run paths resolved."""
    config = copy.deepcopy(DEFAULTS)
    path = None
    if name_or_path is not None:
        path = resolve_path(name_or_path)
        config = merge(config, _read_chain(path))
    overrides = list(overrides)
    config = apply_overrides(config, overrides)
    where = str(path) if path is not None else "config"
    check_values(config, where=f"{where} with its --set overrides" if overrides else where)
    return resolve_paths(config, path) if path is not None else config


def save_config(config: Mapping[str, Any], path: str | Path) -> Path:
    """Write the resolved config as YAML (what a run directory keeps as config.yaml)."""
    path = Path(path)
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return path
