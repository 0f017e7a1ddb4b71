"""One-to-one verification (BRIAR-style): true accept rate at a fixed false accept rate, and the ROC.

Every probe-gallery pair is a trial: genuine when both share the subject, impostor otherwise. A
pair is accepted when its distance is strictly below the threshold; the threshold for a target FAR
is the impostor distance of rank floor(FAR * n_impostor), so at most that fraction of impostors is
accepted (fewer when distances tie). Distances are streamed in chunks; all pair distances are kept
as float32 (4 bytes per pair: 144 MB for a 6000 x 6000 test), which is what an exact ROC needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def split_block(block: torch.Tensor, probe_labels: torch.Tensor,
                gallery_labels: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """One distance block [b, m] of probes `probe_labels` [b] as (genuine, impostor) distances."""
    same = probe_labels.long()[:, None] == gallery_labels.long()[None, :]  # [b, m]
    return block[same].numpy(), block[~same].numpy()


def join_pairs(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The blocks' (genuine, impostor) pairs joined in order, as float32 arrays."""
    return _concat([g for g, _ in parts]), _concat([i for _, i in parts])


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, fars: Sequence[float]) -> dict[float, float]:
    """TAR (percent) at each target FAR; NaN when either set is empty or the FAR is below 1/n_impostor."""
    out: dict[float, float] = {}
    imp = np.sort(impostor)
    for far in fars:
        k = int(np.floor(far * len(imp)))
        if len(genuine) == 0 or len(imp) == 0 or k < 1:
            out[far] = float("nan")
            continue
        threshold = imp[k] if k < len(imp) else np.inf
        out[far] = float(100.0 * np.mean(genuine < threshold))
    return out


def threshold_at_far(impostor: np.ndarray, far: float) -> float:
    """The distance threshold of `tar_at_far` for a target FAR: accept a pair when its distance is
    strictly below it (NaN when the FAR is below 1/n_impostor). `identify --threshold` takes it."""
    imp = np.sort(impostor)
    k = int(np.floor(far * len(imp)))
    if len(imp) == 0 or k < 1:
        return float("nan")
    return float(imp[k]) if k < len(imp) else float("inf")


def roc_curve(genuine: np.ndarray, impostor: np.ndarray, points: int = 50) -> dict[str, list[float]]:
    """ROC sampled on a log FAR grid from 1/n_impostor to 1: {'far': [...], 'tar': [...]} in percent."""
    if len(genuine) == 0 or len(impostor) == 0:
        return {"far": [], "tar": []}
    imp = np.sort(impostor)
    gen = np.sort(genuine)
    fars = np.unique(np.logspace(np.log10(1.0 / len(imp)), 0.0, points))
    ks = np.floor(fars * len(imp)).astype(np.int64)
    thresholds = np.where(ks < len(imp), imp[np.minimum(ks, len(imp) - 1)], np.inf)
    tars = np.searchsorted(gen, thresholds, side="left") / len(gen)  # fraction strictly below
    return {"far": (100.0 * fars).tolist(), "tar": (100.0 * tars).tolist()}


def verification_metrics(
    genuine: np.ndarray, impostor: np.ndarray, fars: Sequence[float] = (1e-2, 1e-3)
) -> dict[str, float]:
    """Flat report keys `tar@far=0.01`, ... plus the trial counts."""
    out = {f"tar@far={far:g}": v for far, v in tar_at_far(genuine, impostor, fars).items()}
    out.update({f"threshold@far={far:g}": threshold_at_far(impostor, far) for far in fars})
    out["genuine_pairs"] = float(len(genuine))
    out["impostor_pairs"] = float(len(impostor))
    return out
