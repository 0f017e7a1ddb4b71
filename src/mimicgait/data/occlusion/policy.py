"""Drawing occlusions: the training policy (kind by probability, per sequence) and the seeded,
order-independent draws of evaluation."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from mimicgait.data.occlusion.pool import OccluderPool
from mimicgait.data.occlusion.registry import check_kind, get_kind, kinds_need_pool
from mimicgait.data.occlusion.rules import (
    AMOUNT_RANGE,
    POLE_RANGE,
    WILD_RANGE,
    Occlusion,
    Ranges,
    check_range,
    draw_occlusion,
)
from mimicgait.data.occlusion.sequence import occlude
from mimicgait.errors import UserError


class OcclusionPolicy:
    """One occlusion kind per sequence, mutually exclusive, each with its probability.

    `OcclusionPolicy({'top': 0.5, 'bottom': 0.5})`; what the probabilities leave is `none`.
    `classes` is `('none', *kinds with p > 0 in the given order)`; class indices refer to it.
    Calling it on one sequence returns (occluded, holistic, class index, amount; 0 for none).
    Each kind draws its amount from the range it names (`OcclusionKind.amount_from`): the wild kinds
    (a fraction of the walker's pixels) from `wild_range`, the pole from `pole_range`, the others from
    `amount_range`; a crowd needs an `OccluderPool` of the same split (`needs_pool`), given where it
    occludes.
    """

    def __init__(
        self,
        probabilities: Mapping[str, float],
        amount_range: tuple[float, float] = AMOUNT_RANGE,
        pole_range: tuple[float, float] = POLE_RANGE,
        wild_range: tuple[float, float] = WILD_RANGE,
    ) -> None:
        for kind, p in probabilities.items():
            check_kind(kind)
            if not p >= 0:
                raise UserError(f"occlusion probability of {kind!r} must be >= 0, got {p}")
        total = float(sum(p for k, p in probabilities.items() if k != "none"))
        if total > 1.0 + 1e-9:
            raise UserError(
                f"occlusion probabilities sum to {total:.6g} > 1 ({dict(probabilities)}); "
                "lower them so that the rest (at most 1) goes to 'none'"
            )
        self.amount_range = check_range("amount_range", amount_range)
        self.pole_range = check_range("pole_range", pole_range)
        self.wild_range = check_range("wild_range", wild_range)
        kinds = [k for k, p in probabilities.items() if k != "none" and p > 0]
        self.classes: tuple[str, ...] = ("none", *kinds)
        probs = [float(probabilities[k]) for k in kinds]
        self.probabilities: tuple[float, ...] = (max(0.0, 1.0 - sum(probs)), *probs)  # per class
        self._cumulative = np.cumsum(self.probabilities) / sum(self.probabilities)

    def __repr__(self) -> str:
        pairs = ", ".join(f"{k!r}: {p:.3g}" for k, p in zip(self.classes, self.probabilities, strict=True))
        return f"OcclusionPolicy({{{pairs}}}, amount_range={self.amount_range})"

    @property
    def needs_pool(self) -> bool:
        """Whether a kind of this policy (a crowd) draws other walkers from an `OccluderPool`."""
        return kinds_need_pool(self.classes)

    def draw(self, rng: np.random.Generator | None = None, *, pool: OccluderPool | None = None,
             subject: str | None = None) -> Occlusion:
        """Draw one sequence's occlusion (kind by probability, then its random choices)."""
        rng = np.random.default_rng() if rng is None else rng
        index = min(int(np.searchsorted(self._cumulative, rng.random(), side="right")), len(self.classes) - 1)
        return draw_occlusion(self.classes[index], rng, None, self.amount_range, self.pole_range,
                              wild_range=self.wild_range, pool=pool, subject=subject)

    def __call__(
        self, frames: np.ndarray, rng: np.random.Generator | None = None, *,
        pool: OccluderPool | None = None, subject: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray, int, float]:
        """(occluded, holistic, class index into `classes`, amount) for one sequence `[T, H, W]`
        (a wild kind's occluded sequence may be shorter: frames the detector loses are dropped)."""
        occ = self.draw(rng, pool=pool, subject=subject)
        return occlude(frames, occ, pool), frames, self.classes.index(occ.kind), occ.amount

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw kinds and amounts for a batch: (class index LongTensor [n], amount FloatTensor [n]).

        Draws on the generator's device (CPU by default). Amounts are 0 for `none`; each kind's come
        from the range it names (`OcclusionKind.amount_from`).
        """
        device = generator.device if generator is not None else torch.device("cpu")
        probs = torch.tensor(self.probabilities, dtype=torch.float64, device=device)
        kind = (
            torch.multinomial(probs, n, replacement=True, generator=generator)
            if n
            else probs.new_zeros(0, dtype=torch.long)
        )  # [n]
        u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)  # [n]
        ranges = Ranges(self.amount_range, self.pole_range, self.wild_range)
        bounds = [ranges.of(get_kind(c).amount_from or "amount") for c in self.classes]  # per class
        # float32 bounds: what the draws have always used, so the amounts stay bit for bit the same
        lo, hi = torch.tensor(bounds, dtype=torch.float32, device=device)[kind].unbind(1)  # [n] each
        amount = torch.where(kind == 0, 0.0, lo + (hi - lo) * u)
        return kind, amount.float()


def _stable_seed(*parts: object) -> int:
    """A 64-bit seed from a stable hash of `parts` (never Python's per-process salted hash())."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def eval_draw(
    kinds: Sequence[str],
    seed: int,
    key: tuple,
    role: str,
    amount_range: tuple[float, float] = AMOUNT_RANGE,
    pole_range: tuple[float, float] = POLE_RANGE,
    *,
    wild_range: tuple[float, float] = WILD_RANGE,
    pool: OccluderPool | None = None,
) -> Occlusion:
    """The evaluation occlusion of one sequence, a pure function of (seed, key, role) (and, for a
    crowd, of the pool: the evaluated sequences, of which it picks one of another subject than key[0]).

    The kind is drawn uniformly from `kinds`, then its amount and motion. The RNG is seeded from a
    blake2b hash of the arguments, so the draw does not depend on loading order, batch
    composition, worker count or process.
    """
    if not kinds:
        raise UserError("evaluation occlusion needs at least one kind, e.g. ('top', 'bottom')")
    for kind in kinds:
        check_kind(kind)
    rng = np.random.default_rng(_stable_seed("mimicgait-eval-occlusion", seed, *key, role))
    kind = kinds[int(rng.integers(len(kinds)))]
    return draw_occlusion(kind, rng, None, amount_range, pole_range, wild_range=wild_range, pool=pool,
                          subject=str(key[0]) if key else None)


def eval_occlusion(
    frames: np.ndarray,
    kinds: Sequence[str],
    seed: int,
    key: tuple,
    role: str,
    amount_range: tuple[float, float] = AMOUNT_RANGE,
    *,
    wild_range: tuple[float, float] = WILD_RANGE,
    pool: OccluderPool | None = None,
) -> tuple[np.ndarray, str, float]:
    """Reproducible evaluation occlusion: (occluded frames, kind, amount).

    Key = (subject, condition, view) and role = 'probe' or 'gallery' in the paper's protocol, where
    probe and gallery are occluded independently. See `eval_draw`. A wild kind may return fewer
    frames than it was given (frames a detector would lose).
    """
    occ = eval_draw(kinds, seed, key, role, amount_range, wild_range=wild_range, pool=pool)
    return occlude(frames, occ, pool), occ.kind, occ.amount
