"""The training loop shared by every stage: optimiser, schedule, precision, checkpoints, resume, logs.

Reproducibility: all randomness of a step (flips, occlusions) comes from a generator seeded by
(seed, iteration, rank), and the data stream is a pure function of (seed, batch number). Resuming
restores the weights, optimiser, schedule position, global RNG states and the number of batches
consumed, so N steps + resume + N steps gives the same weights as 2N steps.

Size: about 300 lines because the loop, its checkpoints and resume stay in one class: the order of
restoring the RNG, creating the loader and taking the first step is what makes resume exact.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mimicgait.engine import distributed
from mimicgait.engine.checkpoint import atomic_save, rng_state, set_rng_state
from mimicgait.engine.data import BatchSettings, training_batches
from mimicgait.engine.logging import RunLogger
from mimicgait.engine.optim import OptimSettings, build_optimizer
from mimicgait.engine.precision import resolve_amp
from mimicgait.engine.stages.base import Stage
from mimicgait.errors import DivergenceError, UserError
from mimicgait.models.checkpoint import FINAL_NAME, FORMAT, LAST_NAME, load_checkpoint, load_weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainerSettings:
    """What a training run needs beside its stage (`train.*`, `optim.*`, the batch settings, `seed`).

    `val_every`: validate every that many steps (> 0), only at the end (0) or never (< 0);
    `checkpoint_every` <= 0: no intermediate checkpoints; `time_limit_s`: stop at the first log
    point past that many seconds (None: no limit); `amp`: 'none', 'bf16', 'fp16' or 'auto'.
    """

    iterations: int
    seed: int
    optim: OptimSettings
    batches: BatchSettings
    log_every: int
    checkpoint_every: int
    val_every: int
    time_limit_s: float | None
    amp: str
    channels_last: bool
    progress: bool
    tensorboard: bool


def step_generator(seed: int, iteration: int, rank: int) -> torch.Generator:
    """The generator for one step's flips and occlusions: a pure function of (seed, iteration, rank)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + iteration) * 1_009 + rank)


