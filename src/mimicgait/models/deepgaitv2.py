"""DeepGaitV2 (Fan et al., "Exploring Deep Models for Practical Gait Recognition", 2023), as in
OpenGait: a 2D stem and 2D residual stage on frames, then three residual stages with explicit
temporal modelling, either full 3D blocks (`variant='3d'`) or pseudo-3D blocks (`variant='p3d'`:
2D convs plus a temporal 3x1x1 conv), temporal max, horizontal pooling into 16 parts and
separate FCs from channels[3] to channels[2].

Temporal convolutions see no padding: the network runs once per distinct sequence length.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from mimicgait.errors import UserError
from mimicgait.models.blocks import (
    BasicBlock2D,
    HorizontalPooling,
    SeparateFCs,
    as_pair,
    check_lengths,
    conv3x3,
    split_by_length,
)
from mimicgait.models.encoder import GaitEncoder, register_encoder


def _frames(x: Tensor) -> Tensor:
    """[n, c, s, h, w] -> [n*s, c, h, w]"""
    n, c, s, h, w = x.shape
    return x.transpose(1, 2).reshape(n * s, c, h, w)


def _clips(x: Tensor, n: int) -> Tensor:
    """[n*s, c, h, w] -> [n, c, s, h, w]"""
    m, c, h, w = x.shape
    return x.reshape(n, m // n, c, h, w).transpose(1, 2)


class _Shortcut3D(nn.Sequential):
    """1x1x1 conv (spatial stride) + BN on [n, c, s, h, w]."""

    def __init__(self, in_c: int, out_c: int, stride: int) -> None:
        super().__init__(
            nn.Conv3d(in_c, out_c, 1, (1, stride, stride), bias=False), nn.BatchNorm3d(out_c)
        )


class BasicBlock3D(nn.Module):
    """Residual block of two 3x3x3 convolutions on [n, c, s, h, w]."""

    conv_bn_pairs = (("conv1", "bn1"), ("conv2", "bn2"))  # for models.fold

    def __init__(self, in_c: int, out_c: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(in_c, out_c, 3, (1, stride, stride), 1, bias=False)
        self.bn1 = nn.BatchNorm3d(out_c)
        self.conv2 = nn.Conv3d(out_c, out_c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm3d(out_c)
        self.shortcut = _Shortcut3D(in_c, out_c, stride) if stride != 1 or in_c != out_c else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


class BasicBlockP3D(nn.Module):
    """Pseudo-3D residual block (OpenGait's BasicBlockP3D): 2D 3x3 conv+BN+ReLU per frame, plus a
    temporal 3x1x1 conv+BN added back (ReLU), then 2D 3x3 conv+BN and the residual shortcut."""

    conv_bn_pairs = (("temporal", "temporal_bn"),)  # for models.fold

    def __init__(self, in_c: int, out_c: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(conv3x3(in_c, out_c, stride), nn.BatchNorm2d(out_c), nn.ReLU(inplace=True))
        self.temporal = nn.Conv3d(out_c, out_c, (3, 1, 1), 1, (1, 0, 0), bias=False)
        self.temporal_bn = nn.BatchNorm3d(out_c)
        self.conv2 = nn.Sequential(conv3x3(out_c, out_c), nn.BatchNorm2d(out_c))
        self.shortcut = _Shortcut3D(in_c, out_c, stride) if stride != 1 or in_c != out_c else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        out = _clips(self.conv1(_frames(x)), n)  # [n, c, s, h, w]
        out = F.relu(out + self.temporal_bn(self.temporal(out)), inplace=True)
        out = _clips(self.conv2(_frames(out)), n)
        return F.relu(out + self.shortcut(x), inplace=True)


@register_encoder("deepgaitv2")
class DeepGaitV2(GaitEncoder):
    """Silhouettes [N, S, H, W] + lengths -> embeddings [N, channels[2], parts]."""

    def __init__(
        self,
        channels: tuple[int, int, int, int] = (64, 128, 256, 512),
        layers: tuple[int, int, int, int] = (1, 4, 4, 1),
        variant: str = "p3d",
        parts: int = 16,
        input_size: tuple[int, int] = (64, 44),
    ) -> None:
        super().__init__()
        if variant not in ("p3d", "3d"):
            raise UserError(f"deepgaitv2: variant must be 'p3d' or '3d', got {variant!r}")
        if len(channels) != 4 or len(layers) != 4:
            raise UserError("deepgaitv2: channels and layers need four entries")
        size = as_pair(input_size, "input_size")
        config = dict(channels=channels, layers=layers, variant=variant, parts=parts, input_size=size)
        self._finish_init(config, channels[2], parts, size)
        c = channels
        self.stem = nn.Sequential(conv3x3(1, c[0]), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True))
        self.stage1 = nn.Sequential(*[BasicBlock2D(c[0], c[0]) for _ in range(layers[0])])
        block = BasicBlockP3D if variant == "p3d" else BasicBlock3D
        stages = []
        in_c = c[0]
        for out_c, n_blocks, stride in zip(c[1:], layers[1:], (2, 2, 1), strict=True):
            blocks = [block(in_c, out_c, stride)] + [block(out_c, out_c) for _ in range(n_blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            in_c = out_c
        self.stages = nn.Sequential(*stages)
        self.pooling = HorizontalPooling((parts,))
        self.fcs = SeparateFCs(parts, c[3], c[2])

    def _run(self, sils: Tensor) -> Tensor:
        """Equal-length sequences [n, s, H, W] -> [n, c, p]."""
        n, s, h, w = sils.shape
        x = self.stage1(self.stem(sils.reshape(n * s, 1, h, w)))  # [n*s, c0, H, W]
        x = self.stages(_clips(x, n))  # [n, c3, s, h, w]
        return self.fcs(self.pooling(x.amax(dim=2)))

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        self.check_input(sils)
        return split_by_length(sils, check_lengths(sils, lengths), self._run)
