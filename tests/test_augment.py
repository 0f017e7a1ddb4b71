"""Training augmentation: one transform per sequence, identical for a pair's holistic and occluded
inputs, binary frames kept binary, and nothing drawn when an augmentation is off."""

from __future__ import annotations

import pytest
import torch

from mimicgait.engine.augment import Augment, homographies, rotation_matrices, warp
from mimicgait.errors import UserError


def _frames(n: int = 6, s: int = 5, h: int = 16, w: int = 16) -> torch.Tensor:
    return (torch.rand(n, s, h, w, generator=torch.Generator().manual_seed(1)) < 0.4).to(torch.uint8)


def test_zero_rotation_and_unmoved_corners_are_the_identity() -> None:
    x = _frames()
    eye = rotation_matrices(torch.zeros(6), 16, 16)
    assert torch.equal(warp(x, eye), x)
    corners = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]).expand(6, 4, 2)
    assert torch.allclose(homographies(corners), torch.eye(3, dtype=torch.float64).expand(6, 3, 3))


def test_quarter_turn_of_a_square_frame_is_rot90() -> None:
    x = _frames()
    turned = warp(x, rotation_matrices(torch.full((6,), 90.0), 16, 16))
    assert torch.equal(turned, torch.rot90(x, 1, dims=(-2, -1))) or torch.equal(
        turned, torch.rot90(x, -1, dims=(-2, -1))
    )


def test_homography_maps_the_corners_where_asked() -> None:
    corners = torch.tensor([[[-0.9, -1.1], [1.05, -0.95], [0.9, 1.0], [-1.0, 0.92]]])
    h = homographies(corners)[0]
    src = torch.tensor([[-1.0, -1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]],
                       dtype=torch.float64)
    mapped = src @ h.T
    assert torch.allclose(mapped[:, :2] / mapped[:, 2:], corners[0].double(), atol=1e-9)


def test_off_draws_nothing_and_changes_nothing() -> None:
    x = _frames()
    g = torch.Generator().manual_seed(3)
    assert Augment()(x, g) is x
    assert torch.equal(torch.rand(4, generator=g), torch.rand(4, generator=torch.Generator().manual_seed(3)))


def test_every_frame_of_a_sequence_gets_the_same_warp_and_stays_binary() -> None:
    # frames identical within a sequence stay identical after the warp; values stay in {0, 1}
    base = _frames(n=8, s=1)
    x = base.expand(8, 4, 16, 16).contiguous()
    out = Augment(rotate=1.0, rotate_degrees=30, perspective=1.0, perspective_distortion=0.2)(
        x, torch.Generator().manual_seed(0)
    )
    assert out.dtype == x.dtype and set(out.unique().tolist()) <= {0, 1}
    assert torch.equal(out, out[:, :1].expand_as(out))
    assert not torch.equal(out, x)


def test_probability_selects_sequences() -> None:
    x = _frames(n=400, s=1, h=8, w=8)
    out = Augment(rotate=0.2, rotate_degrees=45)(x, torch.Generator().manual_seed(0))
    changed = (out != x).flatten(1).any(1).float().mean().item()
    assert 0.1 < changed < 0.3


def test_stage_inputs_warp_holistic_and_occluded_alike() -> None:
    # BatchInputs augments once, then occludes the augmented frames: with the occlusion drawn as
    # 'none' the student's input is exactly the teacher's, so a pair differs only by the occlusion
    from types import SimpleNamespace

    from mimicgait.engine.stages.base import BatchInputs

    x = _frames(n=6, s=4, h=16, w=16)
    inputs = BatchInputs(
        augment=Augment(flip=0.5, rotate=1.0, perspective=1.0),
        preprocess=lambda t: t.float(),
        policy=SimpleNamespace(sample=lambda n, g: (torch.zeros(n, dtype=torch.long), torch.full((n,), 0.5)),
                               classes=("none", "top")),
        frame_size=(16, 16),
    )
    out = inputs({"sils": x, "lengths": torch.full((6,), 4)}, torch.Generator().manual_seed(5))
    assert torch.equal(out["holistic"], out["occluded"])
    assert not torch.equal(out["holistic"], x.float())
    assert torch.equal(out["holistic"], Augment(flip=0.5, rotate=1.0, perspective=1.0)(
        x, torch.Generator().manual_seed(5)).float())


@pytest.mark.parametrize("field,value", [("rotate", 1.5), ("flip", -0.1), ("rotate_degrees", 400.0),
                                         ("perspective_distortion", 1.0)])
def test_out_of_range_settings_name_the_key(field: str, value: float) -> None:
    with pytest.raises(UserError, match=f"data.{field}"):
        Augment(**{field: value})
