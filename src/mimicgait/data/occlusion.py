"""Synthetic occlusions of silhouette sequences, as MimicGait trains and evaluates with them.

Kinds are named after the region hidden (x = the amount, a fraction of the frame dimension):

- `top`: the top x of the frame is hidden: the bottom (1 - x) of the height is kept and resized
  back to H x W, then re-binarised (a detector that boxes only the visible part);
- `bottom`: the bottom x is hidden: the top (1 - x) is kept, resized back, re-binarised;
- `middle`: a horizontal band of height x, centred vertically, is zeroed (no resize);
- `patch`: a black patch (height x, width w, both drawn from R) anchored at the bottom edge moves
  left-to-right or right-to-left at `speed` px/frame; `amount` is its height fraction;
- `pole`: a full-height black bar of width x (drawn from Rt) moving the same way; `amount` is its
  width fraction;
- `changing`: `top` for the first half of the frames and `bottom` for the second (or the reverse
  when `reverse`); the half is `T // 2` (frames `t < T // 2` are the first half);
- `none`.

Exact resize without floating point. Resizing a crop of h rows back to H rows with the half-pixel
-centre bilinear convention (OpenCV INTER_LINEAR, PyTorch `align_corners=False`) reads output row i
at source coordinate s = (i + 0.5) h / H - 0.5, clamped at 0, and blends rows floor(s) and
floor(s) + 1 (clamped at h - 1) with weight frac(s). On binary frames, thresholding that blend at
half the value range picks row floor(s) when frac(s) < 0.5 and the next row when frac(s) > 0.5:
whole rows, so the resize is a row gather. At an exact tie (frac(s) = 0.5) the blend is exactly
half the range, which is *below* the threshold (127.5 < 128 on 0..255 frames), so the output pixel
is foreground only where both rows are: the minimum of the two rows. (OpenCV's fixed-point uint8
arithmetic rounds that 127.5 up to 128, the one place it disagrees with a float resize.) Ties need
2H to divide (2i + 1) h, which never happens when H is a power of two (e.g. 64). All of it is
integer arithmetic on 2H s = (2i + 1) h - H, so results are identical on every backend. The width
is never resized (scale 1 is the identity under this convention).

Pixel counts (documented rounding, half up, computed in float64):
  kept crop height h = clamp(floor((1 - x) H + 0.5), 1, H); middle band and patch height
  = floor(x H + 0.5); patch and pole width = floor(w W + 0.5); the middle band starts at row
  (H - band) // 2. A moving patch's left edge at frame t is floor(q t / 1024) for left-to-right
  (starting flush with the left border) and W - width - floor(q t / 1024) for right-to-left, with
  q = round(1024 speed): the speed is quantised to 1/1024 px/frame so positions are exact integers.
  Parts of a patch outside the frame are simply not drawn.

Frames may be bool, uint8 {0, 1} or {0, 255}, or float {0, 1}: the operations only copy rows,
take minima and write zeros, so the output keeps the input's dtype and value convention.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mimicgait.errors import UserError

KINDS: tuple[str, ...] = ("none", "top", "bottom", "middle", "patch", "pole", "changing")
#: Default amount range R (fraction of the frame height / patch size) and pole width range Rt.
AMOUNT_RANGE: tuple[float, float] = (0.4, 0.6)
POLE_RANGE: tuple[float, float] = (0.2, 0.4)
#: Patch speed range Rs in pixels per frame.
SPEED_RANGE: tuple[float, float] = (0.5, 1.0)
#: Speeds are held as integer multiples of 1 / SPEED_SCALE px/frame.
SPEED_SCALE = 1024
_SPEED_SHIFT = 10  # log2(SPEED_SCALE): positions use a shift, exact for non-negative integers

_KIND_INDEX = {k: i for i, k in enumerate(KINDS)}
_TOP, _BOTTOM, _MIDDLE, _PATCH, _POLE, _CHANGING = (
    _KIND_INDEX[k] for k in ("top", "bottom", "middle", "patch", "pole", "changing")
)


@dataclass(frozen=True)
class Occlusion:
    """Every random choice of one sequence's occlusion; `occlude` applies it deterministically.

    `amount`: hidden fraction (height for top/bottom/middle/changing/patch, width for pole).
    `width`: the patch's width fraction (patch only). `speed`: px/frame (patch, pole).
    `reverse`: right-to-left motion (patch, pole) or bottom-first (changing).
    """

    kind: str
    amount: float = 0.0
    width: float = 0.0
    speed: float = 0.0
    reverse: bool = False

    def __post_init__(self) -> None:
        check_kind(self.kind)
        if not 0.0 <= self.amount < 1.0:
            raise UserError(f"occlusion amount must lie in [0, 1), got {self.amount}")
        if not 0.0 <= self.width <= 1.0:
            raise UserError(f"patch width fraction must lie in [0, 1], got {self.width}")
        if self.speed < 0:
            raise UserError(f"patch speed must be >= 0 px/frame, got {self.speed}")


def check_kind(kind: str) -> str:
    """Return `kind` if it is a known occlusion kind, else raise naming the valid ones."""
    if kind not in _KIND_INDEX:
        raise UserError(f"unknown occlusion kind {kind!r}; choose from {', '.join(KINDS)}")
    return kind


def draw_occlusion(
    kind: str,
    rng: np.random.Generator | None = None,
    amount: float | None = None,
    amount_range: tuple[float, float] = AMOUNT_RANGE,
    pole_range: tuple[float, float] = POLE_RANGE,
) -> Occlusion:
    """Draw the random choices of one occlusion of `kind` (amount from the range unless given)."""
    check_kind(kind)
    if kind == "none":
        return Occlusion("none")
    rng = np.random.default_rng() if rng is None else rng
    if amount is None:
        amount = float(rng.uniform(*(pole_range if kind == "pole" else amount_range)))
    if kind in ("patch", "pole"):
        width = float(rng.uniform(*amount_range)) if kind == "patch" else 0.0
        speed = float(rng.uniform(*SPEED_RANGE))
        return Occlusion(kind, float(amount), width, speed, bool(rng.random() < 0.5))
    return Occlusion(kind, float(amount), reverse=kind == "changing" and bool(rng.random() < 0.5))


# -- pixel arithmetic shared by both implementations ---------------------------------------------
def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def _crop_rows(amount: float, height: int) -> int:
    """Rows kept by a top/bottom occlusion: round-half-up of (1 - x) H, at least one."""
    return min(max(_round_half_up((1.0 - amount) * height), 1), height)


def _span(fraction: float, size: int) -> int:
    """Pixels covered by a band or patch of `fraction` of `size`."""
    return min(max(_round_half_up(fraction * size), 0), size)


def _speed_q(speed: float) -> int:
    return int(round(speed * SPEED_SCALE))


def resize_rows(crop: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Source rows (a, b) of each output row when `crop` rows are resized to `height` and thresholded.

    Output row i equals min(row a[i], row b[i]) of the crop; a == b except at exact ties. Works
    elementwise on arrays of `crop` too (numpy or torch integer tensors), broadcasting with rows.
    """
    i = np.arange(height)
    return _rows(i, np.asarray(crop), height, np.minimum, np.where)


