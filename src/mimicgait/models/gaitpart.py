"""GaitPart (Fan et al., CVPR 2020): focal convolutions (FConv) per frame, horizontal pooling into
16 parts, and a micro-motion capture module (MCM: two multi-scale temporal branches with per-part
1D-conv attention) followed by temporal max; separate per-part FCs (128 -> 128).

The per-part 1D convolutions are one grouped convolution (groups = parts) over all parts at once.
The MCM's temporal windows must not see padding, so it runs once per distinct sequence length.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from mimicgait.errors import UserError
from mimicgait.models.blocks import (
    FramePacker,
    HorizontalPooling,
    MaxPool2x2,
    SeparateFCs,
    as_pair,
    split_by_length,
)
from mimicgait.models.encoder import GaitEncoder, register_encoder


class FocalConv2d(nn.Module):
    """3x3 convolution applied separately to 2**halving horizontal strips (no cross-strip context)."""

    def __init__(self, in_c: int, out_c: int, halving: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_c, out_c, 3, padding=1, bias=False)
        self.strips = 2**halving

    def forward(self, x: Tensor) -> Tensor:
        m, c, h, w = x.shape
        k = self.strips
        if h % k:
            raise UserError(f"FocalConv2d: height {h} is not divisible by {k} strips; change input_size")
        strips = x.reshape(m, c, k, h // k, w).transpose(1, 2).reshape(m * k, c, h // k, w)
        out = self.conv(strips)  # [m*k, out_c, h/k, w]
        return out.reshape(m, k, -1, h // k, w).transpose(1, 2).reshape(m, -1, h, w)


class MicroMotionCapture(nn.Module):
    """MCM / temporal feature aggregator: part features [n, s, c, p] -> [n, c, p]."""

    def __init__(self, channels: int, parts: int, squeeze: int = 4) -> None:
        super().__init__()
        hidden = channels // squeeze
        self.parts = parts
        cp, hp = channels * parts, hidden * parts
        self.attn3x1 = nn.Sequential(
            nn.Conv1d(cp, hp, 3, padding=1, groups=parts, bias=False),
            nn.LeakyReLU(inplace=True),
            nn.Conv1d(hp, cp, 1, groups=parts, bias=False),
        )
        self.attn3x3 = nn.Sequential(
            nn.Conv1d(cp, hp, 3, padding=1, groups=parts, bias=False),
            nn.LeakyReLU(inplace=True),
            nn.Conv1d(hp, cp, 3, padding=1, groups=parts, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        n, s, c, p = x.shape
        seq = x.permute(0, 3, 2, 1).reshape(n, p * c, s)  # [n, p*c, s], part-major for grouped conv
        short = F.avg_pool1d(seq, 3, 1, 1) + F.max_pool1d(seq, 3, 1, 1)
        long = F.avg_pool1d(seq, 5, 1, 2) + F.max_pool1d(seq, 5, 1, 2)
        out = short * self.attn3x1(seq).sigmoid() + long * self.attn3x3(seq).sigmoid()
        return out.amax(dim=-1).reshape(n, p, c).transpose(1, 2)  # [n, c, p]


@register_encoder("gaitpart")
class GaitPart(GaitEncoder):
    """Silhouettes [N, S, H, W] + lengths -> embeddings [N, out_channels, parts]."""

    def __init__(
        self,
        channels: tuple[int, int, int] = (32, 64, 128),
        halving: tuple[int, int] = (2, 3),
        parts: int = 16,
        squeeze: int = 4,
        out_channels: int = 128,
        input_size: tuple[int, int] = (64, 44),
    ) -> None:
        super().__init__()
        if len(channels) != 3 or len(halving) != 2:
            raise UserError("gaitpart: channels needs three entries and halving two")
        size = as_pair(input_size, "input_size")
        self._finish_init(
            dict(channels=channels, halving=halving, parts=parts, squeeze=squeeze, out_channels=out_channels,
                 input_size=size),
            out_channels, parts, size,
        )
        c1, c2, c3 = channels
        act = nn.LeakyReLU
        self.backbone = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2, bias=False), act(inplace=True),
            nn.Conv2d(c1, c1, 3, padding=1, bias=False), act(inplace=True),
            MaxPool2x2(),
            FocalConv2d(c1, c2, halving[0]), act(inplace=True),
            FocalConv2d(c2, c2, halving[0]), act(inplace=True),
            MaxPool2x2(),
            FocalConv2d(c2, c3, halving[1]), act(inplace=True),
            FocalConv2d(c3, c3, halving[1]), act(inplace=True),
        )
        self.pooling = HorizontalPooling((parts,))
        self.mcm = MicroMotionCapture(c3, parts, squeeze)
        self.fcs = SeparateFCs(parts, c3, out_channels)

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        self.check_input(sils)
        packer = FramePacker(sils, lengths)
        feats = self.pooling(self.backbone(packer.pack(sils).unsqueeze(1)))  # [M, c, p]
        padded = packer.unpack(feats)  # [N, S, c, p]
        return self.fcs(split_by_length(padded, packer.lengths, self.mcm))
