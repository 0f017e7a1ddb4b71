"""Choosing the autocast precision: `amp: auto` means bfloat16 where the hardware runs it natively.

bfloat16 autocast roughly halves the time of GaitBase-sized convolutions on CPUs with AVX512-BF16
or AMX and on recent GPUs, but oneDNN emulates it on other CPUs, where it is slower than float32.
So 'auto' resolves to 'bf16' only when the device has native support, and to 'none' otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from mimicgait.engine.config import ConfigError
from mimicgait.errors import UserError

AMP_MODES = ("none", "bf16", "fp16", "auto")
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def _cpu_flags() -> frozenset[str]:
    """The CPU feature flags of /proc/cpuinfo (empty where there is none: macOS, Windows)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 natively (CUDA: compute capability 8.0+; CPU: AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return any(flag in _cpu_flags() for flag in _BF16_CPU_FLAGS)
    return False


def resolve_amp(amp: str, device: torch.device, where: str = "train.amp") -> str:
    """'none' / 'bf16' / 'fp16' as given (checked), 'auto' -> 'bf16' with native support, else 'none'."""
    if amp not in AMP_MODES:
        raise UserError(f"{where} must be one of {', '.join(AMP_MODES)}, got {amp!r}")
    if amp == "fp16" and device.type != "cuda":
        raise UserError(f"{where}=fp16 needs CUDA; on the CPU use bf16 (or auto)")
    if amp == "auto":
        return "bf16" if native_bf16(device) else "none"
    return amp


def eval_amp(amp: str, device: torch.device, where: str = "pipeline.eval.amp") -> str:
    """The precision embedding runs in: 'none', 'bf16' or 'auto' (checked; `ConfigError` naming
    `where` otherwise) resolved on `device` to 'bf16' or 'none'."""
    if amp not in ("none", "bf16", "auto"):
        raise ConfigError(f"{where} must be 'none', 'bf16' or 'auto', got {amp!r}")
    return resolve_amp(amp, device, where)


def autocast_embed(embed: Callable[..., Tensor], amp: str, device: torch.device | str | None = None,
                   where: str = "pipeline.eval.amp") -> Callable[..., Tensor]:
    """`embed` run under bfloat16 autocast on `device` (default the CPU) when `eval_amp` resolves to
    bf16, else unchanged; the embeddings come back as float32."""
    device = torch.device(device or "cpu")
    if eval_amp(amp, device, where) == "none":
        return embed

    def run(sils: Tensor, lengths: Tensor) -> Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return embed(sils, lengths).float()

    return run
