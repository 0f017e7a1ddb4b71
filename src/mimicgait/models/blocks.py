"""Building blocks shared by the gait encoders: packing of variable-length batches, part pooling,
per-part linear maps and the residual blocks of the ResNet-like backbones.

Every encoder sees a zero-padded batch `sils [N, S, H, W]` with `lengths [N]`. Frame-wise models
run their 2D layers on the valid frames only, stacked as one big 2D batch (`FramePacker`), so padded
frames neither cost time nor touch BatchNorm statistics; models with temporal convolutions run once
per distinct length (`split_by_length`), which keeps padding out of their temporal receptive field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mimicgait.errors import UserError

_DENSE = False


@contextmanager
def dense_frames() -> Iterator[None]:
    """Trace-friendly packing, for export (ONNX, torch.export): `FramePacker` runs the 2D layers on
    every frame, padded ones included, and masks padded frames out of the temporal max and mean.
    For frame-wise layers in eval mode this gives the same embeddings, and no shape depends on the
    values of `lengths`, which a traced graph cannot follow. Encoders with temporal convolutions
    (`split_by_length`) cannot be traced with padded batches and refuse inside this context."""
    global _DENSE
    previous, _DENSE = _DENSE, True
    try:
        yield
    finally:
        _DENSE = previous


def is_dense() -> bool:
    """Whether `dense_frames` is active."""
    return _DENSE


def check_lengths(sils: Tensor, lengths: Tensor | None) -> Tensor | None:
    """Validate `lengths [N]` against `sils [N, S, ...]`; return None when every frame is valid."""
    if lengths is None:
        return None
    n, s = sils.shape[:2]
    lengths = torch.as_tensor(lengths, device=sils.device).long().reshape(-1)
    if lengths.numel() != n:
        raise ValueError(f"lengths has {lengths.numel()} entries for a batch of {n} sequences")
    if bool((lengths < 1).any()) or bool((lengths > s).any()):
        raise ValueError(
            f"sequence lengths must lie in [1, {s}] (the padded frame count), got {lengths.tolist()}"
        )
    if bool((lengths == s).all()):
        return None
    return lengths


class FramePacker:
    """Gathers the valid frames of a padded batch into one 2D batch and pools them back per sequence.

    `pack` turns `[N, S, ...]` into `[M, ...]` (M = total valid frames, a free view when nothing is
    padded); `max` and `mean` reduce frame features `[M, ...]` to `[N, ...]` over each sequence's
    frames; `unpack` restores `[N, S, ...]` with a fill value in padded slots.
    """

    def __init__(self, sils: Tensor, lengths: Tensor | None) -> None:
        self.n, self.s = sils.shape[:2]
        self.dense = _DENSE
        if self.dense:  # no value checks: a traced graph cannot branch on them
            self.lengths = None if lengths is None else lengths.reshape(-1).long()
        else:
            self.lengths = check_lengths(sils, lengths)
        if self.lengths is not None:
            steps = torch.arange(self.s, device=sils.device)
            self.mask = steps[None, :] < self.lengths[:, None]  # [N, S]

    def pack(self, x: Tensor) -> Tensor:
        """[N, S, ...] -> [M, ...] (dense: M = N * S, padded frames included)"""
        if self.lengths is None or self.dense:
            return x.reshape(self.n * self.s, *x.shape[2:])
        return x[self.mask]

    def unpack(self, x: Tensor, fill: float = 0.0) -> Tensor:
        """[M, ...] -> [N, S, ...] with `fill` in padded slots."""
        if self.lengths is None:
            return x.reshape(self.n, self.s, *x.shape[1:])
        if self.dense:
            x = x.reshape(self.n, self.s, *x.shape[1:])
            mask = self.mask.reshape(self.n, self.s, *([1] * (x.dim() - 2)))
            return x.masked_fill(~mask, fill)
        out = x.new_full((self.n, self.s, *x.shape[1:]), fill)
        out[self.mask] = x
        return out

    def max(self, x: Tensor) -> Tensor:
        """Temporal max of frame features: [M, ...] -> [N, ...] (same memory format as `x`)."""
        if (x.dim() == 4 and not self.dense and not x.is_contiguous()
                and x.is_contiguous(memory_format=torch.channels_last)):
            # Reduce the [M, h, w, c] view that matches memory: a max over whole contiguous frames
            # instead of a strided one, which is much slower for channels-last features.
            channels_last = x.permute(0, 2, 3, 1)  # [M, h, w, c]
            return self.unpack(channels_last, float("-inf")).amax(dim=1).permute(0, 3, 1, 2)  # [N, c, h, w]
        return self.unpack(x, float("-inf")).amax(dim=1)

    def mean(self, x: Tensor) -> Tensor:
        """Temporal mean of frame features: [M, ...] -> [N, ...]."""
        total = self.unpack(x, 0.0).sum(dim=1)
        counts = self.lengths if self.lengths is not None else torch.full((self.n,), self.s, device=x.device)
        return total / counts.to(x.dtype).view(-1, *([1] * (total.dim() - 1)))


def split_by_length(
    sils: Tensor, lengths: Tensor | None, fn: Callable[[Tensor], Tensor]
) -> Tensor:
    """Apply `fn([n_l, L, H, W]) -> [n_l, ...]` to each group of equal-length sequences.

    Used by encoders with temporal convolutions: each group is cut to its own length, so padded
    frames never enter a temporal window. Outputs are written back in batch order.
    """
    if _DENSE and lengths is not None:
        raise ValueError("encoders with temporal convolutions cannot be traced with a lengths input; "
                         "export them without lengths (batches of equal-length sequences)")
    lengths = check_lengths(sils, lengths)
    if lengths is None:
        return fn(sils)
    out: Tensor | None = None
    for length in torch.unique(lengths).tolist():
        idx = (lengths == length).nonzero(as_tuple=True)[0]
        part = fn(sils[idx, :length])
        if out is None:
            out = part.new_empty((sils.shape[0], *part.shape[1:]))
        out[idx] = part
    assert out is not None
    return out


class HorizontalPooling(nn.Module):
    """Horizontal pyramid pooling (OpenGait HPP): [.., C, H, W] -> [.., C, sum(bins)].

    Each level splits the flattened H*W positions into `b` equal strips, as OpenGait does (whole rows
    when H is divisible by `b`), and keeps mean + max of each strip. When H*W is not divisible by
    `b` (small CPU-scale inputs), strips come from adaptive pooling over rows instead.
    """

    def __init__(self, bins: tuple[int, ...] = (16,)) -> None:
        super().__init__()
        self.bins = tuple(bins)

    def forward(self, x: Tensor) -> Tensor:
        *lead, c, h, w = x.shape
        levels = []
        for b in self.bins:
            if (h * w) % b == 0:
                z = x.reshape(*lead, c, b, -1)  # [.., c, b, h*w/b]
                levels.append(z.mean(-1) + z.amax(-1))
            else:
                flat = x.reshape(-1, c, h, w)
                z = F.adaptive_avg_pool2d(flat, (b, 1)) + F.adaptive_max_pool2d(flat, (b, 1))
                levels.append(z.reshape(*lead, c, b))
        return torch.cat(levels, dim=-1)


class GeMHorizontalPooling(nn.Module):
    """Generalised-mean pooling over horizontal strips (GaitGL): [N, C, H, W] -> [N, C, bins]."""

    def __init__(self, bins: int = 64, p: float = 6.5, eps: float = 1e-6) -> None:
        super().__init__()
        self.bins = bins
        self.p = nn.Parameter(torch.ones(1) * p)
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        powered = x.clamp(min=self.eps).pow(self.p)
        if (h * w) % self.bins == 0:
            pooled = powered.reshape(n, c, self.bins, -1).mean(-1)  # [n, c, p]
        else:  # strips from adaptive pooling over rows, as in HorizontalPooling
            pooled = F.adaptive_avg_pool2d(powered, (self.bins, 1)).reshape(n, c, self.bins)
        return pooled.pow(1.0 / self.p)


class SeparateFCs(nn.Module):
    """One linear map per horizontal part as a single batched matmul: [n, c_in, p] -> [n, c_out, p]."""

    def __init__(self, parts: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.parts, self.in_channels, self.out_channels = parts, in_channels, out_channels
        self.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(parts, in_channels, out_channels)))

    def forward(self, x: Tensor) -> Tensor:
        # [p, n, c_in] @ [p, c_in, c_out] -> [p, n, c_out]
        out = torch.bmm(x.permute(2, 0, 1), self.weight)
        return out.permute(1, 2, 0)  # [n, c_out, p]


class MaxPool2x2(nn.MaxPool2d):
    """`nn.MaxPool2d(2)`; without autograd on the CPU it takes the elementwise max of the four 2x2
    phases instead: the same values, without the int64 argmax indices the CPU kernel writes even
    when no gradient is wanted (which dominates the VEN's wide early layers). With
    autograd it is the stock kernel, so training gradients are unchanged."""

    def __init__(self) -> None:
        super().__init__(2)

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type != "cpu" or (x.requires_grad and torch.is_grad_enabled()):
            return super().forward(x)
        h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2  # floor, like max_pool2d
        x = x[..., :h, :w]
        top = torch.maximum(x[..., 0::2, 0::2], x[..., 0::2, 1::2])
        return torch.maximum(top, torch.maximum(x[..., 1::2, 0::2], x[..., 1::2, 1::2]))  # [.., h/2, w/2]


def conv3x3(in_c: int, out_c: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (BatchNorm follows)."""
    return nn.Conv2d(in_c, out_c, 3, stride=stride, padding=1, bias=False)


class BasicBlock2D(nn.Module):
    """ResNet BasicBlock on frames [M, C, H, W]: two 3x3 conv+BN, identity or 1x1-conv shortcut."""

    conv_bn_pairs = (("conv1", "bn1"), ("conv2", "bn2"))  # for models.fold

    def __init__(self, in_c: int, out_c: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv3x3(in_c, out_c, stride), nn.BatchNorm2d(out_c)
        self.conv2, self.bn2 = conv3x3(out_c, out_c), nn.BatchNorm2d(out_c)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_c != out_c:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_c, out_c, 1, stride, bias=False), nn.BatchNorm2d(out_c)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


def as_pair(value: int | tuple[int, int] | list[int], what: str) -> tuple[int, int]:
    """Normalise `(H, W)` style arguments."""
    pair = tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value), int(value))
    if len(pair) != 2 or min(pair) < 1:
        raise UserError(f"{what} must be two positive integers (H, W), got {value!r}")
    return pair  # type: ignore[return-value]
