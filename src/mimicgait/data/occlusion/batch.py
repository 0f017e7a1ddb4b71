"""Occluding a whole batch `[N, S, H, W]` in one call with torch, on the batch's device (training).

The same rules as `sequence.occlude`, vectorised over sequences; binary frames are processed as machine
words for speed. Results equal the NumPy form pixel for pixel. The wild kinds (`wild`) may drop
frames: `occlude_batch_detected` returns each sequence's kept frames first and how many;
`occlude_batch_with` (training) fills the dropped ones by repeating the kept ones, so a batch keeps
its shape and lengths.

Size: over 300 lines because the paper's kinds and the wild kinds of one batch are applied in one
vectorised pass each, with the index arithmetic that keeps them equal to the NumPy forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from mimicgait.data.occlusion.rules import (
    _BOTTOM,
    _CHANGING,
    _KIND_INDEX,
    _MIDDLE,
    _PATCH,
    _POLE,
    _SPEED_SHIFT,
    _TOP,
    _WILD_INDICES,
    ALL_KINDS,
    AMOUNT_RANGE,
    KINDS,
    SPEED_RANGE,
    SPEED_SCALE,
    WILD_KINDS,
    Occlusion,
    _rows,
    check_kind,
)

if TYPE_CHECKING:
    from mimicgait.data.occlusion.pool import OccluderPool


@dataclass
class BatchOcclusion:
    """The drawn occlusions of a batch as tensors [N] (kind indexes `ALL_KINDS`), on the CPU.

    The wild kinds' fields (`variant`, `offset`, `phase`, `source`; see `Occlusion`) default to
    zeros (source -1) when not given."""

    kind: torch.Tensor  # [N] long, index into ALL_KINDS
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
            torch.tensor([_KIND_INDEX[o.kind] for o in occs], dtype=torch.long),
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
            Occlusion(ALL_KINDS[int(k)], float(a), float(w), float(s), bool(r), int(v), float(o), float(p),
                      int(src))
            for k, a, w, s, r, v, o, p, src in zip(
                self.kind, self.amount, self.width, self.speed, self.reverse, self.variant, self.offset,
                self.phase, self.source, strict=True
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
    *,
    pool: OccluderPool | None = None,
    subjects: Sequence[str] | None = None,
) -> BatchOcclusion:
    """Complete a batch's kinds and amounts with direction, speed, patch width and changing order.

    Always draws three uniforms per sequence from `generator`, so the stream does not depend on
    which kinds were chosen; when `classes` hold a wild kind, `wild.DRAWS` more per sequence after
    them (a crowd picks its other walker from `pool`, never of the sequence's subject in `subjects`).
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
    occ = BatchOcclusion(kind, amount, width, speed, reverse)
    if any(c in WILD_KINDS for c in classes):
        _draw_wild_fields(occ, generator, device, pool, subjects)
    return occ


def _draw_wild_fields(occ: BatchOcclusion, generator: torch.Generator | None, device: torch.device,
                      pool: OccluderPool | None, subjects: Sequence[str] | None) -> None:
    """Fill the wild sequences' fields of `occ` from `wild.DRAWS` uniforms per sequence."""
    from mimicgait.data.occlusion.wild import DRAWS, draw_wild

    n = occ.kind.numel()
    u = torch.rand(n, DRAWS, generator=generator, device=device, dtype=torch.float64).cpu().numpy()  # [N, 5]
    for i in np.flatnonzero(np.isin(occ.kind.numpy(), _WILD_INDICES)).tolist():
        subject = None if subjects is None else str(subjects[i])
        drawn = draw_wild(ALL_KINDS[int(occ.kind[i])], float(occ.amount[i]), u[i], pool, subject)
        occ.speed[i], occ.reverse[i], occ.variant[i] = drawn.speed, drawn.reverse, drawn.variant
        occ.offset[i], occ.phase[i], occ.source[i] = drawn.offset, drawn.phase, drawn.source


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
    out, kept = occlude_batch_detected(sils, occ, lengths, pool)
    wild = np.isin(occ.kind.numpy(), _WILD_INDICES)
    if not wild.any():
        return out
    from mimicgait.data.occlusion.wild import refill

    length = _lengths(lengths, sils.shape[0], sils.shape[1]).numpy()
    return refill(out, kept, length)


def _lengths(lengths: torch.Tensor | Sequence[int] | None, n: int, s: int) -> torch.Tensor:
    if lengths is None:
        return torch.full((n,), s, dtype=torch.long)
    length = torch.as_tensor(lengths).detach().to("cpu", torch.long).reshape(-1)
    if length.numel() != n:
        raise ValueError(f"got {length.numel()} lengths for a batch of {n} sequences")
    return length


def occlude_batch_detected(
    sils: torch.Tensor, occ: BatchOcclusion, lengths: torch.Tensor | Sequence[int] | None = None,
    pool: OccluderPool | None = None,
) -> tuple[torch.Tensor, np.ndarray]:
    """Like `occlude_batch_with`, but a wild kind's kept frames come first and zeros after:
    -> (frames `[N, S, H, W]`, kept frames per sequence int64 [N]; the length for the paper's kinds)."""
    wild = np.isin(occ.kind.numpy(), _WILD_INDICES)
    if wild.all() and sils.dim() == 4 and occ.kind.numel() == sils.shape[0] and sils.numel():
        out = None  # every sequence is a wild one: nothing for the paper's kinds to copy
    else:
        out = _occlude_paper_kinds(sils, occ, lengths)
    length = _lengths(lengths, sils.shape[0], sils.shape[1]).numpy()
    if not wild.any() or sils.numel() == 0:
        return out, length
    from mimicgait.data.occlusion.wild import occlude_wild_batch

    occs = occ.to_list()
    if out is None:
        part = occlude_wild_batch(sils, occs, length, pool)
        return part.frames, part.kept
    idx = np.flatnonzero(wild)
    index = torch.from_numpy(idx).to(sils.device)
    part = occlude_wild_batch(sils.index_select(0, index), [occs[i] for i in idx], length[idx], pool)
    out[index] = part.frames
    kept = length.copy()
    kept[idx] = part.kept
    return out, kept


def _occlude_paper_kinds(
    sils: torch.Tensor, occ: BatchOcclusion, lengths: torch.Tensor | Sequence[int] | None = None
) -> torch.Tensor:
    """The paper's kinds of `occlude_batch_with`; sequences of a wild kind are copied unchanged."""
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
