"""GaitBase (OpenGait "Baseline", Fan et al. CVPR 2023): a per-frame ResNet-9-like CNN, temporal max
pooling, horizontal pyramid pooling into 16 parts and separate per-part FCs.

Paper width: channels (64, 128, 256, 512), 64x44 input, 256-d embedding per part, about 7M
parameters (the BNNeck classifier is a separate `BNNeckHead`).
"""

from __future__ import annotations

from torch import Tensor, nn

from mimicgait.errors import UserError
from mimicgait.models.blocks import (
    BasicBlock2D,
    FramePacker,
    HorizontalPooling,
    SeparateFCs,
    as_pair,
    conv3x3,
)
from mimicgait.models.encoder import GaitEncoder, register_encoder


@register_encoder("gaitbase")
class GaitBase(GaitEncoder):
    """Silhouettes [N, S, H, W] + lengths -> embeddings [N, out_channels, parts]."""

    def __init__(
        self,
        channels: tuple[int, ...] = (64, 128, 256, 512),
        layers: tuple[int, ...] = (1, 1, 1, 1),
        strides: tuple[int, ...] = (1, 2, 2, 1),
        parts: int = 16,
        out_channels: int = 256,
        input_size: tuple[int, int] = (64, 44),
    ) -> None:
        super().__init__()
        if not len(channels) == len(layers) == len(strides):
            raise UserError("gaitbase: channels, layers and strides must have the same length")
        size = as_pair(input_size, "input_size")
        self._finish_init(
            dict(channels=channels, layers=layers, strides=strides, parts=parts, out_channels=out_channels,
                 input_size=size),
            out_channels, parts, size,
        )
        stem = [conv3x3(1, channels[0]), nn.BatchNorm2d(channels[0]), nn.ReLU(inplace=True)]
        stages: list[nn.Module] = list(stem)
        in_c = channels[0]
        for c, n_blocks, stride in zip(channels, layers, strides, strict=True):
            for i in range(n_blocks):
                stages.append(BasicBlock2D(in_c, c, stride if i == 0 else 1))
                in_c = c
        self.backbone = nn.Sequential(*stages)
        self.pooling = HorizontalPooling((parts,))
        self.fcs = SeparateFCs(parts, in_c, out_channels)

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        self.check_input(sils)
        packer = FramePacker(sils, lengths)
        frames = packer.pack(sils).unsqueeze(1)  # [M, 1, H, W]
        feats = self.backbone(frames)  # [M, c, h, w]
        pooled = packer.max(feats)  # [N, c, h, w]
        return self.fcs(self.pooling(pooled))  # [N, out_channels, parts]
