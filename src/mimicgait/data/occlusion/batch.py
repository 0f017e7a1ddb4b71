"""Occluding a whole batch `[N, S, H, W]` in one call with torch, on the batch's device (training).

The same rules as `sequence.occlude`, vectorised over sequences: every kind draws its own sequences'
fields (`OcclusionKind.draw_batch`); the planned kinds of a batch (`planned`) are applied together in
one pass from their plans, binary frames processed as machine words for speed, and every other kind
applies itself to its own sequences (`OcclusionKind.occlude_batch`). Results equal the NumPy form pixel
for pixel. The wild kinds (`wild`) may drop frames: `occlude_batch_detected` returns each sequence's
kept frames first and how many; `occlude_batch_with` (training) fills the dropped ones by repeating
the kept ones, so a batch keeps its shape and lengths.

Size: over 300 lines because the planned kinds of one batch are applied in one vectorised pass, with
the index arithmetic that keeps it equal to the NumPy form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import torch

from mimicgait.data.occlusion.planned import Draws, PlannedKind
from mimicgait.data.occlusion.registry import KINDS, OcclusionKind, get_kind, kind_at
from mimicgait.data.occlusion.rules import AMOUNT_RANGE, SPEED_SHIFT, Occlusion, Ranges, _rows

if TYPE_CHECKING:
    from mimicgait.data.occlusion.pool import OccluderPool


@dataclass
class BatchOcclusion:
    """The drawn occlusions of a batch as tensors [N] (kind: the registered kind's index), on the CPU.

    The wild kinds' fields (`variant`, `offset`, `phase`, `source`; see `Occlusion`) default to
    zeros (source -1) when not given."""

    kind: torch.Tensor  # [N] long, index into ALL_KINDS (the kinds' registration order)
    amount: torch.Tensor  # [N] float64
    width: torch.Tensor  # [N] float64
    speed: torch.Tensor  # [N] float64
    reverse: torch.Tensor  # [N] bool
    variant: torch.Tensor | None = None  # [N] long
    offset: torch.Tensor | None = None  # [N] float64
    phase: torch.Tensor | None = None  # [N] float64
    source: torch.Tensor | None = None  # [N] long

    def __post_init__(self) -> None:
        n = self.kind.numel()
        if self.variant is None:
            self.variant = torch.zeros(n, dtype=torch.long)
        if self.offset is None:
            self.offset = torch.zeros(n, dtype=torch.float64)
        if self.phase is None:
            self.phase = torch.zeros(n, dtype=torch.float64)
        if self.source is None:
            self.source = torch.full((n,), -1, dtype=torch.long)

    @classmethod
    def from_list(cls, occs: Sequence[Occlusion]) -> BatchOcclusion:
        """Stack per-sequence draws (e.g. to replay numpy draws in the batched form)."""
        f64 = torch.float64
        return cls(
            torch.tensor([get_kind(o.kind).index for o in occs], dtype=torch.long),
            torch.tensor([o.amount for o in occs], dtype=f64),
            torch.tensor([o.width for o in occs], dtype=f64),
            torch.tensor([o.speed for o in occs], dtype=f64),
            torch.tensor([o.reverse for o in occs], dtype=torch.bool),
            torch.tensor([o.variant for o in occs], dtype=torch.long),
            torch.tensor([o.offset for o in occs], dtype=f64),
            torch.tensor([o.phase for o in occs], dtype=f64),
            torch.tensor([o.source for o in occs], dtype=torch.long),
        )

    def to_list(self) -> list[Occlusion]:
        """Per-sequence `Occlusion`s (for the numpy form or for logging)."""
        return [
            Occlusion(kind_at(int(k)).name, float(a), float(w), float(s), bool(r), int(v), float(o), float(p),
                      int(src))
            for k, a, w, s, r, v, o, p, src in zip(
                self.kind, self.amount, self.width, self.speed, self.reverse, self.variant, self.offset,
                self.phase, self.source, strict=True
            )
        ]

    def take(self, index: np.ndarray) -> BatchOcclusion:
        """The occlusions of sequences `index` (int64 [M]), in that order."""
        at = torch.from_numpy(index)
        return BatchOcclusion(*(getattr(self, f.name)[at] for f in fields(self)))

    def draws(self, index: np.ndarray) -> Draws:
        """The fields of sequences `index` (int64 [M]) as NumPy arrays [M], for the kinds' plans."""
        return Draws(*(getattr(self, name).numpy()[index] for name in _DRAWN))


def _kind_indices(kinds: Sequence[str] | torch.Tensor, classes: Sequence[str]) -> torch.Tensor:
    """Kinds given by name or by class index into `classes` -> LongTensor [N] of the kinds' indices."""
    if isinstance(kinds, torch.Tensor):
        lookup = torch.tensor([get_kind(c).index for c in classes], dtype=torch.long)
        index = kinds.detach().to("cpu", torch.long)
        if index.numel() and (index.min() < 0 or index.max() >= len(classes)):
            raise ValueError(f"occlusion class index out of range for classes {tuple(classes)}")
        return lookup[index]
    return torch.tensor([get_kind(k).index for k in kinds], dtype=torch.long)


_DRAWN = tuple(f.name for f in fields(Draws))  # the fields plans read, in `Draws` order


def _groups(kind: torch.Tensor) -> list[tuple[OcclusionKind, np.ndarray]]:
    """(registered kind, indices int64 [M] of its sequences) for every kind of a batch, in index order."""
    kinds = kind.numpy()
    return [(kind_at(int(k)), np.flatnonzero(kinds == k)) for k in np.unique(kinds)]


def draw_batch(
    kinds: Sequence[str] | torch.Tensor,
    amounts: torch.Tensor | Sequence[float],
    generator: torch.Generator | None = None,
    classes: Sequence[str] = KINDS,
    amount_range: tuple[float, float] = AMOUNT_RANGE,
    *,
    pool: OccluderPool | None = None,
    subjects: Sequence[str] | None = None,
) -> BatchOcclusion:
    """Complete a batch's kinds and amounts with each kind's other choices (`OcclusionKind.draw_batch`).

    Always draws three uniforms per sequence from `generator`, so the stream does not depend on
    which kinds were chosen; when a kind of `classes` takes more (a wild kind: `wild.DRAWS`), that many
    more per sequence after them (a crowd picks its other walker from `pool`, never of the sequence's
    subject in `subjects`).
    """
    kind = _kind_indices(kinds, classes)  # [N]
    amount = torch.as_tensor(amounts).detach().to("cpu", torch.float64).reshape(-1)  # [N]
    if amount.shape != kind.shape:
        raise ValueError(f"got {kind.numel()} occlusion kinds but {amount.numel()} amounts")
    n = kind.numel()
    device = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(n, 3, generator=generator, device=device, dtype=torch.float64).cpu()  # [N, 3]
    more = max((get_kind(c).extra_draws for c in classes), default=0)
    extra = None  # [N, more]
    if more:
        extra = torch.rand(n, more, generator=generator, device=device, dtype=torch.float64).cpu().numpy()
    zeros = torch.zeros(n, dtype=torch.float64)
    occ = BatchOcclusion(kind, amount.clone(), zeros.clone(), zeros, torch.zeros(n, dtype=torch.bool))
    ranges = Ranges(amount=amount_range)
    for spec, idx in _groups(kind):
        drawn = spec.draw_batch(amount[idx], u[idx], None if extra is None else extra[idx], ranges, pool=pool,
                                subjects=None if subjects is None else [str(subjects[i]) for i in idx])
        at = torch.from_numpy(idx)
        for name, value in drawn.items():
            getattr(occ, name)[at] = torch.as_tensor(value, dtype=getattr(occ, name).dtype)
    return occ


def occlude_batch(
    sils: torch.Tensor,
    kinds: Sequence[str] | torch.Tensor,
    amounts: torch.Tensor | Sequence[float],
    lengths: torch.Tensor | Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    classes: Sequence[str] = KINDS,
    *,
    pool: OccluderPool | None = None,
    subjects: Sequence[str] | None = None,
) -> torch.Tensor:
    """Occlude a batch `[N, S, H, W]` in one call, a kind and amount per sequence, on its device.

    `kinds`: names, or a class-index tensor into `classes` (e.g. `policy.classes` with the indices
    from `policy.sample`). Per-sequence randomness comes from `generator`. `lengths` [N] (valid
    frames per sequence, the rest padding) sets where `changing` switches; default all S. A crowd
    draws its other walker from `pool`, never of the sequence's own subject in `subjects`.
    """
    occ = draw_batch(kinds, amounts, generator, classes, pool=pool, subjects=subjects)
    return occlude_batch_with(sils, occ, lengths, pool)


def occlude_batch_with(
    sils: torch.Tensor, occ: BatchOcclusion, lengths: torch.Tensor | Sequence[int] | None = None,
    pool: OccluderPool | None = None,
) -> torch.Tensor:
    """Apply drawn batch occlusions to `[N, S, H, W]`; returns a new tensor of the same dtype/device.

    Frames a wild kind drops are filled by repeating the sequence's kept frames (`wild.refill`)."""
    groups, length = _checked(sils, occ, lengths)
    out, kept = _occlude_detected(sils, occ, groups, length, pool)
    if not any(spec.wild for spec, _ in groups):
        return out
    from mimicgait.data.occlusion.wild import refill

    return refill(out, kept, length.numpy())


def _lengths(lengths: torch.Tensor | Sequence[int] | None, n: int, s: int) -> torch.Tensor:
    if lengths is None:
        return torch.full((n,), s, dtype=torch.long)
    length = torch.as_tensor(lengths).detach().to("cpu", torch.long).reshape(-1)
    if length.numel() != n:
        raise ValueError(f"got {length.numel()} lengths for a batch of {n} sequences")
    return length


def _checked(
    sils: torch.Tensor, occ: BatchOcclusion, lengths: torch.Tensor | Sequence[int] | None,
) -> tuple[list[tuple[OcclusionKind, np.ndarray]], torch.Tensor]:
    """Check a batch's shapes against its occlusions and lengths -> (its kind groups (`_groups`), lengths
    long [N] on the CPU): computed once per call, as every step below reads them (the training hot path)."""
    if sils.dim() != 4:
        raise ValueError(f"expected silhouettes of shape (N, S, H, W), got shape {tuple(sils.shape)}")
    n, s = sils.shape[:2]
    if occ.kind.numel() != n:
        raise ValueError(f"got {occ.kind.numel()} occlusions for a batch of {n} sequences")
    length = _lengths(lengths, n, s)  # [N]
    return _groups(occ.kind), length


def occlude_batch_detected(
    sils: torch.Tensor, occ: BatchOcclusion, lengths: torch.Tensor | Sequence[int] | None = None,
    pool: OccluderPool | None = None,
) -> tuple[torch.Tensor, np.ndarray]:
    """Like `occlude_batch_with`, but a wild kind's kept frames come first and zeros after:
    -> (frames `[N, S, H, W]`, kept frames per sequence int64 [N]; the length for the other kinds)."""
    groups, length = _checked(sils, occ, lengths)
    return _occlude_detected(sils, occ, groups, length, pool)


def _occlude_detected(
    sils: torch.Tensor, occ: BatchOcclusion, groups: list[tuple[OcclusionKind, np.ndarray]],
    lengths: torch.Tensor, pool: OccluderPool | None,
) -> tuple[torch.Tensor, np.ndarray]:
    """`occlude_batch_detected` on a checked batch, its kind groups and lengths (`_checked`)."""
    own = [(spec, idx) for spec, idx in groups if not isinstance(spec, PlannedKind)]
    if sum(len(idx) for _, idx in own) == sils.shape[0] and sils.numel():
        out = None  # no planned kind: nothing for the one pass to copy
    else:
        out = _occlude_planned(sils, occ, lengths, groups)
    length = lengths.numpy()
    if not own or sils.numel() == 0:
        return out, length
    if out is None and len(own) == 1:
        return own[0][0].occlude_batch(sils, occ, length, pool)
    out = torch.zeros_like(sils) if out is None else out
    kept = length.copy()
    for spec, idx in own:
        index = torch.from_numpy(idx).to(sils.device)
        part = sils.index_select(0, index)
        out[index], kept[idx] = spec.occlude_batch(part, occ.take(idx), length[idx], pool)
    return out, kept


def occlude_planned(
    sils: torch.Tensor, occ: BatchOcclusion, lengths: torch.Tensor | Sequence[int] | None = None,
) -> torch.Tensor:
    """The planned kinds' sequences of a batch `[N, S, H, W]` in one pass; the others are copied unchanged."""
    groups, length = _checked(sils, occ, lengths)
    return _occlude_planned(sils, occ, length, groups)


def _occlude_planned(
    sils: torch.Tensor, occ: BatchOcclusion, length: torch.Tensor,
    groups: list[tuple[OcclusionKind, np.ndarray]],
) -> torch.Tensor:
    """`occlude_planned` on a checked batch, its lengths long [N] and kind groups (`_checked`)."""
    n, s, h, w = sils.shape
    if sils.numel() == 0:
        return sils.clone()
    plans = _Plans(occ, h, w, groups)
    dev = sils.device
    crop, first_top, second_top, resizing, span, speed_q, rev = (
        torch.from_numpy(a).to(dev)
        for a in (plans.crop, plans.first_top, plans.second_top, plans.resizing, plans.span, plans.speed_q,
                  plans.reverse)
    )
    length = length.to(dev)
    rows = torch.arange(h, device=dev)
    frame = torch.arange(s, device=dev)

    src = _words(sils.contiguous())  # [N*S*H, k]: each row as k machine words
    out_words = torch.empty_like(src)
    if plans.resizing.any():
        a, b = _rows(rows[None, :], crop[:, None], h, torch.minimum, torch.where)  # [N, H] each
        offset = (h - crop)[:, None]  # [N, 1]; keeping the bottom rows (a top occlusion)
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

    if plans.masking.any():
        # Columns kept per frame: all but the moving span's.
        cols = torch.arange(w, device=dev)
        pos = (speed_q[:, None] * frame[None, :]) >> SPEED_SHIFT  # [N, S]; floor division by 1024
        left = torch.where(rev[:, None], (w - span)[:, None] - pos, pos)  # [N, S]
        keep = (cols[None, None, :] < left[:, :, None]) | (
            cols[None, None, :] >= (left + span[:, None])[:, :, None]
        )  # [N, S, W]
        mask = _words(_byte_mask(keep, out.element_size())).view(n, s, 1, -1)  # [N, S, 1, k]
        # Hidden rows of each masked sequence form one range [first, last) (a centred band, the bottom
        # rows a patch covers, every row for a pole). ANDing that strided view with its frames' column
        # masks touches only hidden pixels: no full-size mask, gather or copy.
        grid = out_words.view(n, s, h, -1)  # [N, S, H, k]
        first, last = plans.first.tolist(), plans.last.tolist()
        for i in np.flatnonzero(plans.masking).tolist():
            grid[i, :, first[i] : last[i]].bitwise_and_(mask[i])  # [S, rows, k] &= [S, 1, k]
    return out


class _Plans:
    """Every planned kind's row and mask plans of a batch, gathered into arrays [N] (defaults elsewhere:
    not resized, not masked)."""

    def __init__(self, occ: BatchOcclusion, height: int, width: int,
                 groups: list[tuple[OcclusionKind, np.ndarray]]) -> None:
        n = occ.kind.numel()
        self.resizing, self.masking = np.zeros(n, bool), np.zeros(n, bool)
        self.crop = np.full(n, height, np.int64)
        self.first_top, self.second_top, self.reverse = (np.zeros(n, bool) for _ in range(3))
        self.first, self.last, self.span, self.speed_q = (np.zeros(n, np.int64) for _ in range(4))
        for spec, idx in groups:
            if not isinstance(spec, PlannedKind):
                continue
            mine = occ.draws(idx)
            rows, mask = spec.row_plan(mine, height), spec.mask_plan(mine, height, width)
            for plan, flag in ((rows, self.resizing), (mask, self.masking)):
                if plan is None:
                    continue
                flag[idx] = True
                for name, value in vars(plan).items():
                    getattr(self, name)[idx] = value


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
