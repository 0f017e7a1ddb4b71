"""The registry of occlusion kinds: every kind is one registered object that draws, applies and names itself.

A kind is a subclass of `OcclusionKind` in a module of its own, decorated with `@register_kind`; the
package imports the built-in kind modules in order (`BUILT_IN` in `__init__`). A kind's index is its
registration order: `BatchOcclusion.kind` and the VEN's class indices (through `ALL_KINDS`) refer to
it, so the built-in kinds keep the order they were first written in (the paper's kinds, then the wild
ones) and a new kind comes after them. Everything else (the policy, the batch occluder, evaluation,
`mimicgait occlusion show|list`) asks the registry; `KINDS`, `WILD_KINDS` and `ALL_KINDS` are live
views of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from mimicgait.errors import UserError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from mimicgait.data.occlusion.batch import BatchOcclusion
    from mimicgait.data.occlusion.pool import OccluderPool
    from mimicgait.data.occlusion.rules import Occlusion, Ranges


class OcclusionKind:
    """One occlusion kind. Subclasses set `name` and the flags, and implement the four methods.

    Drawing must consume the generator the same way on every call (the evaluation draws and the
    fingerprints depend on it): first the amount (done by `draw_occlusion` from the range named by
    `amount_from`), then whatever `draw` takes. A batch draw gets three uniforms per sequence that every
    kind shares, plus `extra_draws` more when a class of the batch asks for them.
    """

    #: The name a policy, a config or `--occlusion` gives it.
    name: ClassVar[str]
    #: It may drop frames (a detector loses the walker): the NumPy form may return fewer frames and the
    #: batch form says how many it kept; evaluation then counts dropped frames.
    wild: ClassVar[bool] = False
    #: It draws other walkers from an `OccluderPool` (which training and evaluation build from their split).
    needs_pool: ClassVar[bool] = False
    #: The `Ranges` field its amount is drawn from, or None when it draws nothing (no occlusion).
    amount_from: ClassVar[str | None] = "amount"
    #: Uniforms in [0, 1) per sequence a batch draw takes after the shared three (all kinds of one batch
    #: get the largest count of its classes, so the stream does not depend on which kinds were chosen).
    extra_draws: ClassVar[int] = 0
    #: Its class index (registration order); set by `register_kind`.
    index: int = -1

    def draw(self, rng: np.random.Generator, amount: float, ranges: Ranges, *, pool: OccluderPool | None,
             subject: str | None) -> Occlusion:
        """The rest of one occlusion's random choices, after its `amount` was drawn (or given)."""
        raise NotImplementedError

    def draw_batch(self, amount: torch.Tensor, u: torch.Tensor, extra: np.ndarray | None, ranges: Ranges, *,
                   pool: OccluderPool | None, subjects: Sequence[str] | None) -> dict[str, Any]:
        """The fields of `BatchOcclusion` that M sequences of this kind set, each [M], from their amounts
        (float64 [M]), the shared uniforms `u` (float64 [M, 3]) and the `extra` ones ([M, E] or None).
        Fields left out keep their defaults (zeros, no reverse, source -1; the amount as given)."""
        raise NotImplementedError

    def occlude(self, frames: np.ndarray, occ: Occlusion, pool: OccluderPool | None) -> np.ndarray:
        """One non-empty sequence `[T, H, W]` under `occ`: a new array of the same dtype and values
        (`[T', H, W]`, T' <= T, for a wild kind)."""
        raise NotImplementedError

    def occlude_batch(self, sils: torch.Tensor, occ: BatchOcclusion, lengths: np.ndarray,
                      pool: OccluderPool | None) -> tuple[torch.Tensor, np.ndarray]:
        """M non-empty sequences `[M, S, H, W]` of this kind with `lengths` int64 [M], vectorised on their
        device -> (frames `[M, S, H, W]`, kept frames first and zeros after; kept int64 [M])."""
        raise NotImplementedError

    def describe(self, occ: Occlusion) -> str:
        """A few words on a draw beyond its amount (motion, variant), for pictures; '' when none."""
        return ""

    @classmethod
    def summary(cls) -> str:
        """The first paragraph of the kind's docstring, on one line (`mimicgait occlusion list`)."""
        return " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())


