"""Turning stored silhouettes into what an encoder sees: crop and resize (augmentation: engine/augment.py).

Data is stored at its normalised size (64x64 for CASIA-B); encoders may be built smaller (32x22 at
CPU scale) or for OpenGait's 64x44 crop. `Preprocess` does that on the training device for a whole
batch at once, and the same object is saved in the checkpoint's model spec, so a model loaded for
inference accepts frames at the data's size and prepares them exactly as in training.

Occlusion is applied before preprocessing, on the binary frames at the stored size, as the paper
defines it on normalised frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from mimicgait.errors import UserError

CROPS = ("none", "opengait")
#: OpenGait's 64x44 crop keeps the central 44/64 of a square frame's width.
OPENGAIT_KEEP = 44 / 64


@dataclass(frozen=True)
class Preprocess:
    """crop: 'none' or 'opengait'; size: (H, W) the encoder takes, or None to keep the (cropped) size."""

    crop: str = "none"
    size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.crop not in CROPS:
            raise UserError(f"data.crop must be one of {CROPS}, got {self.crop!r}")
        if self.size is not None:
            object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))

    def output_size(self, frame_size: tuple[int, int]) -> tuple[int, int]:
        """Encoder input size for stored frames of `frame_size`."""
        if self.size is not None:
            return self.size
        h, w = frame_size
        return (h, self._kept(w)) if self.crop == "opengait" else (h, w)

    @staticmethod
    def _kept(width: int) -> int:
        return max(1, int(round(width * OPENGAIT_KEEP)))

    def __call__(self, sils: Tensor) -> Tensor:
        """[N, S, H, W] uint8/bool/float in {0, 1} -> float [N, S, h, w] in [0, 1] (area resize)."""
        x = sils.float()
        if self.crop == "opengait":
            w = x.shape[-1]
            keep = self._kept(w)
            left = (w - keep) // 2
            x = x[..., left : left + keep]
        if self.size is not None and tuple(x.shape[-2:]) != self.size:
            n, s, h, w = x.shape
            x = F.interpolate(x.reshape(n * s, 1, h, w), size=self.size, mode="area").reshape(
                n, s, *self.size
            )
        return x

    def spec(self) -> dict:
        return {"crop": self.crop, "size": list(self.size) if self.size is not None else None}

    @classmethod
    def from_spec(cls, spec: dict | None) -> Preprocess:
        spec = spec or {}
        size = spec.get("size")
        return cls(spec.get("crop", "none"), tuple(size) if size is not None else None)

