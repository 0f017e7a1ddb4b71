"""GaitGL (Lin et al., ICCV 2021): global-local 3D convolutions (GLConv), local temporal aggregation
(LTA: a temporal stride-3 convolution), temporal max, GeM pooling over horizontal strips and separate
per-part FCs. Layout as in OpenGait's GaitGL: channels (32, 64, 128) and 2**3 local strips for
CASIA-B; four channel entries give the deeper OU-MVLP/GREW variant (2**1 strips, paired GLConvs).

The encoder output is the first FC (`Head0`); GaitGL's BatchNorm + classifier is the separate
`BNNeckHead`. Temporal convolutions see no padding: the network runs once per distinct length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mimicgait.errors import UserError
from mimicgait.models.blocks import GeMHorizontalPooling, SeparateFCs, as_pair, check_lengths, split_by_length
from mimicgait.models.encoder import GaitEncoder, register_encoder


def conv3d(in_c: int, out_c: int, kernel=(3, 3, 3), stride=(1, 1, 1), padding=(1, 1, 1)) -> nn.Conv3d:
    """Bias-free 3D convolution on [n, c, s, h, w]."""
    return nn.Conv3d(in_c, out_c, kernel, stride, padding, bias=False)


class GLConv(nn.Module):
    """Global 3D conv plus a local 3D conv on 2**halving horizontal strips.

    `concat=False` adds the two (after LeakyReLU); `concat=True` stacks them along the height axis
    (doubling H), as GaitGL's last block does.
    """

    def __init__(self, in_c: int, out_c: int, halving: int, concat: bool) -> None:
        super().__init__()
        self.global_conv = conv3d(in_c, out_c)
        self.local_conv = conv3d(in_c, out_c)
        self.strips, self.concat = 2**halving, concat

    def forward(self, x: Tensor) -> Tensor:
        g = self.global_conv(x)  # [n, c, s, h, w]
        n, c, s, h, w = x.shape
        k = self.strips
        if h % k:
            raise UserError(f"GLConv: feature height {h} is not divisible by {k} strips; change input_size")
        strips = x.reshape(n, c, s, k, h // k, w).permute(0, 3, 1, 2, 4, 5).reshape(n * k, c, s, h // k, w)
        local = self.local_conv(strips)  # [n*k, out, s, h/k, w]
        local = local.reshape(n, k, -1, s, h // k, w).permute(0, 2, 3, 1, 4, 5).reshape(n, -1, s, h, w)
        if self.concat:
            return F.leaky_relu(torch.cat([g, local], dim=3))
        return F.leaky_relu(g) + F.leaky_relu(local)


@register_encoder("gaitgl")
class GaitGL(GaitEncoder):
    """Silhouettes [N, S, H, W] + lengths -> embeddings [N, channels[-1], parts]."""

    def __init__(
        self,
        channels: tuple[int, ...] = (32, 64, 128),
        parts: int = 64,
        input_size: tuple[int, int] = (64, 44),
    ) -> None:
        super().__init__()
        if len(channels) not in (3, 4):
            raise UserError("gaitgl: channels needs 3 entries (CASIA-B layout) or 4 (OU-MVLP/GREW layout)")
        size = as_pair(input_size, "input_size")
        self._finish_init(dict(channels=channels, parts=parts, input_size=size), channels[-1], parts, size)
        act = nn.LeakyReLU
        c = channels
        if len(c) == 3:
            self.stem = nn.Sequential(conv3d(1, c[0]), act(inplace=True))
            self.lta = nn.Sequential(conv3d(c[0], c[0], (3, 1, 1), (3, 1, 1), (0, 0, 0)), act(inplace=True))
            self.block0 = GLConv(c[0], c[1], 3, False)
            self.block1 = nn.Sequential(GLConv(c[1], c[2], 3, False), GLConv(c[2], c[2], 3, True))
        else:
            self.stem = nn.Sequential(
                conv3d(1, c[0]), act(inplace=True), conv3d(c[0], c[0]), act(inplace=True)
            )
            self.lta = nn.Sequential(conv3d(c[0], c[0], (3, 1, 1), (3, 1, 1), (0, 0, 0)), act(inplace=True))
            self.block0 = nn.Sequential(GLConv(c[0], c[1], 1, False), GLConv(c[1], c[1], 1, False))
            self.block1 = nn.Sequential(
                GLConv(c[1], c[2], 1, False), GLConv(c[2], c[2], 1, False),
                GLConv(c[2], c[3], 1, False), GLConv(c[3], c[3], 1, True),
            )
        self.pool = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.gem = GeMHorizontalPooling(parts)
        self.fcs = SeparateFCs(parts, c[-1], c[-1])

    def _run(self, sils: Tensor) -> Tensor:
        """Equal-length sequences [n, s, H, W] -> [n, c, p]."""
        s = sils.shape[1]
        if s < 3:  # the stride-3 LTA needs three frames: repeat short sequences as GaitGL does
            sils = sils.repeat(1, 3 if s == 1 else 2, 1, 1)
        x = self.stem(sils.unsqueeze(1))  # [n, c0, s, H, W]
        x = self.block1(self.pool(self.block0(self.lta(x))))  # [n, c, s/3, 2*H/2, W/2]
        return self.fcs(self.gem(x.amax(dim=2)))

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        self.check_input(sils)
        return split_by_length(sils, check_lengths(sils, lengths), self._run)
