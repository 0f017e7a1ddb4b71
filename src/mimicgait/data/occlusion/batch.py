"""Occluding a whole batch `[N, S, H, W]` in one call with torch, on the batch's device (training).

The same rules as `sequence.occlude`, vectorised over sequences; binary frames are processed as machine
words for speed. Results equal the NumPy form pixel for pixel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
    AMOUNT_RANGE,
    KINDS,
    SPEED_RANGE,
    SPEED_SCALE,
    Occlusion,
    _rows,
    check_kind,
)


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
