"""Evaluation protocols as data: which sequences are gallery and probes, and how scores are averaged.

A `Protocol` names a gallery `Selector` and one or more probe groups (CASIA-B has NM, BG and CL),
the ranks to report, whether accuracy is averaged over view pairs with identical views excluded
(CASIA-B, OU-MVLP), what to do with probes that have no gallery match, and whether verification
rates are computed. Protocols are registered by name (`register_protocol`): the CLI's choices and
the config checks read the registry, and `build_protocol(name, **options)` passes each factory the
options it declares (probe_types, gallery_types, list_file, probe_set). A new protocol is one
decorated function.

Sequence keys are (subject, condition, view); selectors match conditions by prefix (`nm-0` matches
nm-01..nm-06, `nm-05` matches only nm-05) or by explicit key lists.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mimicgait.errors import UserError

#: Registered protocols: name -> factory returning a `Protocol` (see `register_protocol`).
PROTOCOLS: dict[str, Callable[..., Protocol]] = {}


def register_protocol(name: str) -> Callable[[Callable[..., Protocol]], Callable[..., Protocol]]:
    """Register a protocol factory under `name`; it may take any of the options `build_protocol`
    passes (probe_types, gallery_types, list_file, probe_set) as keyword parameters."""

    def add(factory: Callable[..., Protocol]) -> Callable[..., Protocol]:
        if name in PROTOCOLS:
            raise ValueError(f"protocol {name!r} is already registered")
        PROTOCOLS[name] = factory
        return factory

    return add


def protocol_options(name: str) -> frozenset[str]:
    """The options the protocol `name` takes (e.g. {'probe_set'} for gait3d)."""
    return frozenset(inspect.signature(_factory(name)).parameters)


def _factory(name: str) -> Callable[..., Protocol]:
    if name not in PROTOCOLS:
        raise UserError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def key_forms(subject: str, condition: str, view: str) -> tuple[str, ...]:
    """The spellings under which a list file or a Gait3D PROBE_SET may name a sequence."""
    return (
        f"{subject}/{condition}/{view}",
        f"{subject}/{condition}",
        f"{subject}-{condition}",
        f"{subject}_{condition}",
        condition,
    )


@dataclass(frozen=True)
class Selector:
    """A set of sequences: by condition prefixes, or by explicit keys (see `key_forms`), or both.

    `negate` selects the complement (Gait3D's gallery: every test sequence not in the probe set).
    """

    prefixes: tuple[str, ...] = ()
    keys: frozenset[str] = frozenset()
    negate: bool = False

    def mask(self, keys: Sequence[tuple[str, str, str]]) -> np.ndarray:
        """[n] bool over a store's keys."""
        out = np.zeros(len(keys), dtype=bool)
        if len(keys) == 0:
            return out
        conditions = np.array([k[1] for k in keys], dtype=str)
        for prefix in self.prefixes:
            out |= np.char.startswith(conditions, prefix)
        if self.keys:
            listed = np.array(sorted(self.keys), dtype=str)
            for form in zip(*(key_forms(*k) for k in keys), strict=True):
                out |= np.isin(np.array(form, dtype=str), listed)
        return ~out if self.negate else out

    def describe(self) -> str:
        parts = []
        if self.prefixes:
            parts.append("conditions " + ",".join(self.prefixes))
        if self.keys:
            parts.append(f"{len(self.keys)} listed sequences")
        text = " + ".join(parts) or "nothing"
        return f"all but ({text})" if self.negate else text


@dataclass(frozen=True)
class Protocol:
    """Which sequences are gallery and probes, and how their scores are combined."""

    name: str
    gallery: Selector
    probes: dict[str, Selector]  # probe group name -> selector
    ranks: tuple[int, ...] = (1, 5, 10)
    cross_view: bool = False  # per (probe view, gallery view) Rank-1, identical views excluded
    skip_unmatched: bool = False  # Gait3D: probes absent from the gallery are left out
    verification: bool = False  # also TAR at FAR and the ROC
    fars: tuple[float, ...] = (1e-2, 1e-3)

    def describe(self) -> dict[str, object]:
        """The protocol's definition as plain data, for the report."""
        return {
            "gallery": self.gallery.describe(),
            "probes": {name: sel.describe() for name, sel in self.probes.items()},
            "ranks": list(self.ranks),
            "averaging": "per view pair, identical views excluded" if self.cross_view else "all probes",
            "unmatched_probes": "skipped" if self.skip_unmatched else "counted as failures",
        }


@register_protocol("casia-b")
def casia_b() -> Protocol:
    return Protocol(
        name="casia-b",
        gallery=Selector(prefixes=("nm-01", "nm-02", "nm-03", "nm-04")),
        probes={
            "NM": Selector(prefixes=("nm-05", "nm-06")),
            "BG": Selector(prefixes=("bg-01", "bg-02")),
            "CL": Selector(prefixes=("cl-01", "cl-02")),
        },
        ranks=(1, 5),
        cross_view=True,
    )


@register_protocol("oumvlp")
def oumvlp() -> Protocol:
    return Protocol(
        name="oumvlp", gallery=Selector(prefixes=("01",)), probes={"NM": Selector(prefixes=("00",))},
        ranks=(1, 5), cross_view=True,
    )


@register_protocol("grew")
def grew() -> Protocol:
    return Protocol(
        name="grew", gallery=Selector(prefixes=("01",)), probes={"all": Selector(prefixes=("02",))},
        ranks=(1, 5, 10, 20),
    )


@register_protocol("gait3d")
def gait3d(probe_set: Iterable[str]) -> Protocol:
    listed = frozenset(str(k) for k in probe_set)
    if not listed:
        raise UserError("the gait3d protocol needs a PROBE_SET list in the partition file (--partition)")
    return Protocol(
        name="gait3d",
        gallery=Selector(keys=listed, negate=True),
        probes={"all": Selector(keys=listed)},
        ranks=(1, 5, 10),
        skip_unmatched=True,
    )


def _types(text: str | Sequence[str] | None) -> tuple[str, ...]:
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    return tuple(t.strip() for t in items if t.strip())


def read_list_file(path: str | Path) -> tuple[frozenset[str], frozenset[str]]:
    """A list file: JSON {"probe": [keys], "gallery": [keys]}, keys spelt as in `key_forms`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"list file {path} not found; pass --list FILE with probe and gallery keys")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"list file {path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("probe"), list) or not isinstance(
        data.get("gallery"), list
    ):
        raise UserError(f'list file {path} must be a JSON object {{"probe": [...], "gallery": [...]}}')
    return frozenset(map(str, data["probe"])), frozenset(map(str, data["gallery"]))


def generic(
    name: str,
    probe_types: str | Sequence[str] | None = None,
    gallery_types: str | Sequence[str] | None = None,
    list_file: str | Path | None = None,
    ranks: Sequence[int] = (1, 5, 10),
    verification: bool = False,
) -> Protocol:
    """The `rank` / `verification` protocol for any dataset: condition prefixes and/or a list file."""
    probe_keys: frozenset[str] = frozenset()
    gallery_keys: frozenset[str] = frozenset()
    if list_file is not None:
        probe_keys, gallery_keys = read_list_file(list_file)
    probe = Selector(prefixes=_types(probe_types), keys=probe_keys)
    gallery = Selector(prefixes=_types(gallery_types), keys=gallery_keys)
    if not (probe.prefixes or probe.keys) or not (gallery.prefixes or gallery.keys):
        raise UserError(
            f"the {name} protocol needs probe and gallery sets: pass --probe-types and --gallery-types "
            "(condition prefixes such as nm-05,nm-06) or --list FILE"
        )
    return Protocol(
        name=name, gallery=gallery, probes={"all": probe}, ranks=tuple(ranks), verification=verification
    )


@register_protocol("rank")
def rank(probe_types: str | Sequence[str] | None = None, gallery_types: str | Sequence[str] | None = None,
         list_file: str | Path | None = None) -> Protocol:
    """Rank-k for any dataset: probe and gallery by condition prefixes and/or a list file."""
    return generic("rank", probe_types, gallery_types, list_file)


@register_protocol("verification")
def verification(probe_types: str | Sequence[str] | None = None,
                 gallery_types: str | Sequence[str] | None = None,
                 list_file: str | Path | None = None) -> Protocol:
    """Rank-k plus TAR@FAR and ROC, probe and gallery chosen as for `rank`."""
    return generic("verification", probe_types, gallery_types, list_file, verification=True)


def build_protocol(name: str, **options: object) -> Protocol:
    """The registered protocol `name`, given the options its factory takes (the others are ignored:
    `probe_set` is Gait3D's PROBE_SET; probe/gallery types and a list file serve rank and
    verification)."""
    factory = _factory(name)
    wanted = protocol_options(name)
    return factory(**{k: v for k, v in options.items() if k in wanted})
