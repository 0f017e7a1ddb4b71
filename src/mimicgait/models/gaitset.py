"""GaitSet (Chao et al., AAAI 2019): a gait sequence as an unordered set of frames.

Per-frame CNN blocks, set pooling (temporal max) after every block feeding a multilayer global
pipeline (MGP), horizontal pyramid mapping with bins 16+8+4+2+1 on both the set and the MGP
features (62 parts), and separate per-part FCs (128 -> 256). Layout as in OpenGait's GaitSet.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from mimicgait.errors import UserError
from mimicgait.models.blocks import FramePacker, HorizontalPooling, MaxPool2x2, SeparateFCs, as_pair
from mimicgait.models.encoder import GaitEncoder, register_encoder


def _conv_pair(in_c: int, out_c: int, first_kernel: int = 3, pool: bool = True) -> nn.Sequential:
    """conv(k) + LeakyReLU + conv3 + LeakyReLU (+ maxpool 2), biases off as in OpenGait."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_c, out_c, first_kernel, padding=first_kernel // 2, bias=False),
        nn.LeakyReLU(inplace=True),
        nn.Conv2d(out_c, out_c, 3, padding=1, bias=False),
        nn.LeakyReLU(inplace=True),
    ]
    if pool:
        layers.append(MaxPool2x2())
    return nn.Sequential(*layers)


@register_encoder("gaitset")
class GaitSet(GaitEncoder):
    """Silhouettes [N, S, H, W] + lengths -> embeddings [N, out_channels, 2 * sum(bins)]."""

    def __init__(
        self,
        channels: tuple[int, int, int] = (32, 64, 128),
        bins: tuple[int, ...] = (16, 8, 4, 2, 1),
        out_channels: int = 256,
        input_size: tuple[int, int] = (64, 44),
    ) -> None:
        super().__init__()
        if len(channels) != 3:
            raise UserError("gaitset: channels must have three entries")
        size = as_pair(input_size, "input_size")
        parts = 2 * sum(bins)
        self._finish_init(dict(channels=channels, bins=bins, out_channels=out_channels, input_size=size),
                          out_channels, parts, size)
        c1, c2, c3 = channels
        self.set_block1 = _conv_pair(1, c1, first_kernel=5)
        self.set_block2 = _conv_pair(c1, c2)
        self.set_block3 = _conv_pair(c2, c3, pool=False)
        self.gl_block2 = copy.deepcopy(self.set_block2)
        self.gl_block3 = copy.deepcopy(self.set_block3)
        self.pooling = HorizontalPooling(tuple(bins))
        self.fcs = SeparateFCs(parts, c3, out_channels)

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        self.check_input(sils)
        packer = FramePacker(sils, lengths)
        x = self.set_block1(packer.pack(sils).unsqueeze(1))  # [M, c1, H/2, W/2]
        gl = self.gl_block2(packer.max(x))  # [N, c2, H/4, W/4]
        x = self.set_block2(x)  # [M, c2, H/4, W/4]
        gl = self.gl_block3(gl + packer.max(x))  # [N, c3, H/4, W/4]
        x = packer.max(self.set_block3(x))  # [N, c3, H/4, W/4]
        gl = gl + x
        feats = torch.cat([self.pooling(x), self.pooling(gl)], dim=-1)  # [N, c3, parts]
        return self.fcs(feats)
