"""Periodic validation of recognition models on held-out training subjects.

A thin adapter onto `mimicgait.eval.evaluate`: the trainer only needs a callable returning a dict
of numbers, so any other check can be plugged in instead (`Trainer(validate=...)`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mimicgait.models.preprocess import Preprocess


@dataclass(frozen=True)
class ValSettings:
    """How a stage validates: the protocol, the occlusion kinds of probes and gallery ('none':
    holistic), the seed of the occlusion draw, the embedding batch and frame cap, a progress bar."""

    protocol: str
    occlusion: str
    seed: int
    batch_size: int
    max_frames: int | None
    progress: bool


def recognition_validation(
    module: nn.Module, preprocess: Preprocess, store, settings: ValSettings
) -> dict[str, float] | None:
    """Rank metrics of `module.embed` on `store` under `settings` (None without a store); a progress
    bar over the sequences embedded when asked (validation can take minutes)."""
    if store is None:
        return None
    from mimicgait.eval.evaluate import evaluate
    from mimicgait.eval.protocols import build_protocol

    device = next(module.parameters()).device
    was_training = module.training
    module.eval()

    @torch.no_grad()
    def embed(sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        return module.embed(preprocess(sils.to(device)), lengths)

    try:
        report = evaluate(
            embed,
            store,
            build_protocol(settings.protocol),
            occlusion=settings.occlusion,
            seed=settings.seed,
            batch_size=settings.batch_size,
            max_frames=settings.max_frames,
            progress=settings.progress,
        )
    finally:
        module.train(was_training)
    metrics = report.get("metrics", {})
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and v is not None}
