"""The one place that reads a loaded config into the typed parts training is built from.

A stage never sees the config: `build_stage` reads the encoder spec, the batch inputs
(preprocessing, augmentation, occlusion policy), the loss modules with their weights, the frozen
parts' paths and the validation settings, and hands them to the stage's constructor;
`trainer_settings` reads what the trainer needs into a `TrainerSettings`. Each key has one default,
in `engine.schema`; a config from `load_config` has every key, so every key is read directly.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch

from mimicgait.data.occlusion import OcclusionPolicy
from mimicgait.data.samplers import FrameSampler
from mimicgait.engine.augment import Augment
from mimicgait.engine.config import ConfigError
from mimicgait.engine.data import BatchSettings, DataSelection, TrainingData, TrainingDataCache
from mimicgait.engine.optim import OptimSettings
from mimicgait.engine.stages import STAGES, BatchInputs, Stage, StageParts
from mimicgait.engine.stages.mimic import INITS
from mimicgait.engine.trainer import TrainerSettings
from mimicgait.engine.validation import ValSettings
from mimicgait.errors import UserError
from mimicgait.losses import DISTILLATION_LOSSES, BNNeckCrossEntropy, PartTripletLoss
from mimicgait.models.mimic import INFERENCE_MODES
from mimicgait.models.preprocess import Preprocess


def occlusion_policy(occlusion: dict[str, Any]) -> OcclusionPolicy:
    """The `occlusion` section's policy; `holistic_share` scales the kinds' probabilities down to
    leave that share of sequences unoccluded."""
    kinds = {str(k): float(v) for k, v in (occlusion["kinds"] or {}).items() if k != "none"}
    share = float(occlusion["holistic_share"])
    if not 0.0 <= share <= 1.0:
        raise UserError(f"occlusion.holistic_share must lie in [0, 1], got {share}")
    total = sum(kinds.values())
    if not kinds or total <= 0:
        raise UserError(
            "occlusion.kinds is empty; give kinds with probabilities, e.g. {top: 0.5, bottom: 0.5}"
        )
    if share > 0:
        scale = (1.0 - share) / total if total > 1.0 - share else 1.0
        kinds = {k: v * scale for k, v in kinds.items()}
    lo, hi = occlusion["amount_range"]
    wild_lo, wild_hi = occlusion["wild_range"]
    return OcclusionPolicy(kinds, amount_range=(float(lo), float(hi)),
                           wild_range=(float(wild_lo), float(wild_hi)))


def distillation_loss(loss: dict[str, Any]) -> torch.nn.Module:
    """The registered distillation loss `loss.kd`, given the `loss.<kd>_<option>` keys its class
    declares (MiCKD: loss.mickd_margin, loss.mickd_positives, loss.mickd_normalize)."""
    name = loss["kd"]
    cls = DISTILLATION_LOSSES[name]
    declared = inspect.signature(cls).parameters
    return cls(**{option: loss[f"{name}_{option}"] for option in declared if f"{name}_{option}" in loss})


def _choice(value: str, key: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UserError(f"{key} must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
    return value


def check_stage_config(stage: str, config: dict[str, Any]) -> None:
    """Refuse settings `stage` cannot train with, before any data is read (`UserError`)."""
    if stage not in STAGES:
        raise UserError(f"unknown stage {stage!r}; choose from {', '.join(STAGES)}")
    if stage == "mimic":
        _choice(config["loss"]["kd"], "loss.kd", tuple(DISTILLATION_LOSSES))
        _choice(config["mimic"]["init"], "mimic.init", INITS)
        _choice(config["mimic"]["inference"], "mimic.inference", INFERENCE_MODES)
    if stage in ("baseline", "occ-aware"):
        _choice(config["baseline"]["init"], "baseline.init", INITS)
    if not STAGES[stage].needs_pairs:
        return
    data = config["data"]
    for key, what in (("ids_per_batch", "subjects (for a negative)"),
                      ("seqs_per_id", "sequences per subject (for a positive pair)")):
        if int(data[key]) < 2:
            raise ConfigError(
                f"data.{key}={data[key]}: the {stage} stage's loss compares sequences and "
                f"needs at least 2 {what} in a batch; --set data.{key}=2 or more"
            )


def data_selection(config: dict[str, Any]) -> DataSelection:
    """Which sequences `data.*` trains and validates on."""
    data = config["data"]
    return DataSelection(partition=data["partition"], subjects=data["subjects"], split=data["split"],
                         val_subjects=data["val_subjects"], min_frames=int(data["min_frames"]))


def training_data(
    config: dict[str, Any], data_dir: str | Path, cache: TrainingDataCache | None = None
) -> TrainingData:
    """The training and validation stores `data.*` selects from `data_dir`, from `cache` when the
    caller shares one (a pipeline's jobs), else from the dataset opened here."""
    if cache is None:
        cache = TrainingDataCache(data_dir)
    elif Path(cache.data_dir) != Path(data_dir):
        raise ValueError(f"training data of {cache.data_dir} given for a run on {data_dir}")
    return cache.training(data_selection(config))


def batch_inputs(config: dict[str, Any], frame_size: tuple[int, int], occluded: bool) -> BatchInputs:
    """Preprocessing, augmentation and (for a stage that trains on occluded input) the policy."""
    data = config["data"]
    size = data["input_size"]
    return BatchInputs(
        preprocess=Preprocess(data["crop"], tuple(size) if size is not None else None),
        augment=Augment(
            flip=float(data["flip"]),
            rotate=float(data["rotate"]),
            rotate_degrees=float(data["rotate_degrees"]),
            perspective=float(data["perspective"]),
            perspective_distortion=float(data["perspective_distortion"]),
        ),
        policy=occlusion_policy(config["occlusion"]) if occluded else None,
        frame_size=(int(frame_size[0]), int(frame_size[1])),
    )


def encoder_spec(config: dict[str, Any], inputs: BatchInputs) -> dict[str, Any]:
    """`model.encoder` with its keyword arguments, `input_size` set from the data and preprocessing."""
    model = config["model"]
    kwargs = dict(model["encoder_kwargs"] or {})
    given = kwargs.get("input_size")
    if given is not None and tuple(given) != inputs.input_size:
        raise UserError(
            f"model.encoder_kwargs.input_size {list(given)} differs from the input the data gives "
            f"({list(inputs.input_size)} from frames {list(inputs.frame_size)}, "
            f"data.crop={inputs.preprocess.crop}, "
            f"data.input_size={config['data']['input_size']}); set data.input_size instead"
        )
    kwargs["input_size"] = list(inputs.input_size)
    return {"name": model["encoder"], **kwargs}


def val_settings(config: dict[str, Any], occluded: bool) -> ValSettings:
    """Validation as `val.*` sets it; a stage trained on holistic input validates holistically."""
    val = config["val"]
    return ValSettings(
        protocol=val["protocol"],
        occlusion=val["occlusion"] if occluded else "none",
        seed=int(config["seed"]),
        batch_size=int(val["batch_size"]),
        max_frames=val["max_frames"],
        progress=bool(config["train"]["progress"]),
    )


def trainer_settings(config: dict[str, Any]) -> TrainerSettings:
    """What `Trainer` needs: `train.*`, `optim.*`, the batch settings and the seed."""
    train, optim, data = config["train"], config["optim"], config["data"]
    frames = data["frames"]
    clip, limit = optim["grad_clip"], train["time_limit_s"]
    return TrainerSettings(
        iterations=int(train["iterations"]),
        seed=int(config["seed"]),
        optim=OptimSettings(
            name=optim["name"],
            lr=float(optim["lr"]),
            momentum=float(optim["momentum"]),
            weight_decay=float(optim["weight_decay"]),
            nesterov=bool(optim["nesterov"]),
            milestones=tuple(int(m) for m in optim["milestones"] or []),
            gamma=float(optim["gamma"]),
            grad_clip=float(clip) if clip else None,
        ),
        batches=BatchSettings(
            ids_per_batch=int(data["ids_per_batch"]),
            seqs_per_id=int(data["seqs_per_id"]),
            frames=FrameSampler(mode=frames["mode"], frames=int(frames["frames"]),
                                min_frames=int(frames["min_frames"]), max_frames=int(frames["max_frames"]),
                                ordered=bool(frames["ordered"])),
            workers=int(data["workers"]),
        ),
        log_every=int(train["log_every"]),
        checkpoint_every=int(train["checkpoint_every"]),
        val_every=int(train["val_every"]),
        time_limit_s=None if limit is None else float(limit),
        amp=train["amp"],
        channels_last=bool(train["channels_last"]),
        progress=bool(train["progress"]),
        tensorboard=bool(train["tensorboard"]),
    )


def _run_path(value: str | None, key: str, why: str) -> Path:
    """The run directory or checkpoint a path key names (`load_config` resolved it)."""
    if not value:
        raise UserError(f"{why} needs {key}: a run directory or checkpoint (--set {key}=RUN_DIR)")
    return Path(value)


def build_stage(stage: str, config: dict[str, Any], data: TrainingData, device: torch.device) -> Stage:
    """The stage named `stage`, built from the parts `config` sets, on `data`, for `device`."""
    check_stage_config(stage, config)  # the choices read below are valid from here on
    cls = STAGES[stage]
    inputs = batch_inputs(config, tuple(data.train.frame_size), cls.occluded)
    parts = StageParts(data, inputs, val_settings(config, cls.occluded), device)
    loss, model = config["loss"], config["model"]
    if stage == "ven":
        return cls(parts, feature_dim=int(config["ven"]["feature_dim"]),
                   amount_weight=float(loss["amount_weight"]))
    encoder = encoder_spec(config, inputs)
    ce = BNNeckCrossEntropy(float(model["label_smoothing"]))
    if stage == "mimic":
        mimic = config["mimic"]
        kd = distillation_loss(loss)
        ce_weight = float(loss["mimic_ce_weight"])
        return cls(
            parts,
            encoder=encoder,
            teacher=_run_path(mimic["teacher"], "mimic.teacher", "the mimic stage"),
            ven=_run_path(mimic["ven"], "mimic.ven", "the mimic stage") if mimic["guidance"] else None,
            kd=kd,
            init=mimic["init"],
            ce=ce if ce_weight > 0 else None,
            ce_weight=ce_weight,
            inference=mimic["inference"],
            feature_dim=int(config["ven"]["feature_dim"]),
        )
    triplet = PartTripletLoss(float(loss["triplet_margin"]))
    recognition: dict[str, Any] = dict(encoder=encoder, triplet=triplet, ce=ce,
                                       ce_weight=float(loss["ce_weight"]))
    if stage == "teacher":
        return cls(parts, **recognition)
    baseline = config["baseline"]
    teacher = None
    if baseline["init"] == "teacher":
        teacher = _run_path(baseline["teacher"], "baseline.teacher", "baseline.init=teacher")
    if stage == "occ-aware":
        recognition.update(feature_dim=int(config["ven"]["feature_dim"]),
                           occlusion_ce_weight=float(loss["occlusion_ce_weight"]))
    return cls(parts, init_teacher=teacher, **recognition)
