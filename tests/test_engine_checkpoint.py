"""Checkpoints: atomic writes survive a crash mid-write, safe loads, RNG state; schedule; preprocessing."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from mimicgait.engine import checkpoint as ckpt
from mimicgait.engine.augment import random_flip
from mimicgait.engine.optim import OptimSettings
from mimicgait.errors import UserError
from mimicgait.models import checkpoint as reading
from mimicgait.models.preprocess import Preprocess


def _payload(value: float) -> dict:
    return {"format": reading.FORMAT, "stage": "teacher", "model_spec": {}, "input_size": [8, 8],
            "state_dict": {"w": torch.full((3,), value)}}


def test_crash_during_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.pt"
    ckpt.atomic_save(_payload(1.0), path)
    real_save = torch.save

    def dying_save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(10)  # a half-written file, then the process "dies"
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt.atomic_save(_payload(2.0), path)
    monkeypatch.setattr(torch, "save", real_save)
    payload, _ = reading.load_checkpoint(path)
    assert torch.equal(payload["state_dict"]["w"], torch.full((3,), 1.0))
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temp file left behind


def test_loading_rejects_missing_and_foreign_files(tmp_path):
    with pytest.raises(UserError, match="train that stage first"):
        reading.load_checkpoint(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    ckpt.atomic_save(_payload(0.0), tmp_path / reading.LAST_NAME)
    with pytest.raises(UserError, match="--resume"):
        reading.load_checkpoint(tmp_path)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a mimicgait/1 checkpoint"):
        reading.load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read"):
        reading.load_checkpoint(tmp_path / "garbage.pt")


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    ckpt.atomic_save({**_payload(0.0), "rng": ckpt.rng_state()}, tmp_path / "r.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    payload, _ = reading.load_checkpoint(tmp_path / "r.pt")
    ckpt.set_rng_state(payload["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_relative_reference_and_tamper_check(tmp_path):
    target = tmp_path / "teacher" / "model.pt"
    ckpt.atomic_save(_payload(1.0), target)
    run = tmp_path / "mimic"
    run.mkdir()
    ref = ckpt.relative_reference(target, run)
    assert ref["path"] == "../teacher/model.pt"
    assert reading.dereference(ref, run / "model.pt", "teacher") == run / ".." / "teacher" / "model.pt"
    ckpt.atomic_save(_payload(5.0), target)
    with pytest.raises(ValueError, match="changed since"):
        reading.dereference(ref, run / "model.pt", "teacher")


def test_multistep_schedule():
    optim = OptimSettings(name="sgd", lr=0.1, momentum=0.9, weight_decay=0.0, nesterov=False,
                          milestones=(5, 3), gamma=0.1, grad_clip=None)
    got = [optim.learning_rate(i) for i in range(7)]
    assert got == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_preprocess_crops_and_resizes_and_flip_mirrors():
    sils = torch.zeros(2, 3, 64, 64, dtype=torch.uint8)
    sils[..., :, 10:12] = 1  # inside the kept band
    sils[..., :, :10] = 1  # outside: cut away by the OpenGait crop
    out = Preprocess("opengait", (32, 22))(sils)
    assert out.shape == (2, 3, 32, 22) and out.dtype == torch.float32
    assert torch.allclose(out[..., 0], torch.ones(2, 3, 32)) and out[..., 1:].sum() == 0
    assert Preprocess("opengait").output_size((64, 64)) == (64, 44)
    x = torch.arange(2 * 4, dtype=torch.float32).reshape(2, 1, 1, 4)
    flipped = random_flip(x, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(flipped, x.flip(-1))
    assert torch.equal(random_flip(x, 0.0), x)
