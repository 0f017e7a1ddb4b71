"""Parameter counts at paper width (BNNeck classifier excluded; no forward pass).

Two kinds of reference, each cited:
- published totals with a stated tolerance: GaitBase "about 7M" (OpenGait / GaitBase, Fan et al.
  CVPR 2023, as quoted in this project's issue 4), GaitSet 2.59M and GaitPart 1.20M (the sizes the
  GaitPart paper, Fan et al. CVPR 2020, reports for both models; quoted from memory of that table,
  as the search tool could not retrieve it, hence the 5 % tolerance);
- exact counts derived by hand, layer by layer, from the published architectures: GaitGL from
  OpenGait configs/gaitgl/gaitgl.yaml (CASIA-B, channels 32-64-128, 64 GeM parts), DeepGaitV2 from
  OpenGait opengait/modeling/models/deepgaitv2.py with configs/deepgaitv2/DeepGaitV2_gait3d.yaml
  (layers 1-4-4-1, channels 64-128-256-512).
"""

from __future__ import annotations

import pytest

from mimicgait.models import count_parameters, create_encoder


def conv(k: int, i: int, o: int) -> int:
    return k * i * o


def bn(c: int) -> int:
    return 2 * c


@pytest.mark.parametrize(
    ("name", "published", "tolerance"),
    [("gaitbase", 7.0e6, 0.05), ("gaitset", 2.59e6, 0.05), ("gaitpart", 1.20e6, 0.05)],
)
def test_published_sizes(name, published, tolerance):
    count = count_parameters(create_encoder(name))
    assert abs(count - published) <= tolerance * published, count


def test_gaitgl_matches_the_published_layer_list():
    expected = (
        conv(27, 1, 32)  # stem 3x3x3
        + conv(3, 32, 32)  # LTA 3x1x1, temporal stride 3
        + 2 * conv(27, 32, 64)  # GLConvA0 (global + local)
        + 2 * conv(27, 64, 128)  # GLConvA1
        + 2 * conv(27, 128, 128)  # GLConvB2
        + 1  # GeM exponent
        + 64 * 128 * 128  # Head0: separate FCs
    )
    assert count_parameters(create_encoder("gaitgl")) == expected


def _deepgaitv2_expected(variant: str) -> int:
    total = conv(9, 1, 64) + bn(64) + 2 * (conv(9, 64, 64) + bn(64))  # layer0 + layer1 (2D)
    in_c = 64
    for out_c, blocks, stride in ((128, 4, 2), (256, 4, 2), (512, 1, 1)):
        for b in range(blocks):
            i = in_c if b == 0 else out_c
            if variant == "p3d":
                total += conv(9, i, out_c) + bn(out_c) + conv(3, out_c, out_c) + bn(out_c)
                total += conv(9, out_c, out_c) + bn(out_c)
            else:
                total += conv(27, i, out_c) + bn(out_c) + conv(27, out_c, out_c) + bn(out_c)
            if b == 0 and (stride != 1 or i != out_c):
                total += conv(1, i, out_c) + bn(out_c)  # downsample
        in_c = out_c
    return total + 16 * 512 * 256  # FCs


@pytest.mark.parametrize("variant", ["p3d", "3d"])
def test_deepgaitv2_matches_the_published_layer_list(variant):
    assert count_parameters(create_encoder("deepgaitv2", variant=variant)) == _deepgaitv2_expected(variant)
