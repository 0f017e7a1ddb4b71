"""Speed paths that must not change results: the index-free 2x2 max pool, the channels-last temporal
max of FramePacker, and the malloc setting of engine.host_memory."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from mimicgait.models.blocks import FramePacker, MaxPool2x2
from mimicgait.models.ven import VisibilityEstimator

CHANNELS_LAST = torch.channels_last


@pytest.mark.parametrize("shape", [(3, 4, 9, 7), (2, 8, 32, 32), (5, 1, 2, 3)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_maxpool2x2_without_grad_equals_max_pool2d(shape, channels_last):
    x = torch.randn(*shape)
    x[0, 0, :2, :2] = 1.0  # ties inside a window
    if channels_last:
        x = x.contiguous(memory_format=CHANNELS_LAST)
    with torch.no_grad():
        got = MaxPool2x2()(x)
    assert torch.equal(got, F.max_pool2d(x, 2))
    memory_format = CHANNELS_LAST if channels_last else torch.contiguous_format
    assert got.is_contiguous(memory_format=memory_format)


def test_maxpool2x2_with_grad_is_the_stock_kernel():
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    MaxPool2x2()(x).sum().backward()
    F.max_pool2d(x_ref, 2).sum().backward()
    assert torch.equal(x.grad, x_ref.grad)  # argmax routing, not a split between ties


def test_ven_features_unchanged_by_the_fast_pool():
    torch.manual_seed(0)
    ven = VisibilityEstimator(3).eval()
    sils = (torch.rand(2, 5, 16, 12) < 0.4).float()
    with torch.no_grad():
        fast = ven.features(sils)
    ven.backbone.convs = torch.nn.Sequential(
        *[torch.nn.MaxPool2d(2) if isinstance(m, MaxPool2x2) else m for m in ven.backbone.convs]
    )
    with torch.no_grad():
        stock = ven.features(sils)
    assert torch.equal(fast, stock)


@pytest.mark.parametrize("lengths", [None, [4, 2, 1]])
def test_temporal_max_of_channels_last_features(lengths):
    n, s = 3, 4
    sils = torch.zeros(n, s, 6, 5)
    packer = FramePacker(sils, None if lengths is None else torch.tensor(lengths))
    m = n * s if lengths is None else sum(lengths)
    feats = torch.randn(m, 7, 6, 5)
    expected = packer.max(feats)  # contiguous path
    got = packer.max(feats.contiguous(memory_format=CHANNELS_LAST))
    assert torch.equal(got, expected)
    assert got.is_contiguous(memory_format=CHANNELS_LAST)
    if lengths is not None:  # padded frames never win the max
        assert torch.equal(got[2], feats[6])


def test_temporal_max_gradient_is_the_same_in_both_layouts():
    packer = FramePacker(torch.zeros(2, 3, 4, 4), None)
    base = torch.randn(6, 5, 4, 4)
    grads = []
    for memory_format in (torch.contiguous_format, CHANNELS_LAST):
        x = base.clone(memory_format=memory_format).requires_grad_(True)
        (packer.max(x) * torch.arange(5.0).view(1, 5, 1, 1)).sum().backward()
        grads.append(x.grad)
    assert torch.equal(grads[0], grads[1])


def _run_host_memory(env_value: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("MIMICGAIT_MALLOC", None)
    if env_value is not None:
        env["MIMICGAIT_MALLOC"] = env_value
    code = "from mimicgait.engine.host_memory import reuse_freed_memory as r; print(r(), r())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc knob")
def test_reuse_freed_memory_applies_once_and_can_be_turned_off():
    applied = _run_host_memory(None)
    assert applied.returncode == 0, applied.stderr
    glibc = str(platform.libc_ver()[0] == "glibc")
    assert applied.stdout.split() == [glibc, glibc]
    off = _run_host_memory("system")
    assert off.returncode == 0 and off.stdout.split() == ["False", "False"]
    bad = _run_host_memory("jemalloc")
    assert bad.returncode != 0 and "MIMICGAIT_MALLOC" in bad.stderr
