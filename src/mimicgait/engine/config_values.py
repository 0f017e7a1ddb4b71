"""Value checks of a config: ranges of numeric settings and the sizes that decide memory.

The schema check (`config.check`) sees keys and types only; `check_values` sees what the values
mean: an iteration count that is not a whole number, a negative learning rate, a momentum above 1,
an input size or an encoder width that would need more memory than any machine has. Each is refused
by its dotted key in one line (`ConfigError`, a `UserError`) before anything is built or allocated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mimicgait.errors import UserError

#: Size bounds, checked before anything is allocated (`_check_sizes`): a frame side in pixels ...
MAX_FRAME_SIDE = 1024
#: ... frames of a training clip ...
MAX_FRAMES = 1000
#: ... sequences in a batch (training: ids x sequences per id; evaluation: batch_size) ...
MAX_BATCH = 4096
#: ... any width or count in `model.encoder_kwargs` and `ven.feature_dim` (paper widths: 512 at most) ...
MAX_WIDTH = 4096
#: ... and the encoder's parameters (the paper-width encoders have 1M to 30M).
MAX_PARAMETERS = 500_000_000


class ConfigError(UserError):
    """A config file or override that does not fit the schema (a `UserError`: one line, exit 2)."""


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
    occlusion probabilities, and batches too small to form a pair; then every numeric setting's
    range (`_RANGES`: a positive learning rate, a momentum below 1, ...) and the sizes that decide
    memory (`_check_sizes`), so an out-of-memory size is refused from its arithmetic.
    """
    train = config.get("train", {})
    iterations = train.get("iterations")
    _need(_is_int(iterations) and iterations >= 1, "train.iterations", iterations, "a whole number >= 1",
          where)
    for key, low, meaning in (("log_every", 1, ""), ("checkpoint_every", 0, " (0: only the final one)"),
                              ("val_every", -1, " (0: only at the end, -1: never)")):
        value = train.get(key)
        _need(_is_int(value) and value >= low, f"train.{key}", value, f"a whole number >= {low}{meaning}",
              where)
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
    _check_kind_sets((config.get("pipeline") or {}).get("eval", {}).get("also_occlusion") or [],
                     "pipeline.eval.also_occlusion", where)
    protocol = (config.get("val") or {}).get("protocol")
    if protocol is not None:
        from mimicgait.eval.protocols import PROTOCOLS

        _need(protocol in PROTOCOLS, "val.protocol", protocol, f"one of {', '.join(PROTOCOLS)}", where)
    for key in ("ids_per_batch", "seqs_per_id", "min_frames", "workers"):
        value = data.get(key)
        low = 0 if key == "workers" else 1
        _need(_is_int(value) and value >= low, f"data.{key}", value, f"a whole number >= {low}", where)
    occlusion = config.get("occlusion", {})
    for key in ("amount_range", "wild_range"):
        amount = occlusion.get(key)
        if amount is None and key == "wild_range":
            continue
        _need(
            isinstance(amount, (list, tuple))
            and len(amount) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in amount)
            and 0 <= amount[0] <= amount[1] < 1,
            f"occlusion.{key}", amount, "two numbers [low, high] with 0 <= low <= high < 1", where,
        )
    kinds = occlusion.get("kinds") or {}
    for kind, p in kinds.items():
        _need(isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0,
              f"occlusion.kinds.{kind}", p, "a probability >= 0", where)
    if kinds and sum(float(p) for p in kinds.values()) > 1.0 + 1e-9:
        raise ConfigError(f"{where}: occlusion.kinds probabilities sum to more than 1 ({dict(kinds)}); "
                          "the remainder is the share of unoccluded sequences")
    _check_numbers(config, where)
    _check_sizes(config, where)


def _check_kind_sets(sets: Any, key: str, where: str) -> None:
    """Each entry of a list of occlusion kind sets ('crowd' or 'top,bottom') names known kinds; checked
    when the config is loaded, not when the evaluations start after hours of training."""
    from mimicgait.data.occlusion import check_kind

    _need(isinstance(sets, (list, tuple)) and all(isinstance(s, str) and s.strip() for s in sets), key, sets,
          "a list of occlusion kinds or comma lists of them, e.g. [crowd, object, cut]", where)
    for kinds in sets:
        for kind in kinds.split(","):
            try:
                check_kind(kind.strip())
            except ValueError as err:
                raise ConfigError(f"{where}: {key}: {err}") from None


def _is_number(value: Any) -> bool:
    """A finite int or float; never a bool, NaN or an infinity."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _get(config: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted key ('optim.lr'); None where a section is missing."""
    value: Any = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