K = TypeVar("K", bound=type[OcclusionKind])
_KINDS: list[OcclusionKind] = []  # in index order
_BY_NAME: dict[str, OcclusionKind] = {}


def register_kind(cls: K) -> K:
    """Class decorator: register one instance of an `OcclusionKind` subclass under `cls.name`; its index
    is the number of kinds registered before it."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or "," in name:
        raise ValueError(f"{cls.__name__}: an occlusion kind needs a non-empty name without commas")
    if name in _BY_NAME:
        raise ValueError(f"occlusion kind {name!r} is already registered ({type(_BY_NAME[name]).__name__})")
    kind = cls()
    kind.index = len(_KINDS)
    _KINDS.append(kind)
    _BY_NAME[name] = kind
    return cls


def unregister_kind(name: str) -> None:
    """Remove the last registered kind (tests); no other: the indices of the kinds after it would shift."""
    if not _KINDS or _KINDS[-1].name != name:
        raise ValueError(f"only the last registered occlusion kind can be unregistered, not {name!r}")
    del _BY_NAME[_KINDS.pop().name]


def get_kind(name: str) -> OcclusionKind:
    """The registered kind called `name`, else a `UserError` naming the valid ones."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise UserError(f"unknown occlusion kind {name!r}; choose from {', '.join(ALL_KINDS)}") from None


def kind_at(index: int) -> OcclusionKind:
    """The kind with class index `index`."""
    return _KINDS[index]


def check_kind(kind: str) -> str:
    """Return `kind` if it is a registered occlusion kind, else raise naming the valid ones."""
    return get_kind(kind).name


def kinds_need_pool(kinds: Iterable[str]) -> bool:
    """Whether one of `kinds` (names; unknown ones, left to `check_kind`, count as no) draws other
    walkers from an `OccluderPool`."""
    return _any_flag(kinds, "needs_pool")


def kinds_drop_frames(kinds: Iterable[str]) -> bool:
    """Whether one of `kinds` (names; unknown ones count as no) may drop frames (a wild kind)."""
    return _any_flag(kinds, "wild")


def _any_flag(kinds: Iterable[str], flag: str) -> bool:
    """Whether one of `kinds` (names; unknown ones count as no) has the class flag `flag` set."""
    return any(getattr(_BY_NAME[k], flag) for k in kinds if k in _BY_NAME)


class KindNames(Sequence[str]):
    """A live, read-only tuple-like view of the registered kinds' names (index order) that pass `keep`."""

    def __init__(self, keep: Callable[[OcclusionKind], bool]) -> None:
        self._keep = keep

    def _names(self) -> tuple[str, ...]:
        return tuple(k.name for k in _KINDS if self._keep(k))

    def __getitem__(self, item):  # an int gives a name, a slice a tuple
        return self._names()[item]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (tuple, KindNames)) and self._names() == tuple(other)

    __hash__ = None  # type: ignore[assignment]  # it changes as kinds register

    def __repr__(self) -> str:
        return repr(self._names())


#: Every registered kind, in index order (the VEN's classes refer to it).
ALL_KINDS = KindNames(lambda k: True)
#: The kinds that keep every frame (the paper's synthetic kinds and any like them; the defaults everywhere).
KINDS = KindNames(lambda k: not k.wild)
#: Occlusions as the wild makes them, which may drop frames (another walker, a static object, a cut).
WILD_KINDS = KindNames(lambda k: k.wild)
#: The kinds `mimicgait occlusion show` draws by default: those that keep every frame and hide something.
SHOWN_KINDS = KindNames(lambda k: not k.wild and k.amount_from is not None)
