"""Periodic validation of recognition models on held-out training subjects.

A thin adapter onto `mimicgait.eval.evaluate`: the trainer only needs a callable returning a dict
of numbers, so any other check can be plugged in instead (`Trainer(validate=...)`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from mimicgait.engine.preprocess import Preprocess


def recognition_validation(
    module: nn.Module,
    preprocess: Preprocess,
    store,
    val_cfg: dict[str, Any],
    occlusion: str,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, float] | None:
    """Rank metrics of `module.embed` on `store` under the configured protocol (None without a store);
    `progress` shows a bar over the sequences embedded (validation can take minutes)."""
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
            build_protocol(val_cfg["protocol"]),
            occlusion=occlusion,
            seed=seed,
            batch_size=int(val_cfg.get("batch_size", 8)),
            max_frames=val_cfg.get("max_frames"),
            progress=progress,
        )
    finally:
        module.train(was_training)
    metrics = report.get("metrics", {})
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and v is not None}
