"""The Visibility Estimation Network (VEN) of MimicGait and the small CNN it shares with the
Occlusion-Aware baseline's occlusion detector.

Per frame: 3 x (conv3x3 + ReLU + maxpool2) with 32/64/128 channels, global average pool to 128,
FC 128 -> 64 + ReLU = the "feature delta". The VEN adds a type classifier and an amount regressor;
the amount head is a plain linear output (no sigmoid: a sigmoid would flatten the gradient near the
frequent target 0 of unoccluded frames; clamp at use if a [0, 1] value is needed).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mimicgait.models.blocks import FramePacker, MaxPool2x2


class FrameFeatureCNN(nn.Module):
    """Frames [M, H, W] or [M, 1, H, W] -> feature deltas [M, feature_dim]."""

    def __init__(self, feature_dim: int = 64, channels: tuple[int, int, int] = (32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_c = 1
        for c in channels:
            layers += [nn.Conv2d(in_c, c, 3, padding=1), nn.ReLU(inplace=True), MaxPool2x2()]
            in_c = c
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(in_c, feature_dim), nn.ReLU(inplace=True))
        self.feature_dim = feature_dim

    def forward(self, frames: Tensor) -> Tensor:
        if frames.dim() == 3:
            frames = frames.unsqueeze(1)
        if frames.dim() != 4 or frames.shape[1] != 1:
            raise ValueError(f"expected frames [M, H, W] or [M, 1, H, W], got shape {tuple(frames.shape)}")
        return self.fc(self.convs(frames).mean(dim=(2, 3)))  # [M, feature_dim]

    def sequence_features(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Mean feature delta over each sequence's valid frames: [N, S, H, W] -> [N, feature_dim]."""
        packer = FramePacker(sils, lengths)
        return packer.mean(self(packer.pack(sils)))


class VisibilityEstimator(nn.Module):
    """VEN: per-frame occlusion type logits and occluded amount, plus the 64-d guidance feature."""

    def __init__(self, num_classes: int = 3, feature_dim: int = 64) -> None:
        super().__init__()
        self.num_classes, self.feature_dim = num_classes, feature_dim
        self.backbone = FrameFeatureCNN(feature_dim)
        self.type_head = nn.Linear(feature_dim, num_classes)
        self.amount_head = nn.Linear(feature_dim, 1)

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """frames [M, H, W] or [M, 1, H, W] -> (delta [M, D], type logits [M, K], amount [M])."""
        delta = self.backbone(frames)
        return delta, self.type_head(delta), self.amount_head(delta).squeeze(-1)

    def features(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Per-sequence guidance feature: mean of frame deltas over valid frames, [N, S, H, W] -> [N, D]."""
        return self.backbone.sequence_features(sils, lengths)


class OcclusionDetector(nn.Module):
    """The Occlusion-Aware baseline's detector: the same CNN with a type classifier only."""

    def __init__(self, num_classes: int = 3, feature_dim: int = 64) -> None:
        super().__init__()
        self.num_classes, self.feature_dim = num_classes, feature_dim
        self.backbone = FrameFeatureCNN(feature_dim)
        self.type_head = nn.Linear(feature_dim, num_classes)

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """frames [M, H, W] or [M, 1, H, W] -> (delta [M, D], type logits [M, K])."""
        delta = self.backbone(frames)
        return delta, self.type_head(delta)

    def features(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Per-sequence feature [N, D] (mean over valid frames)."""
        return self.backbone.sequence_features(sils, lengths)


def broadcast_parts(feature: Tensor, parts: int) -> Tensor:
    """Repeat a per-sequence feature over parts: [n, d] -> [n, d, p]."""
    return feature.unsqueeze(-1).expand(-1, -1, parts)


def fuse(embeddings: Tensor, feature: Tensor) -> Tensor:
    """Concatenate a per-sequence feature to every part: [n, c, p] + [n, d] -> [n, c + d, p]."""
    return torch.cat([embeddings, broadcast_parts(feature, embeddings.shape[-1])], dim=1)