def _rows(i, crop, height, minimum, where):
    """Integer form of the half-pixel bilinear source coordinate (see module docstring)."""
    num = (2 * i + 1) * crop - height  # 2H * source coordinate
    lo = num // (2 * height)  # floor(s); -1 where s < 0
    rem = num - lo * (2 * height)  # 2H * frac(s)
    hi = minimum(lo + 1, crop - 1)
    # rem > H: next row; rem < H: this row; rem == H: a tie, min of both. s < 0 has lo = -1 and
    # rem > H, so it takes hi = row 0: the clamp at the top edge comes for free.
    return where(rem > height, hi, lo), where(rem >= height, hi, lo)


# -- one sequence, numpy -------------------------------------------------------------------------
def _resize_kept(frames: np.ndarray, crop: int, from_bottom: bool, out: np.ndarray) -> None:
    """Keep `crop` rows (the bottom ones when `from_bottom`), resize them back to H into `out`."""
    a, b, tie = _resize_plan(crop, frames.shape[1], from_bottom)
    np.take(frames, a, axis=1, out=out, mode="clip")  # [T, H, W]; 3x faster than frames[:, rows]
    if tie:
        np.minimum(out, np.take(frames, b, axis=1), out=out)


@functools.lru_cache(maxsize=1024)
def _resize_plan(crop: int, height: int, from_bottom: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """Frame rows (a, b) read by each output row, and whether any tie needs both; a few dozen
    (crop, height) pairs occur in practice, so caching saves ~10% of a per-sequence call."""
    a, b = resize_rows(crop, height)
    offset = height - crop if from_bottom else 0
    a, b = a + offset, b + offset
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b, not np.array_equal(a, b)


def _moving_columns(length: int, width: int, span: int, speed: float, reverse: bool) -> np.ndarray:
    """[T, W] bool: the columns a moving patch of `span` columns covers at each frame."""
    pos = (_speed_q(speed) * np.arange(length)) // SPEED_SCALE  # [T]
    left = width - span - pos if reverse else pos
    cols = np.arange(width)
    return (cols[None, :] >= left[:, None]) & (cols[None, :] < left[:, None] + span)


def occlude(frames: np.ndarray, occ: Occlusion) -> np.ndarray:
    """Apply one drawn occlusion to a sequence `[T, H, W]`; returns a new array, same dtype/values."""
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"expected frames of shape (T, H, W), got shape {frames.shape}")
    length, height, width = frames.shape
    if length == 0 or height == 0 or width == 0 or occ.kind == "none":
        return frames.copy()
    if occ.kind in ("top", "bottom", "changing"):
        out = np.empty_like(frames, order="C")
        crop = _crop_rows(occ.amount, height)
        half = length // 2 if occ.kind == "changing" else length
        first_top = occ.kind == "top" or (occ.kind == "changing" and not occ.reverse)
        _resize_kept(frames[:half], crop, first_top, out[:half])
        _resize_kept(frames[half:], crop, not first_top, out[half:])
        return out
    if occ.kind == "middle":
        out = frames.copy()
        band = _span(occ.amount, height)
        start = (height - band) // 2
        out[:, start : start + band] = 0
        return out
    if occ.kind == "patch":
        top, span = height - _span(occ.amount, height), _span(occ.width, width)
    else:  # pole
        top, span = 0, _span(occ.amount, width)
    keep = (~_moving_columns(length, width, span, occ.speed, occ.reverse)).astype(frames.dtype)  # [T, W]
    out = np.empty_like(frames, order="C")
    out[:, :top] = frames[:, :top]
    # Multiplying by a tiled (contiguous) mask is ~10x faster than boolean-mask assignment here,
    # and writing the product straight into `out` saves a copy of the covered rows.
    tiled = np.tile(keep, (1, height - top)).reshape(length, height - top, width)  # [T, H - top, W]
    np.multiply(frames[:, top:], tiled, out=out[:, top:])
    return out