#: Numeric settings and their ranges: key -> (test, rule). A value outside its range is refused by
#: name; before, most of these failed deep inside torch (a negative learning rate) or, worse, ran
#: (a negative margin or decay factor, a momentum above 1).
_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0"),
    "optim.lr": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "optim.momentum": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "optim.weight_decay": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "optim.gamma": (lambda v: _is_number(v) and v > 0, "a number > 0 (the lr factor at each milestone)"),
    "optim.grad_clip": (lambda v: v is None or (_is_number(v) and v > 0), "a number > 0, or null for none"),
    "optim.milestones": (lambda v: v is None or all(_is_int(m) and m >= 1 for m in v),
                         "a list of whole iteration numbers >= 1"),
    "train.time_limit_s": (lambda v: v is None or (_is_number(v) and v >= 0),
                           "a number of seconds >= 0, or null for none"),
    "model.label_smoothing": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    **{f"loss.{key}": (lambda v: _is_number(v) and v >= 0, "a number >= 0")
       for key in ("triplet_margin", "ce_weight", "occlusion_ce_weight", "mickd_margin", "amount_weight",
                   "mimic_ce_weight")},
    **{f"data.{key}": (lambda v: _is_number(v) and 0 <= v <= 1, "a probability in [0, 1]")
       for key in ("flip", "rotate", "perspective")},
    "data.rotate_degrees": (lambda v: _is_number(v) and 0 <= v <= 180, "a number of degrees in [0, 180]"),
    "data.perspective_distortion": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    **{f"{section}.batch_size": (lambda v: _is_int(v) and 1 <= v <= MAX_BATCH,
                                 f"a whole number from 1 to {MAX_BATCH}")
       for section in ("val", "pipeline.eval")},
    **{f"{section}.max_frames": (lambda v: v is None or (_is_int(v) and v >= 1),
                                 "a whole number >= 1, or null for no cap")
       for section in ("val", "pipeline.eval")},
}


def _check_numbers(config: Mapping[str, Any], where: str) -> None:
    """Every `_RANGES` key present in `config` holds a value in its range (`ConfigError` naming it)."""
    for key, (test, rule) in _RANGES.items():
        section = _get(config, key.rpartition(".")[0]) if "." in key else config
        if not isinstance(section, Mapping) or key.rpartition(".")[2] not in section:
            continue
        value = _get(config, key)
        try:
            ok = bool(test(value))
        except TypeError:  # e.g. milestones that are not a list
            ok = False
        _need(ok, key, value, rule, where)


def _check_sizes(config: Mapping[str, Any], where: str) -> None:
    """Sizes that decide how much memory training takes, bounded before anything is allocated: the
    input frame, the frames and sequences of a batch, every width in `model.encoder_kwargs`, and
    the encoder's parameter count (counted on PyTorch's meta device, which allocates nothing)."""
    data = config.get("data", {})
    size = data.get("input_size")
    if size is not None:
        _need(all(v <= MAX_FRAME_SIDE for v in size), "data.input_size", size,
              f"at most {MAX_FRAME_SIDE} pixels a side", where)
    frames = data.get("frames") or {}
    for key in ("frames", "min_frames", "max_frames"):
        if key in frames:
            value = frames[key]
            _need(_is_int(value) and 1 <= value <= MAX_FRAMES, f"data.frames.{key}", value,
                  f"a whole number from 1 to {MAX_FRAMES}", where)
    if frames.get("mode") == "range" and frames.get("min_frames", 1) > frames.get("max_frames", MAX_FRAMES):
        raise ConfigError(f"{where}: data.frames.min_frames {frames['min_frames']} exceeds "
                          f"data.frames.max_frames {frames['max_frames']}")
    batch = data.get("ids_per_batch", 1) * data.get("seqs_per_id", 1)
    _need(batch <= MAX_BATCH, "data.ids_per_batch x data.seqs_per_id", batch, f"at most {MAX_BATCH}", where)
    feature_dim = (config.get("ven") or {}).get("feature_dim", 1)
    _need(_is_int(feature_dim) and 1 <= feature_dim <= MAX_WIDTH, "ven.feature_dim", feature_dim,
          f"a whole number from 1 to {MAX_WIDTH}", where)
    model = config.get("model") or {}
    kwargs = model.get("encoder_kwargs") or {}
    for key, value in _integers(kwargs, "model.encoder_kwargs"):
        _need(value <= MAX_WIDTH, key, value, f"at most {MAX_WIDTH} (a width, count or size)", where)
    _check_parameters(model.get("encoder"), kwargs, size, where)


def _integers(value: Any, key: str) -> Iterator[tuple[str, int]]:
    """(dotted key, value) of every integer in a nested structure of maps and lists."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _integers(v, f"{key}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _integers(v, f"{key}[{i}]")
    elif isinstance(value, int) and not isinstance(value, bool):
        yield key, value


def _check_parameters(name: Any, kwargs: Mapping[str, Any], size: Any, where: str) -> None:
    """Refuse an encoder of more than `MAX_PARAMETERS` parameters, from its meta-device twin.

    An encoder that cannot be built here (an unknown name or keyword, a size only the data sets)
    is left to the stage build, which reports it with the data's frame size."""
    import torch

    from mimicgait.models import count_parameters, create_encoder

    spec = dict(kwargs)
    if size is not None and "input_size" not in spec:
        spec["input_size"] = list(size)
    try:
        with torch.device("meta"):
            count = count_parameters(create_encoder(str(name), **spec))
    except Exception:  # noqa: BLE001  (reported with its real cause when the stage is built)
        return
    if count > MAX_PARAMETERS:
        raise ConfigError(f"{where}: model.encoder_kwargs {dict(kwargs)} give {name} {count / 1e6:,.0f}M "
                          f"parameters ({4 * count / 2**30:,.1f} GiB of weights), more than "
                          f"{MAX_PARAMETERS / 1e6:,.0f}M; choose smaller widths")
