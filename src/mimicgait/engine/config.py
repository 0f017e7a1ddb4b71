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


class ConfigError(UserError):
    """A config file or override that does not fit the schema (a `UserError`: one line, exit 2)."""


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


def _is_int(value: Any) -> bool:
    """An integer, or a float with an integral value (YAML's 100.0); never a bool."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _need(ok: bool, key: str, value: Any, rule: str, where: str) -> None:
    if not ok:
        raise ConfigError(f"{where}: {key} must be {rule}, got {value!r}")


def check_values(config: Mapping[str, Any], where: str = "config") -> None:
    """Raise `ConfigError` for values of the right type but outside their range, naming the key.

    The schema check (`check`) only sees types; this one catches what would otherwise fail deep in
    training or, worse, run silently: a fractional or non-positive iteration count, an input size
    that is not two positive integers, an amount range that is not two numbers in [0, 1), negative
    occlusion probabilities, and batches too small to form a pair.
    """
    train = config.get("train", {})
    iterations = train.get("iterations")
    _need(_is_int(iterations) and iterations >= 1, "train.iterations", iterations, "a whole number >= 1",
          where)
    for key in ("log_every", "checkpoint_every", "val_every"):
        value = train.get(key)
        _need(_is_int(value), f"train.{key}", value, "a whole number", where)
    timeout = train.get("dist_timeout_s")
    if timeout is not None:
        _need(not isinstance(timeout, bool) and isinstance(timeout, (int, float)) and timeout > 0,
              "train.dist_timeout_s", timeout, "a positive number of seconds", where)
    data = config.get("data", {})
    size = data.get("input_size")
    if size is not None:
        _need(isinstance(size, (list, tuple)) and len(size) == 2 and all(_is_int(v) and v >= 1 for v in size),
              "data.input_size", size, "two positive integers [H, W] (or null: the data's frame size)", where)
    seeds = (config.get("pipeline") or {}).get("eval", {}).get("seeds", 1)
    _need(_is_int(seeds) and seeds >= 1, "pipeline.eval.seeds", seeds, "a whole number >= 1", where)
    for key in ("ids_per_batch", "seqs_per_id", "min_frames", "workers"):
        value = data.get(key)
        low = 0 if key == "workers" else 1
        _need(_is_int(value) and value >= low, f"data.{key}", value, f"a whole number >= {low}", where)
    occlusion = config.get("occlusion", {})
    amount = occlusion.get("amount_range")
    _need(
        isinstance(amount, (list, tuple))
        and len(amount) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in amount)
        and 0 <= amount[0] <= amount[1] < 1,
        "occlusion.amount_range", amount, "two numbers [low, high] with 0 <= low <= high < 1", where,
    )
    kinds = occlusion.get("kinds") or {}
    for kind, p in kinds.items():
        _need(isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0,
              f"occlusion.kinds.{kind}", p, "a probability >= 0", where)
    if kinds and sum(float(p) for p in kinds.values()) > 1.0 + 1e-9:
        raise ConfigError(f"{where}: occlusion.kinds probabilities sum to more than 1 ({dict(kinds)}); "
                          "the remainder is the share of unoccluded sequences")


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


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last,
    so the first setting would be ignored without a word)."""

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


def _read_chain(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The file's settings merged over its base chain (without the defaults)."""
    if path in seen:
        raise ConfigError(f"{path}: circular 'base' chain: {' -> '.join(map(str, (*seen, path)))}")
    try:
        with open(path, encoding="utf-8") as f:
            data = _numbers(yaml.load(f, Loader=_UniqueKeyLoader) or {})
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
        value = _numbers(yaml.safe_load(raw)) if raw.strip() else None
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
    config = apply_overrides(config, overrides)
    check_values(config, where=str(path) if path is not None else "config")
    return resolve_paths(config, path) if path is not None else config


def save_config(config: Mapping[str, Any], path: str | Path) -> Path:
    """Write the resolved config as YAML (what a run directory keeps as config.yaml)."""
    path = Path(path)
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return path