def apply_occlusion(
    frames: np.ndarray, kind: str, amount: float | None = None, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Occlude a whole sequence `[T, H, W]` with `kind` (amount drawn from R = (0.4, 0.6) if None)."""
    return occlude(frames, draw_occlusion(kind, rng, amount))


# -- policies ------------------------------------------------------------------------------------
class OcclusionPolicy:
    """One occlusion kind per sequence, mutually exclusive, each with its probability.

    `OcclusionPolicy({'top': 0.5, 'bottom': 0.5})`; what the probabilities leave is `none`.
    `classes` is `('none', *kinds with p > 0 in the given order)`; class indices refer to it.
    Calling it on one sequence returns (occluded, holistic, class index, amount; 0 for none).
    """

    def __init__(
        self,
        probabilities: Mapping[str, float],
        amount_range: tuple[float, float] = AMOUNT_RANGE,
        pole_range: tuple[float, float] = POLE_RANGE,
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
        for name, (lo, hi) in (("amount_range", amount_range), ("pole_range", pole_range)):
            if not 0.0 <= lo <= hi < 1.0:
                raise UserError(f"{name} must satisfy 0 <= low <= high < 1, got {(lo, hi)}")
        self.amount_range = (float(amount_range[0]), float(amount_range[1]))
        self.pole_range = (float(pole_range[0]), float(pole_range[1]))
        kinds = [k for k, p in probabilities.items() if k != "none" and p > 0]
        self.classes: tuple[str, ...] = ("none", *kinds)
        probs = [float(probabilities[k]) for k in kinds]
        self.probabilities: tuple[float, ...] = (max(0.0, 1.0 - sum(probs)), *probs)  # per class
        self._cumulative = np.cumsum(self.probabilities) / sum(self.probabilities)

    def __repr__(self) -> str:
        pairs = ", ".join(f"{k!r}: {p:.3g}" for k, p in zip(self.classes, self.probabilities, strict=True))
        return f"OcclusionPolicy({{{pairs}}}, amount_range={self.amount_range})"

    def draw(self, rng: np.random.Generator | None = None) -> Occlusion:
        """Draw one sequence's occlusion (kind by probability, then its random choices)."""
        rng = np.random.default_rng() if rng is None else rng
        index = min(int(np.searchsorted(self._cumulative, rng.random(), side="right")), len(self.classes) - 1)
        return draw_occlusion(self.classes[index], rng, None, self.amount_range, self.pole_range)

    def __call__(
        self, frames: np.ndarray, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray, int, float]:
        """(occluded, holistic, class index into `classes`, amount) for one sequence `[T, H, W]`."""
        occ = self.draw(rng)
        return occlude(frames, occ), frames, self.classes.index(occ.kind), occ.amount

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw kinds and amounts for a batch: (class index LongTensor [n], amount FloatTensor [n]).

        Draws on the generator's device (CPU by default). Amounts are 0 for `none`; the pole's come
        from `pole_range`, the others' from `amount_range`.
        """
        device = generator.device if generator is not None else torch.device("cpu")
        probs = torch.tensor(self.probabilities, dtype=torch.float64, device=device)
        kind = (
            torch.multinomial(probs, n, replacement=True, generator=generator)
            if n
            else probs.new_zeros(0, dtype=torch.long)
        )  # [n]
        u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)  # [n]
        is_pole = torch.tensor([c == "pole" for c in self.classes], device=device)[kind]
        lo = torch.where(is_pole, self.pole_range[0], self.amount_range[0])
        hi = torch.where(is_pole, self.pole_range[1], self.amount_range[1])
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
) -> Occlusion:
    """The evaluation occlusion of one sequence, a pure function of (seed, key, role).

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
    return draw_occlusion(kind, rng, None, amount_range, pole_range)


def eval_occlusion(
    frames: np.ndarray,
    kinds: Sequence[str],
    seed: int,
    key: tuple,
    role: str,
    amount_range: tuple[float, float] = AMOUNT_RANGE,
) -> tuple[np.ndarray, str, float]:
    """Reproducible evaluation occlusion: (occluded frames, kind, amount).

    Key = (subject, condition, view) and role = 'probe' or 'gallery' in the paper's protocol, where
    probe and gallery are occluded independently. See `eval_draw`.
    """
    occ = eval_draw(kinds, seed, key, role, amount_range)
    return occlude(frames, occ), occ.kind, occ.amount


# -- a whole batch, torch ------------------------------------------------------------------------
@dataclass
class BatchOcclusion:
    """The drawn occlusions of a batch as tensors [N] (kind indexes `KINDS`), on the CPU."""

    kind: torch.Tensor  # [N] long, index into KINDS
    amount: torch.Tensor  # [N] float64
    width: torch.Tensor  # [N] float64
    speed: torch.Tensor  # [N] float64
    reverse: torch.Tensor  # [N] bool

    @classmethod
    def from_list(cls, occs: Sequence[Occlusion]) -> BatchOcclusion:
        """Stack per-sequence draws (e.g. to replay numpy draws in the batched form)."""
        f64 = torch.float64
        return cls(
            torch.tensor([_KIND_INDEX[o.kind] for o in occs], dtype=torch.long),
            torch.tensor([o.amount for o in occs], dtype=f64),
            torch.tensor([o.width for o in occs], dtype=f64),
            torch.tensor([o.speed for o in occs], dtype=f64),
            torch.tensor([o.reverse for o in occs], dtype=torch.bool),
        )

    def to_list(self) -> list[Occlusion]:
        """Per-sequence `Occlusion`s (for the numpy form or for logging)."""
        return [
            Occlusion(KINDS[int(k)], float(a), float(w), float(s), bool(r))
            for k, a, w, s, r in zip(
                self.kind, self.amount, self.width, self.speed, self.reverse, strict=True
            )
        ]


def _kind_indices(kinds: Sequence[str] | torch.Tensor, classes: Sequence[str]) -> torch.Tensor:
    """Kinds given by name or by class index into `classes` -> LongTensor [N] of indices into KINDS."""
    if isinstance(kinds, torch.Tensor):
        lookup = torch.tensor([_KIND_INDEX[check_kind(c)] for c in classes], dtype=torch.long)
        index = kinds.detach().to("cpu", torch.long)
        if index.numel() and (index.min() < 0 or index.max() >= len(classes)):
            raise ValueError(f"occlusion class index out of range for classes {tuple(classes)}")
        return lookup[index]
    return torch.tensor([_KIND_INDEX[check_kind(k)] for k in kinds], dtype=torch.long)


def draw_batch(
    kinds: Sequence[str] | torch.Tensor,
    amounts: torch.Tensor | Sequence[float],
    generator: torch.Generator | None = None,
    classes: Sequence[str] = KINDS,
    amount_range: tuple[float, float] = AMOUNT_RANGE,
) -> BatchOcclusion:
    """Complete a batch's kinds and amounts with direction, speed, patch width and changing order.

    Always draws three uniforms per sequence from `generator`, so the stream does not depend on
    which kinds were chosen.
    """
    kind = _kind_indices(kinds, classes)  # [N]
    amount = torch.as_tensor(amounts).detach().to("cpu", torch.float64).reshape(-1)  # [N]
    if amount.shape != kind.shape:
        raise ValueError(f"got {kind.numel()} occlusion kinds but {amount.numel()} amounts")
    device = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(kind.numel(), 3, generator=generator, device=device, dtype=torch.float64).cpu()  # [N, 3]
    lo, hi = amount_range
    width = torch.where(kind == _PATCH, lo + (hi - lo) * u[:, 0], 0.0)
    moving = (kind == _PATCH) | (kind == _POLE)
    speed = torch.where(moving, SPEED_RANGE[0] + (SPEED_RANGE[1] - SPEED_RANGE[0]) * u[:, 1], 0.0)
    reverse = (u[:, 2] < 0.5) & (moving | (kind == _CHANGING))
    amount = torch.where(kind == 0, 0.0, amount)
    return BatchOcclusion(kind, amount, width, speed, reverse)


def occlude_batch(
    sils: torch.Tensor,
    kinds: Sequence[str] | torch.Tensor,
    amounts: torch.Tensor | Sequence[float],
    lengths: torch.Tensor | Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    classes: Sequence[str] = KINDS,
) -> torch.Tensor:
    """Occlude a batch `[N, S, H, W]` in one call, a kind and amount per sequence, on its device.

    `kinds`: names, or a class-index tensor into `classes` (e.g. `policy.classes` with the indices
    from `policy.sample`). Per-sequence randomness comes from `generator`. `lengths` [N] (valid
    frames per sequence, the rest padding) sets where `changing` switches; default all S.
    """
    return occlude_batch_with(sils, draw_batch(kinds, amounts, generator, classes), lengths)


def occlude_batch_with(
    sils: torch.Tensor, occ: BatchOcclusion, lengths: torch.Tensor | Sequence[int] | None = None
) -> torch.Tensor:
    """Apply drawn batch occlusions to `[N, S, H, W]`; returns a new tensor of the same dtype/device."""
    if sils.dim() != 4:
        raise ValueError(f"expected silhouettes of shape (N, S, H, W), got shape {tuple(sils.shape)}")
    n, s, h, w = sils.shape
    if occ.kind.numel() != n:
        raise ValueError(f"got {occ.kind.numel()} occlusions for a batch of {n} sequences")
    if lengths is None:
        length = torch.full((n,), s, dtype=torch.long)
    else:
        length = torch.as_tensor(lengths).detach().to("cpu", torch.long).reshape(-1)
        if length.numel() != n:
            raise ValueError(f"got {length.numel()} lengths for a batch of {n} sequences")
    if sils.numel() == 0:
        return sils.clone()
    kind = occ.kind
    # Per-sequence pixel counts, exactly as the numpy form computes them (float64, half up).
    crop = ((1.0 - occ.amount) * h + 0.5).floor().long().clamp(1, h)  # [N]
    band = (occ.amount * h + 0.5).floor().long().clamp(0, h)  # [N]
    patch_w = (occ.width * w + 0.5).floor().long().clamp(0, w)  # [N]
    pole_w = (occ.amount * w + 0.5).floor().long().clamp(0, w)  # [N]
    speed_q = (occ.speed * SPEED_SCALE).round().long()  # [N]
    resizing = (kind == _TOP) | (kind == _BOTTOM) | (kind == _CHANGING)  # [N], CPU
    masking = (kind == _MIDDLE) | (kind == _PATCH) | (kind == _POLE)  # [N], CPU
    any_resizing, any_masking = bool(resizing.any()), bool(masking.any())
    dev = sils.device
    crop, band, patch_w, pole_w, speed_q, kind, rev, length, resizing = (
        t.to(dev) for t in (crop, band, patch_w, pole_w, speed_q, kind, occ.reverse, length, resizing)
    )
    rows = torch.arange(h, device=dev)
    frame = torch.arange(s, device=dev)

    src = _words(sils.contiguous())  # [N*S*H, k]: each row as k machine words
    out_words = torch.empty_like(src)
    if any_resizing:
        a, b = _rows(rows[None, :], crop[:, None], h, torch.minimum, torch.where)  # [N, H] each
        offset = (h - crop)[:, None]  # [N, 1]; keeping the bottom rows (a top occlusion)
        first_top = (kind == _TOP) | ((kind == _CHANGING) & ~rev)  # [N]
        second_top = (kind == _TOP) | ((kind == _CHANGING) & rev)  # [N]
        first_half = (frame[None, :] < (length // 2)[:, None])[:, :, None]  # [N, S, 1]
        base = ((torch.arange(n, device=dev)[:, None] * s + frame[None, :]) * h)[:, :, None]  # [N, S, 1]
        ident = rows.expand(n, h)  # [N, H]

        def row_index(source: torch.Tensor) -> torch.Tensor:
            """[N*S*H] flat source row of every output row (identity for sequences not resized)."""
            first = torch.where(resizing[:, None], source + offset * first_top[:, None], ident)  # [N, H]
            second = torch.where(resizing[:, None], source + offset * second_top[:, None], ident)  # [N, H]
            return torch.where(first_half, first[:, None, :], second[:, None, :]).add_(base).view(-1)

        # One row gather (of whole machine words) copies and resizes the batch in a single pass.
        torch.index_select(src, 0, row_index(a), out=out_words)
        out = _from_words(out_words, sils.dtype).view(n, s, h, w)
        if not bool(torch.equal(a, b)):  # exact ties (2H divides (2i + 1) h): min of both rows
            other = _from_words(src.index_select(0, row_index(b)), sils.dtype).view(n, s, h, w)
            torch.minimum(out, other, out=out)
    else:
        out_words.copy_(src)
        out = _from_words(out_words, sils.dtype).view(n, s, h, w)

    if any_masking:
        # Columns kept per frame: none in a middle band's rows, all but the moving patch otherwise.
        cols = torch.arange(w, device=dev)
        span = torch.where(kind == _PATCH, patch_w, pole_w)  # [N]
        pos = (speed_q[:, None] * frame[None, :]) >> _SPEED_SHIFT  # [N, S]; floor division by 1024
        left = torch.where(rev[:, None], (w - span)[:, None] - pos, pos)  # [N, S]
        outside = (cols[None, None, :] < left[:, :, None]) | (
            cols[None, None, :] >= (left + span[:, None])[:, :, None]
        )  # [N, S, W]
        keep = outside & (kind != _MIDDLE)[:, None, None]  # [N, S, W]
        mask = _words(_byte_mask(keep, out.element_size())).view(n, s, 1, -1)  # [N, S, 1, k]
        # Hidden rows of each masked sequence form one range [first, last): the centred band, the
        # bottom rows a patch covers, or every row for a pole. ANDing that strided view with its
        # frames' column masks touches only hidden pixels: no full-size mask, gather or copy.
        kind_c, band_c = occ.kind, band.cpu()  # [N] each
        first = torch.where(kind_c == _PATCH, h - band_c, 0)
        first = torch.where(kind_c == _MIDDLE, (h - band_c) // 2, first)
        last = torch.where(kind_c == _MIDDLE, first + band_c, h)
        grid = out_words.view(n, s, h, -1)  # [N, S, H, k]
        first, last = first.tolist(), last.tolist()
        for i in masking.nonzero().view(-1).tolist():
            grid[i, :, first[i] : last[i]].bitwise_and_(mask[i])  # [S, rows, k] &= [S, 1, k]
    return out


def _words(t: torch.Tensor) -> torch.Tensor:
    """A contiguous tensor's memory as rows of its last dimension, in the widest integer word
    that tiles a row: copies and bitwise masks then move 8 pixels (uint8) per element, not one."""
    raw = t.reshape(-1, t.shape[-1]).view(torch.uint8)  # [rows, bytes]
    for word in (torch.int64, torch.int32, torch.int16):
        if raw.shape[1] % word.itemsize == 0:
            return raw.view(word)
    return raw


def _from_words(words: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Undo `_words`: [rows, k] words -> [rows, W] of `dtype` over the same memory."""
    return words.view(torch.uint8).view(dtype)


def _byte_mask(keep: torch.Tensor, itemsize: int) -> torch.Tensor:
    """[..., W] bool -> [..., W * itemsize] uint8: 0xFF over every byte of a kept pixel, else 0.

    ANDing a pixel's bytes with it keeps the pixel or makes it all-zero bits, which is 0 / False /
    +0.0 in every dtype, so one bitwise form serves bool, integer and float frames alike."""
    byte = keep.to(torch.uint8).mul_(255)  # [..., W]
    return byte.repeat_interleave(itemsize, dim=-1) if itemsize > 1 else byte
