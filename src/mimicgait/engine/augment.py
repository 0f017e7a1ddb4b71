"""Geometric training augmentation of whole silhouette sequences: flip, rotation, perspective.

Each sequence draws one transform and all its frames get it, so the motion between frames is left
intact (as OpenGait's GaitBase recipe does with its rotate and perspective transforms, p 0.2 each).
The transform is applied to the stored binary frames before occlusion, so in a mimic step the
teacher's holistic input and the student's occluded input of the same sequence are warped
identically and differ only by the occlusion.

Rotation and perspective are one homography per sequence, sampled with `grid_sample` (nearest, so
frames stay binary; pixels warped in from outside the frame are background) over the whole batch
at once: the frames of a sequence are the channels of one image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from mimicgait.errors import UserError


def random_flip(sils: Tensor, probability: float, generator: torch.Generator | None = None) -> Tensor:
    """Mirror whole sequences left-right with `probability` each: [N, S, H, W] -> same shape."""
    if probability <= 0:
        return sils
    n = sils.shape[0]
    flip = torch.rand(n, generator=generator, device=_device(generator)) < probability
    flip = flip.to(sils.device)[:, None, None, None]  # [N, 1, 1, 1]
    return torch.where(flip, sils.flip(-1), sils)


def _device(generator: torch.Generator | None) -> torch.device | str:
    return generator.device if generator is not None else "cpu"


def rotation_matrices(degrees: Tensor, height: int, width: int) -> Tensor:
    """[N] angles -> [N, 3, 3] rotations about the frame centre in grid_sample's normalised
    coordinates (x, y in [-1, 1]), correct in pixels for non-square frames."""
    theta = degrees.double() * (math.pi / 180)
    cos, sin = theta.cos(), theta.sin()
    sx, sy = width / 2, height / 2  # normalised -> pixels (about the centre)
    m = torch.zeros(degrees.shape[0], 3, 3, dtype=torch.float64, device=degrees.device)
    m[:, 0, 0], m[:, 0, 1] = cos, -sin * sy / sx
    m[:, 1, 0], m[:, 1, 1] = sin * sx / sy, cos
    m[:, 2, 2] = 1
    return m


def homographies(corners: Tensor) -> Tensor:
    """[N, 4, 2] where the frame corners (-1,-1), (1,-1), (1,1), (-1,1) go -> [N, 3, 3] homographies.

    Solves the usual eight linear equations (h33 = 1) for every sequence in one batched solve."""
    src = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]], dtype=torch.float64,
                       device=corners.device).expand(corners.shape[0], 4, 2)
    dst = corners.double()
    x, y, u, v = src[..., 0], src[..., 1], dst[..., 0], dst[..., 1]  # [N, 4] each
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rows_u = torch.stack([x, y, one, zero, zero, zero, -u * x, -u * y], -1)  # [N, 4, 8]
    rows_v = torch.stack([zero, zero, zero, x, y, one, -v * x, -v * y], -1)  # [N, 4, 8]
    a = torch.cat([rows_u, rows_v], 1)  # [N, 8, 8]
    b = torch.cat([u, v], 1)  # [N, 8]
    h = torch.linalg.solve(a, b)  # [N, 8]
    return torch.cat([h, torch.ones_like(h[:, :1])], 1).reshape(-1, 3, 3)


def warp(sils: Tensor, matrices: Tensor) -> Tensor:
    """Resample every frame of sequence n at matrices[n] @ (x, y, 1) (output -> input, normalised).

    [N, S, H, W] any dtype, [N, 3, 3] -> [N, S, H, W] of the same dtype (nearest neighbour)."""
    n, _, h, w = sils.shape
    ys = (torch.arange(h, dtype=torch.float64, device=matrices.device) * 2 + 1) / h - 1  # pixel centres
    xs = (torch.arange(w, dtype=torch.float64, device=matrices.device) * 2 + 1) / w - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([gx, gy, torch.ones_like(gx)], -1).reshape(1, h * w, 3)  # [1, HW, 3]
    mapped = points @ matrices.transpose(1, 2)  # [N, HW, 3]
    grid = (mapped[..., :2] / mapped[..., 2:]).reshape(n, h, w, 2)  # [N, H, W, 2]
    out = F.grid_sample(sils.float(), grid.to(sils.device, torch.float32), mode="nearest",
                        padding_mode="zeros", align_corners=False)
    return out.to(sils.dtype)


@dataclass(frozen=True)
class Augment:
    """Per-sequence training augmentation; probabilities in [0, 1].

    rotate_degrees: the largest rotation (uniform in [-d, d]); perspective_distortion: how far each
    corner of the frame may move, in each direction, as a share of the frame's half-size.
    A probability of 0 draws nothing from the generator, so turning an augmentation off leaves
    the random stream (and so a run) exactly as without it."""

    flip: float = 0.0
    rotate: float = 0.0
    rotate_degrees: float = 10.0
    perspective: float = 0.0
    perspective_distortion: float = 0.1

    def __post_init__(self) -> None:
        for key in ("flip", "rotate", "perspective"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise UserError(f"data.{key} is a probability in [0, 1], got {value}")
        if not 0.0 <= self.rotate_degrees <= 180.0:
            raise UserError(f"data.rotate_degrees must be in [0, 180], got {self.rotate_degrees}")
        if not 0.0 <= self.perspective_distortion < 1.0:
            raise UserError(
                f"data.perspective_distortion must be in [0, 1), got {self.perspective_distortion}"
            )

    def __call__(self, sils: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """[N, S, H, W] -> [N, S, H, W]: flip, then rotation and perspective as one warp."""
        sils = random_flip(sils, self.flip, generator)
        if self.rotate <= 0 and self.perspective <= 0:
            return sils
        n, _, h, w = sils.shape
        device = _device(generator)
        matrices = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)  # [N, 3, 3]
        chosen = torch.zeros(n, dtype=torch.bool)
        if self.rotate > 0:
            rotate = (torch.rand(n, generator=generator, device=device) < self.rotate).cpu()
            angle = (torch.rand(n, generator=generator, device=device).cpu() * 2 - 1) * self.rotate_degrees
            matrices = matrices @ rotation_matrices(torch.where(rotate, angle, 0.0), h, w)
            chosen |= rotate
        if self.perspective > 0:
            tilt = (torch.rand(n, generator=generator, device=device) < self.perspective).cpu()
            shift = (torch.rand(n, 4, 2, generator=generator, device=device).cpu() * 2 - 1)
            shift = shift * self.perspective_distortion * tilt[:, None, None]  # [N, 4, 2]
            corners = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]) + shift
            matrices = matrices @ homographies(corners)
            chosen |= tilt
        if not chosen.any():
            return sils
        index = chosen.nonzero().squeeze(1).to(sils.device)
        out = sils.clone()
        out[index] = warp(sils[index], matrices[chosen])
        return out
