"""`amp: auto` picks bfloat16 only where the hardware has it natively."""

from __future__ import annotations

import pytest
import torch

from mimicgait.engine import precision


@pytest.mark.parametrize(("flags", "expected"), [
    ({"avx512f", "avx512_bf16"}, "bf16"),
    ({"amx_bf16"}, "bf16"),
    ({"avx2", "avx512f"}, "none"),  # oneDNN would emulate bf16 here: slower than float32
    (set(), "none"),
])
def test_auto_resolves_from_the_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset(flags))
    assert precision.resolve_amp("auto", torch.device("cpu")) == expected


def test_explicit_modes_are_kept_and_bad_ones_refused():
    cpu = torch.device("cpu")
    assert precision.resolve_amp("bf16", cpu) == "bf16" and precision.resolve_amp("none", cpu) == "none"
    with pytest.raises(ValueError, match="CUDA"):
        precision.resolve_amp("fp16", cpu)
    with pytest.raises(ValueError, match="train.amp must be one of"):
        precision.resolve_amp("half", cpu)
