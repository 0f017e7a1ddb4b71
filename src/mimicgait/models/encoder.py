"""The encoder contract and the registry behind `create_encoder`.

An encoder maps a zero-padded silhouette batch `sils [N, S, H, W]` (float in [0, 1]) and its
`lengths [N]` (None: all S frames valid) to part embeddings `[N, C, P]`. It exposes `out_channels`
(C), `parts` (P) and `input_size` (H, W), and `spec()` returns the plain dict that rebuilds it with
`create_encoder(**spec)`, which is what checkpoints store instead of pickled modules.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn

from mimicgait.errors import UserError

_REGISTRY: dict[str, type[GaitEncoder]] = {}


class GaitEncoder(nn.Module):
    """Base class of every gait backbone; subclasses set `name` and call `_finish_init`."""

    name: str = ""
    out_channels: int
    parts: int
    input_size: tuple[int, int]

    def _finish_init(
        self, config: dict[str, Any], out_channels: int, parts: int, input_size: tuple[int, int]
    ) -> None:
        """Record the constructor arguments (for `spec`) and the output sizes."""
        self.config = {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}
        self.out_channels, self.parts, self.input_size = int(out_channels), int(parts), tuple(input_size)

    def spec(self) -> dict[str, Any]:
        """Plain dict (name + constructor kwargs) such that `create_encoder(**spec)` rebuilds this encoder."""
        return {"name": self.name, **self.config}

    def check_input(self, sils: Tensor) -> None:
        """Reject inputs whose shape does not match the configured input size."""
        if sils.dim() != 4:
            raise ValueError(f"{self.name} expects silhouettes [N, S, H, W], got shape {tuple(sils.shape)}")
        if tuple(sils.shape[-2:]) != self.input_size:
            raise ValueError(
                f"{self.name} was built for input_size {self.input_size} but got frames of size "
                f"{tuple(sils.shape[-2:])}; resize the data or build the encoder with input_size="
                f"{tuple(sils.shape[-2:])}"
            )

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def register_encoder(name: str):
    """Class decorator adding an encoder to the registry under `name`."""

    def wrap(cls: type[GaitEncoder]) -> type[GaitEncoder]:
        if name in _REGISTRY:
            raise ValueError(f"encoder {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def list_encoders() -> list[str]:
    """Names accepted by `create_encoder`, sorted."""
    return sorted(_REGISTRY)


def encoder_kwargs(name: str) -> dict[str, Any]:
    """Constructor keywords of encoder `name` with their defaults (the paper-width configuration)."""
    cls = _lookup(name)
    params = inspect.signature(cls.__init__).parameters
    return {k: p.default for k, p in params.items() if k != "self"}


def _lookup(name: str) -> type[GaitEncoder]:
    if name not in _REGISTRY:
        raise UserError(f"unknown encoder {name!r}; valid names: {', '.join(list_encoders())}")
    return _REGISTRY[name]


def create_encoder(name: str, **kwargs: Any) -> GaitEncoder:
    """Build a registered encoder; unknown names or keywords raise ValueError listing what is valid."""
    cls = _lookup(name)
    valid = encoder_kwargs(name)
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise UserError(
            f"unknown argument(s) {', '.join(unknown)} for encoder {name!r}; valid: {', '.join(valid)}"
        )
    return cls(**kwargs)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable and frozen parameters of `module`."""
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def flops_per_frame(encoder: GaitEncoder, frames: int = 10) -> float:
    """Forward FLOPs of one sequence of `frames` frames at the encoder's input size, divided by frames."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = encoder.training
    encoder.eval()
    param = next(encoder.parameters())
    sils = torch.rand(1, frames, *encoder.input_size, device=param.device).round()
    counter = FlopCounterMode(display=False)
    with counter:
        encoder(sils)
    encoder.train(was_training)
    return counter.get_total_flops() / frames
