"""The config schema: every key a config may set, with its one default.

Types are checked against these defaults; ranges and size bounds (a positive learning rate, at most
1024 pixels a side, ...) by `config.check_values`, which names the key it refuses.

`mimicgait.engine.config` loads and checks configs against it; `mimicgait.engine.from_config` is the
one place that reads a loaded config into the typed parts training is built from.
"""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "model": {
        "encoder": "gaitbase",
        "encoder_kwargs": {},  # free-form: create_encoder(name, **encoder_kwargs)
        "label_smoothing": 0.1,
    },
    "data": {
        "subjects": None,  # e.g. "001-062" or a list; None: the partition's TRAIN_SET (else all)
        "split": "train",
        "partition": None,
        "val_subjects": None,  # e.g. "063-074": held out of training, used by validation
        "input_size": None,  # [H, W] the encoder sees; None: the data's frame size
        "crop": "none",  # 'opengait': cut a square frame's sides to the 64x44 aspect before resizing
        "ids_per_batch": 32,
        "seqs_per_id": 4,
        "frames": {"mode": "range", "frames": 30, "min_frames": 20, "max_frames": 40, "ordered": True},
        "min_frames": 1,
        "workers": 0,
        # per-sequence augmentation (engine/augment.py), probabilities; all frames of a sequence alike
        "flip": 0.5,  # horizontal flip
        "rotate": 0.0,  # rotation, uniform in [-rotate_degrees, rotate_degrees]
        "rotate_degrees": 10.0,
        "perspective": 0.0,  # perspective warp: each corner moves up to this share of the half-size
        "perspective_distortion": 0.1,
    },
    "occlusion": {
        "kinds": {"top": 0.5, "bottom": 0.5},  # free-form: kind -> probability; the rest is 'none'
        "amount_range": [0.4, 0.6],
        # crowd, object, cut: the fraction of the walker's silhouette pixels hidden, drawn from here
        "wild_range": [0.2, 0.6],
        "holistic_share": 0.0,  # share of unoccluded inputs (scales the kinds' probabilities down)
    },
    "loss": {
        "triplet_margin": 0.2,
        "ce_weight": 1.0,
        "occlusion_ce_weight": 1.0,  # occ-aware: the detector's type cross-entropy
        "kd": "mickd",  # mimic: 'mickd' or 'l2'
        "mickd_margin": 0.05,
        "mickd_positives": "all",  # 'all' or 'student-teacher'
        # True: Euclidean distance between L2-normalised embeddings (PML's default, so the public
        # code's); False: plain Euclidean distance on the flattened embeddings (the paper's text).
        "mickd_normalize": False,
        "amount_weight": 10.0,  # VEN: weight of the amount MSE next to the type cross-entropy
        "mimic_ce_weight": 0.0,  # mimic: weight of a BNNeck cross-entropy on the student (ablation; paper: 0)
    },
    "optim": {
        "name": "sgd",  # 'sgd' or 'adam'
        "lr": 0.1,
        "momentum": 0.9,
        "weight_decay": 5.0e-4,
        "nesterov": False,
        "milestones": [20000, 40000, 50000],  # iterations where the lr is multiplied by gamma
        "gamma": 0.1,
        "grad_clip": None,  # max global gradient norm, or None
    },
    "train": {
        "iterations": 60000,
        # wall-clock cap in seconds (None: none): at the first log point past it the run stops and
        # saves its final checkpoint early (the demo uses it to keep its time budget on a busy CPU)
        "time_limit_s": None,
        "log_every": 10,
        "checkpoint_every": 1000,  # 0: no intermediate checkpoints (only the final one; no resume point)
        "val_every": 0,  # 0: validate only at the end (when val_subjects are set); -1: never
        # 'none', 'bf16', 'fp16' (CUDA only) or 'auto' (bf16 where the CPU/GPU has it natively)
        "amp": "none",
        "device": "auto",  # 'auto', 'cpu', 'cuda', 'cuda:1', ...
        "progress": True,
        "tensorboard": True,  # TensorBoard scalars next to log.jsonl (skipped if not importable)
        "channels_last": True,  # 4-D weights in channels-last layout: faster convolutions
        "deterministic": False,
        # seconds a rank waits for the others in a collective (torchrun): a stopped or hung rank
        # then ends the job with a message instead of blocking it forever
        "dist_timeout_s": 1800,
    },
    "ven": {
        "feature_dim": 64,
    },
    "baseline": {
        # 'fresh' or 'teacher': Baseline-2 starts from a trained teacher (encoder and BNNeck), the
        # fair control for a mimic student initialised from the same teacher
        "init": "fresh",
        "teacher": None,  # teacher run directory or checkpoint for init 'teacher' (pipeline: its own)
    },
    "mimic": {
        "teacher": None,  # teacher run directory or checkpoint (relative to the config file or cwd)
        "ven": None,  # VEN run directory or checkpoint; needed when guidance is on
        "init": "fresh",  # 'fresh' or 'teacher': the student starts from the teacher's encoder
        "guidance": True,
        # what the saved model embeds with: 'guided' (paper), 'student' (public code) or 'routed'
        # (deployment: sequences the VEN finds unoccluded get the teacher's embedding)
        "inference": "guided",
    },
    "val": {
        "protocol": "casia-b",
        "occlusion": "top,bottom",  # kinds for the validation probes/gallery, or 'none'
        "batch_size": 8,
        "max_frames": None,
    },
    "pipeline": {  # `mimicgait pipeline`: see mimicgait.pipeline and docs/pipeline.md
        "stages": ["teacher", "ven", "baseline", "mimic"],  # trained in this order
        "overrides": {},  # free-form: stage -> {dotted key: value}, e.g. {ven: {optim.lr: 1.0e-4}}
        "variants": {},  # free-form: name -> {stage: STAGE, set: {dotted key: value}}
        "eval": {
            "subjects": None,  # e.g. "063-074"; None: pipeline.eval.split, else data.val_subjects
            "split": None,  # a partition split ('test', 'train') instead of subjects
            "occlusion": "top,bottom",
            # more kind sets, each a report per occluded paper-protocol report ('<report>-on-<kinds>'),
            # e.g. [crowd, object, cut]: how models trained on top+bottom generalise
            "also_occlusion": [],
            "seed": 0,
            # occlusion draws (seeds seed, seed+1, ...) of every occluded evaluation: reports hold
            # their mean, sample std and each draw's metrics
            "seeds": 1,
            "metric": "euc",
            "batch_size": 8,
            "max_frames": None,
            # 'bf16': embed under bfloat16 autocast (about twice as fast on CPUs with AVX512-BF16;
            # distances and ranking stay float32); 'none': float32 throughout; 'auto': bf16 where
            # the CPU has it natively
            "amp": "none",
            # where the evaluations embed: None follows train.device; or auto, cpu, cuda, cuda:N
            "device": None,
        },
    },
}

#: The training stages, in the order a pipeline trains them (`engine.stages.STAGES` implements them).
STAGE_NAMES: tuple[str, ...] = ("teacher", "ven", "baseline", "occ-aware", "mimic")

#: Paths of maps whose keys are not checked here.
FREE_FORM = {
    ("model", "encoder_kwargs"),
    ("occlusion", "kinds"),
    ("pipeline", "overrides"),  # checked by mimicgait.pipeline against this schema
    ("pipeline", "variants"),
}

#: Keys naming a run directory or checkpoint: a relative path that does not exist from the working
#: directory is taken relative to the config file that was loaded (`config.load_config`).
PATH_KEYS: tuple[tuple[str, str], ...] = (("mimic", "teacher"), ("mimic", "ven"), ("baseline", "teacher"))
