"""benchmarks/reference_step.py: the plumbing around a checkout of the published code, checked
against a stand-in checkout with the same module layout and call signatures (the real code needs
torchvision, which this project does not install)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "reference_step.py"

MODULES = '''
import torch
from torch import nn


class SetBlockWrapper(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        n, c, s, h, w = x.shape
        y = self.block(x.transpose(1, 2).reshape(n * s, c, h, w))
        return y.reshape(n, s, *y.shape[1:]).transpose(1, 2)


class PackSequenceWrapper(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, seqs, seqL, dim=2, options={}):
        return self.fn(seqs, **options)


class HorizontalPoolingPyramid:
    def __init__(self, bin_num=None):
        self.bins = bin_num[0]

    def __call__(self, x):
        n, c = x.shape[:2]
        z = x.reshape(n, c, self.bins, -1)
        return z.mean(-1) + z.amax(-1)


class SeparateFCs(nn.Module):
    def __init__(self, parts_num, in_channels, out_channels):
        super().__init__()
        self.w = nn.Parameter(torch.randn(parts_num, in_channels, out_channels) * 0.1)

    def forward(self, x):
        return torch.bmm(x.permute(2, 0, 1), self.w).permute(1, 2, 0)


class Occ_Detector(nn.Module):
    def __init__(self, parts_num):
        super().__init__()
        self.parts = parts_num
        self.fc = nn.Linear(1, 64)

    def forward(self, x, seqL):
        feat = self.fc(x.mean((1, 2, 3, 4))[:, None])
        return feat[:, :, None].expand(-1, -1, self.parts)
'''

RESNET = '''
from torch import nn


class ResNet9(nn.Sequential):
    def __init__(self, block, channels, in_channel, layers, strides, maxpool):
        assert block == "BasicBlock"
        super().__init__(nn.Conv2d(in_channel, channels[-1], 3, padding=1), nn.ReLU())
'''

LOSS = '''
import torch


class TripletLossFlat:
    def __init__(self, margin):
        self.margin = margin

    def __call__(self, embeddings, labels):
        assert torch.distributed.is_initialized()
        return embeddings.pow(2).mean(), {}
'''


def _checkout(root: Path) -> Path:
    files = {"modeling/__init__.py": "", "modeling/modules.py": MODULES,
             "modeling/backbones/__init__.py": "", "modeling/backbones/resnet.py": RESNET,
             "modeling/losses/__init__.py": "", "modeling/losses/triplet_flat.py": LOSS}
    for name, text in files.items():
        path = root / "opengait" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=300)


def test_times_both_steps_on_the_same_work(tmp_path):
    ref = _checkout(tmp_path / "published")
    done = _run("--ref", str(ref), "--input", "16", "--channels", "4,8,8,8", "--ids", "2", "--per-id", "2",
                "--frames", "3", "--steps", "2")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "reference_step" and result["batch"] == [2, 2, 3]
    assert len(result["s_per_step_all"]["ours"]) == len(result["s_per_step_all"]["reference"]) == 2
    assert result["speedup"] > 0


def test_a_directory_that_is_not_a_checkout_is_refused_in_one_line(tmp_path):
    done = _run("--ref", str(tmp_path))
    assert done.returncode == 2 and "opengait/modeling/modules.py" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