class Trainer:
    """Runs a stage for `settings.iterations` steps, writing logs and checkpoints to `run_dir`.

    `validate` (default: the stage's) is any callable returning a dict of numbers or None; it runs
    every `settings.val_every` steps (if > 0) and at the end (unless val_every < 0), on the main
    process only. `record` (the resolved config, plain values) is kept in every checkpoint.
    """

    def __init__(
        self,
        stage: Stage,
        settings: TrainerSettings,
        run_dir: str | Path,
        info: distributed.DistInfo | None = None,
        validate: Callable[[], dict[str, float] | None] | None = None,
        record: dict[str, Any] | None = None,
    ) -> None:
        self.stage, self.settings, self.run_dir = stage, settings, Path(run_dir)
        self.record = record if record is not None else {}
        self.info = info or distributed.DistInfo()
        self.device = stage.device
        self.optim = settings.optim
        self.validate = validate if validate is not None else stage.validate
        self.module = stage.module.to(self.device)
        if settings.channels_last:
            # Same numbers, faster convolution kernels (benchmarks/step_time.py --layout).
            self.module.to(memory_format=torch.channels_last)
        self.params = [p for p in self.module.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(self.params, self.optim)
        requested = settings.amp
        self.amp = amp = resolve_amp(requested, self.device)
        if requested == "auto":
            log.info("train.amp=auto: %s on %s", amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if amp == "fp16" else None
        self.iteration = 0

    # -- checkpoints ---------------------------------------------------------------------------
    def payload(self) -> dict[str, Any]:
        """The checkpoint dict (tensors and plain values only)."""
        payload = {
            "format": FORMAT,
            "stage": self.stage.name,
            "model_spec": self.stage.model_spec(),
            "input_size": list(self.stage.frame_size),
            "state_dict": {k: v.detach().cpu() for k, v in self.module.state_dict().items()},
            "iteration": self.iteration,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {"iteration": self.iteration, "lr": self.optim.learning_rate(self.iteration)},
            "rng": rng_state(),
            "sampler": {"batches": self.iteration, "seed": self.settings.seed},
            "config": self.record,
            "data_fingerprint": self.stage.data_fingerprint(),
            **self.stage.checkpoint_extra(self.run_dir),
        }
        if self.scaler is not None:
            payload["scaler"] = self.scaler.state_dict()
        return payload

    def save(self, final: bool = False) -> None:
        if not self.info.is_main:
            return
        payload = self.payload()
        atomic_save(payload, self.run_dir / LAST_NAME)
        if final:
            atomic_save(payload, self.run_dir / FINAL_NAME)

    def restore(self) -> dict[str, Any] | None:
        """Load RUN_DIR/checkpoints/last.pt into the module and optimiser; returns its RNG state to apply."""
        path = self.run_dir / LAST_NAME
        if not path.is_file():
            raise UserError(f"--resume: {path} does not exist; start the run without --resume")
        payload, _ = load_checkpoint(path, "resume checkpoint")
        if payload["stage"] != self.stage.name or payload["model_spec"] != self.stage.model_spec():
            raise UserError(
                f"--resume: {path} holds a {payload['stage']} run of another model "
                f"({payload['model_spec']}); use a new --out directory"
            )
        load_weights(self.module, payload["state_dict"], path)
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scaler is not None and "scaler" in payload:
            self.scaler.load_state_dict(payload["scaler"])
        self.iteration = int(payload["iteration"])
        log.info("resuming %s at iteration %d", path, self.iteration)
        return payload["rng"]

    # -- the loop ------------------------------------------------------------------------------
    def _autocast(self):
        if self.amp == "none":
            return nullcontext()
        dtype = torch.bfloat16 if self.amp == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        """A collated batch with its tensors on the training device."""
        return {
            k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()
        }

    def step(self, model: nn.Module, batch: dict[str, Any]) -> dict[str, float]:
        """One optimisation step; returns the logged scalars as floats."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.optim.learning_rate(self.iteration)
        generator = step_generator(self.settings.seed, self.iteration, self.info.rank)
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss, logs = self.stage.compute(model, batch, generator)
        if not torch.isfinite(loss):
            hint = "; or train the teacher longer" if self.stage.name == "mimic" else ""
            raise DivergenceError(
                f"{self.stage.name}: loss is {loss.item()} at iteration {self.iteration}: training diverged; "
                f"lower optim.lr (now {self.optim.lr}) or set optim.grad_clip{hint}"
            )
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        clip = self.optim.grad_clip
        if clip:
            logs["grad_norm"] = torch.nn.utils.clip_grad_norm_(self.params, clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.iteration += 1
        out = {"loss": float(loss.detach())}
        out.update({k: float(v) for k, v in logs.items()})
        return out

    def run_validation(self, logger: RunLogger | None) -> dict[str, float] | None:
        if not self.info.is_main or self.validate is None:
            return None
        occlusion = self.stage.val_occlusion()
        shown = "holistic" if occlusion in (None, "none") else f"probes and gallery occluded: {occlusion}"
        metrics = self.validate()
        if metrics and logger is not None:
            logger.write(self.iteration, "val", metrics)
            log.info(
                "iteration %d validation (%s): %s",
                self.iteration,
                shown,
                ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()),
            )
        return metrics

    def fit(self, resume: bool = False, on_start: Callable[[], None] | None = None) -> dict[str, Any]:
        """Train to `settings.iterations`; returns {'iteration', 'train' (last logged means), 'val'}.

        `on_start` is called once the resume checkpoint and the data's batches are checked, before
        anything is written: the caller writes its own files there (`run.train`: config.yaml).
        """
        settings = self.settings
        total = settings.iterations
        saved_rng = self.restore() if resume else None
        # The loader is created before the RNG state is restored: creating it draws from torch's RNG.
        batches = training_batches(
            self.stage.data.train,
            settings.batches,
            settings.seed,
            start=self.iteration,
            rank=self.info.rank,
            world_size=self.info.world_size,
        )
        if on_start is not None:
            on_start()
        if saved_rng is not None:
            set_rng_state(saved_rng)
        model = distributed.wrap(self.module, self.info, self.device)
        self.module.train()
        logger = RunLogger(self.run_dir, settings.tensorboard) if self.info.is_main else None
        if logger is not None and resume:
            logger.write(self.iteration, "event", {"resumed": True})
        log_every = max(1, settings.log_every)
        ckpt_every, val_every, limit = settings.checkpoint_every, settings.val_every, settings.time_limit_s
        if ckpt_every <= 0 and self.info.is_main and total - self.iteration > log_every:
            log.warning("%s: train.checkpoint_every is %d: no checkpoint until the last step, so an "
                        "interrupted run starts again from step %d", self.stage.name, ckpt_every,
                        self.iteration)
        bar = None
        if self.info.is_main and settings.progress:
            from tqdm import tqdm

            bar = tqdm(
                total=total, initial=self.iteration, desc=self.stage.name, unit="step", dynamic_ncols=True
            )
        window: dict[str, float] = {}
        count, started, last = 0, time.perf_counter(), {}
        fit_started = started
        val_metrics = None
        try:
            while self.iteration < total:
                batch = self.to_device(next(batches))
                values = self.step(model, batch)
                for k, v in values.items():
                    window[k] = window.get(k, 0.0) + v
                count += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{values['loss']:.4f}")
                if self.iteration % log_every == 0 or self.iteration == total:
                    means = {k: v / count for k, v in window.items()}
                    if limit is not None:  # every rank must agree to stop: decided on the averaged flag
                        means["_over_time"] = float(time.perf_counter() - fit_started > limit)
                    means = distributed.mean_across(means, self.info, self.device)
                    over_time = means.pop("_over_time", 0.0) > 0
                    elapsed = time.perf_counter() - started
                    means["s_per_step"] = elapsed / count
                    means["lr"] = self.optim.learning_rate(self.iteration - 1)
                    if logger is not None:
                        logger.write(self.iteration, "train", means)
                    last, window, count, started = means, {}, 0, time.perf_counter()
                    if over_time and self.iteration < total:
                        log.warning("%s: train.time_limit_s=%g reached: stopping at iteration %d of %d",
                                    self.stage.name, limit, self.iteration, total)
                        if logger is not None:
                            logger.write(self.iteration, "event", {"time_limit_s": limit, "planned": total})
                        break
                if ckpt_every > 0 and self.iteration % ckpt_every == 0 and self.iteration < total:
                    self.save()
                if val_every > 0 and self.iteration % val_every == 0 and self.iteration < total:
                    paused = time.perf_counter()
                    if bar is not None:
                        bar.clear()
                    self.run_validation(logger)
                    distributed.barrier(self.info)
                    # the step rate (bar and log) counts training only, not the validation pause
                    started += time.perf_counter() - paused
                    if bar is not None:
                        bar.unpause()
            self.save(final=True)
            if bar is not None:  # closed first: validation shows its own bar, not a stalled one
                bar.close()
                bar = None
            val_metrics = self.run_validation(logger) if val_every >= 0 else None
        finally:
            if bar is not None:
                bar.close()
            if logger is not None:
                logger.close()
        if last and not all(math.isfinite(v) for v in last.values()):
            log.warning("non-finite values in the last training log: %s", last)
        return {"iteration": self.iteration, "train": last, "val": val_metrics}
