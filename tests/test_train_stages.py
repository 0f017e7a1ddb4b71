"""Every training stage end to end on a tiny generated dataset, resume equality, frozen parts, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import make_dataset, tiny_config

from mimicgait import cli
from mimicgait.engine.logging import read_log
from mimicgait.engine.run import train
from mimicgait.engine.schema import STAGE_NAMES
from mimicgait.errors import UserError
from mimicgait.models.checkpoint import load_checkpoint, load_for_inference
from mimicgait.models.spec import build_model


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A dataset plus trained teacher and VEN runs shared by the tests of this module."""
    root = tmp_path_factory.mktemp("runs")
    data = make_dataset(root / "data")
    train("teacher", tiny_config(), data, root / "teacher")
    train("ven", tiny_config("data.val_subjects=005-006"), data, root / "ven")
    return root


def _mimic_config(runs, *extra):
    return tiny_config(f"mimic.teacher={runs / 'teacher'}", f"mimic.ven={runs / 'ven'}", *extra)


def _sils():
    return torch.rand(3, 6, 32, 32).round()


def test_teacher_and_ven_runs_write_everything(runs):
    for stage in ("teacher", "ven"):
        run = runs / stage
        assert (run / "model.pt").is_file() and (run / "checkpoints" / "last.pt").is_file()
        assert (run / "config.yaml").is_file()
        payload, _ = load_checkpoint(run)
        assert payload["stage"] == stage and payload["iteration"] == 5
        assert payload["input_size"] == [32, 32] and payload["sampler"] == {"batches": 5, "seed": 0}
    records = read_log(runs / "ven")
    assert [r["iteration"] for r in records if r["split"] == "train"] == [1, 2, 3, 4, 5]
    val = [r for r in records if r["split"] == "val"]
    assert len(val) == 1 and 0.0 <= val[0]["type_accuracy"] <= 1.0 and val[0]["amount_mse"] >= 0.0
    model, meta = load_for_inference(runs / "teacher")
    assert meta["stage"] == "teacher" and meta["backbone"] == "gaitbase" and meta["input_size"] == [32, 32]
    assert model.embed(_sils(), torch.tensor([6, 4, 2])).shape == (3, 16, 4)
    with pytest.raises(ValueError, match="VEN checkpoint"):
        load_for_inference(runs / "ven")


@pytest.mark.parametrize("stage", ["baseline", "occ-aware"])
def test_occluded_recognition_stages(runs, stage, tmp_path):
    summary = train(stage, tiny_config(), runs / "data", tmp_path / stage)
    assert summary["iteration"] == 5 and torch.isfinite(torch.tensor(summary["train"]["loss"]))
    model, meta = load_for_inference(tmp_path / stage)
    assert meta["stage"] == stage and model.embed(_sils()).shape == (3, 16, 4)
    if stage == "occ-aware":
        assert "occlusion_ce" in summary["train"]


def test_mimic_trains_student_only_and_keeps_teacher_frozen(runs, tmp_path):
    """Built from explicit parts, without the config schema: the frozen parts by path, the loss as a
    module; the stage equals what `build_stage` makes of the tiny config."""
    from mimicgait.data.occlusion import OcclusionPolicy
    from mimicgait.engine.augment import Augment
    from mimicgait.engine.data import load_data
    from mimicgait.engine.from_config import build_stage, trainer_settings
    from mimicgait.engine.stages import BatchInputs, MimicStage, StageParts
    from mimicgait.engine.trainer import Trainer
    from mimicgait.engine.validation import ValSettings
    from mimicgait.losses import MiCKDLoss
    from mimicgait.models.preprocess import Preprocess

    data = load_data(str(runs / "data"))
    teacher_spec = load_checkpoint(runs / "teacher")[0]["model_spec"]
    inputs = BatchInputs(Preprocess.from_spec(teacher_spec["preprocess"]), Augment(flip=0.5),
                         OcclusionPolicy({"top": 0.5, "bottom": 0.5}), tuple(data.train.frame_size))
    validation = ValSettings(protocol="casia-b", occlusion="top,bottom", seed=0, batch_size=8,
                             max_frames=None, progress=False)
    parts = StageParts(data, inputs, validation, torch.device("cpu"))
    stage = MimicStage(parts, encoder=teacher_spec["encoder"], teacher=runs / "teacher", ven=runs / "ven",
                       kd=MiCKDLoss(), init="fresh", ce=None, ce_weight=0.0, inference="guided",
                       feature_dim=8)
    config = _mimic_config(runs)
    assert stage.model_spec() == build_stage("mimic", config, data, torch.device("cpu")).model_spec()
    names = [n for n, _ in stage.module.named_parameters()]
    assert names and all(n.startswith(("student.", "mixer.")) for n in names)
    teacher_before = {k: v.clone() for k, v in stage.module.teacher.state_dict().items()}
    ven_before = {k: v.clone() for k, v in stage.module.ven.state_dict().items()}
    Trainer(stage, trainer_settings(config), tmp_path / "mimic").fit()
    assert not stage.module.teacher.training and not stage.module.ven.training
    for before, module in ((teacher_before, stage.module.teacher), (ven_before, stage.module.ven)):
        for k, v in module.state_dict().items():  # includes BatchNorm running statistics
            assert torch.equal(v, before[k]), k
    payload, _ = load_checkpoint(tmp_path / "mimic")
    assert all(k.startswith(("student.", "mixer.")) for k in payload["state_dict"])
    reference = payload["teacher"]["path"]  # relative to the run directory
    assert not reference.startswith("/") and reference.endswith("teacher/model.pt")
    assert len(payload["ven"]["sha256"]) == 64
    guided, meta = load_for_inference(tmp_path / "mimic")
    student, meta_s = load_for_inference(tmp_path / "mimic", inference="student")
    assert meta["inference"] == "guided" and meta_s["inference"] == "student"
    sils = _sils()
    assert guided.embed(sils).shape == student.embed(sils).shape == (3, 16, 4)
    assert not torch.allclose(guided.embed(sils), student.embed(sils))


def test_mimic_from_teacher_init_without_guidance(runs, tmp_path):
    config = _mimic_config(runs, "mimic.init=teacher", "mimic.guidance=false", "loss.kd=l2",
                           "train.iterations=1")
    train("mimic", config, runs / "data", tmp_path / "m")
    payload, _ = load_checkpoint(tmp_path / "m")
    assert "ven" not in payload and not any(k.startswith("mixer.") for k in payload["state_dict"])
    _, meta = load_for_inference(tmp_path / "m")
    assert meta["inference"] == "student"


def test_resume_is_bit_for_bit(runs, tmp_path):
    straight = tmp_path / "straight"
    train("baseline", tiny_config("train.iterations=4", "train.checkpoint_every=0"), runs / "data", straight)
    split = tmp_path / "split"
    train("baseline", tiny_config("train.iterations=2"), runs / "data", split)
    train("baseline", tiny_config("train.iterations=4"), runs / "data", split, resume=True)
    a, _ = load_checkpoint(straight)
    b, _ = load_checkpoint(split)
    assert a["iteration"] == b["iteration"] == 4
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
    momentum_a = [s["momentum_buffer"] for s in a["optimizer"]["state"].values()]
    momentum_b = [s["momentum_buffer"] for s in b["optimizer"]["state"].values()]
    assert all(torch.equal(x, y) for x, y in zip(momentum_a, momentum_b, strict=True))


def test_time_limit_stops_early_with_a_final_checkpoint(runs, tmp_path):
    config = tiny_config("train.iterations=50", "train.log_every=2", "train.time_limit_s=0")
    summary = train("baseline", config, runs / "data", tmp_path / "capped")
    assert summary["iteration"] == 2  # the first log point is past a zero limit
    payload, _ = load_checkpoint(tmp_path / "capped")
    assert payload["iteration"] == 2
    events = [r for r in read_log(tmp_path / "capped") if r["split"] == "event"]
    assert events and events[-1]["planned"] == 50


def test_bad_inputs_fail_before_the_first_step(runs, tmp_path):
    data = runs / "data"
    with pytest.raises(ValueError, match="must match the teacher's architecture"):
        train("mimic", _mimic_config(runs, "model.encoder_kwargs={channels: [4, 8, 8, 8], parts: 4, "
                                     "out_channels: 16}"), data, tmp_path / "a")
    with pytest.raises(ValueError, match="must match the teacher's architecture"):
        train("mimic", _mimic_config(runs, "data.input_size=[32, 22]"), data, tmp_path / "b")
    with pytest.raises(ValueError, match="occlusion classes"):
        train("mimic", _mimic_config(runs, "occlusion.kinds={top: 0.3, middle: 0.3}"), data, tmp_path / "c")
    with pytest.raises(UserError, match="does not exist"):
        train("mimic", _mimic_config(runs, f"mimic.ven={tmp_path / 'nowhere'}"), data, tmp_path / "d")
    with pytest.raises(ValueError, match="only 6 of 6 subjects|a batch needs 8 subjects"):
        train("teacher", tiny_config("data.ids_per_batch=8"), data, tmp_path / "e")
    with pytest.raises(ValueError, match="a batch needs 4 subjects with 9 sequences"):
        train("teacher", tiny_config("data.seqs_per_id=9"), data, tmp_path / "f")
    for name in "abcdef":
        assert not (tmp_path / name / "checkpoints").exists()
    with pytest.raises(ValueError, match="already holds a run"):
        train("teacher", tiny_config(), data, runs / "teacher")


def test_cli_train_and_its_errors(runs, tmp_path, capsys):
    out = tmp_path / "cli"
    code = cli.main(["train", "teacher", "--config", "tiny", "--data", str(runs / "data"), "--out", str(out),
                     "--set", "train.iterations=2", "--set", "train.progress=false"])
    assert code == 0 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["iteration"] == 2
    code = cli.main(["train", "teacher", "--config", "tiny", "--data", str(runs / "data"), "--out", str(out),
                     "--set", "train.iterations=3", "--set", "train.progress=false", "--resume"])
    assert code == 0 and load_checkpoint(out)[0]["iteration"] == 3
    code = cli.main(["train", "teacher", "--config", "tiny", "--data", str(runs / "data"), "--out",
                     str(tmp_path / "x"), "--set", "optim.milestone=[1]"])
    assert code == 2 and "did you mean 'milestones'" in capsys.readouterr().err


def test_baseline_can_start_from_the_teacher(runs, tmp_path):
    """baseline.init=teacher: the fair control starts with the teacher's weights (encoder and BNNeck)
    and records which teacher; a teacher of another shape is refused by name."""
    from mimicgait.engine.from_config import build_stage, training_data

    config = tiny_config("baseline.init=teacher", f"baseline.teacher={runs / 'teacher'}")
    data = training_data(config, runs / "data")
    stage = build_stage("baseline", config, data, torch.device("cpu"))
    teacher, _ = load_checkpoint(runs / "teacher")
    for key, value in stage.module.state_dict().items():
        torch.testing.assert_close(value, teacher["state_dict"][key])
    assert stage.checkpoint_extra(tmp_path)["init"]["teacher"]["sha256"]
    fresh = build_stage("baseline", {**config, "baseline": {"init": "fresh", "teacher": None}}, data,
                        torch.device("cpu"))
    assert any(not torch.equal(v, teacher["state_dict"][k]) for k, v in fresh.module.state_dict().items())
    wide = tiny_config("baseline.init=teacher", f"baseline.teacher={runs / 'teacher'}",
                       "model.encoder_kwargs.out_channels=8")
    with pytest.raises(UserError, match="baseline.teacher"):
        build_stage("baseline", wide, data, torch.device("cpu"))


def test_occ_aware_from_the_teacher_starts_out_as_the_teacher(runs, tmp_path):
    """baseline.init=teacher for Occlusion-Aware: encoder and head are the teacher's and the fusion
    passes the encoder's features through, so the fresh network embeds exactly as the teacher."""
    from mimicgait.engine.from_config import build_stage, training_data

    config = tiny_config("baseline.init=teacher", f"baseline.teacher={runs / 'teacher'}")
    stage = build_stage("occ-aware", config, training_data(config, runs / "data"), torch.device("cpu"))
    teacher, _ = load_checkpoint(runs / "teacher")
    net = build_model(teacher["model_spec"])
    net.load_state_dict(teacher["state_dict"])
    x = torch.rand(2, 6, *stage.input_size)
    stage.module.eval()
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(stage.module.embed(x), net.embed(x))
    assert stage.checkpoint_extra(tmp_path)["init"]["teacher"]["sha256"]


@pytest.mark.parametrize("name", STAGE_NAMES)
def test_every_stage_builds_from_the_config_and_its_spec_rebuilds_the_model(runs, name):
    """Over the registry: `build_stage` makes each stage from the tiny config, and the model spec it
    would save rebuilds a module with the same parameters and buffers (what loading relies on)."""
    from mimicgait.engine.from_config import build_stage, training_data
    from mimicgait.engine.stages import STAGES

    assert name in STAGES
    config = _mimic_config(runs, "baseline.init=teacher", f"baseline.teacher={runs / 'teacher'}")
    stage = build_stage(name, config, training_data(config, runs / "data"), torch.device("cpu"))
    assert isinstance(stage, STAGES[name]) and stage.name == name
    frozen = {"teacher": stage.module.teacher, "ven": stage.module.ven} if name == "mimic" else {}
    rebuilt = build_model(stage.model_spec(), **frozen)
    assert set(rebuilt.state_dict()) == set(stage.module.state_dict())


#: Each stage's loss terms with their weights under WEIGHTS, and what it logs beside them.
WEIGHTS = ("loss.ce_weight=0.7", "loss.occlusion_ce_weight=0.3", "loss.amount_weight=4.0",
           "loss.mimic_ce_weight=0.5")
TERMS = {
    "teacher": ({"triplet": 1.0, "ce": 0.7}, {"triplet_active", "accuracy"}),
    "ven": ({"type_ce": 1.0, "amount_mse": 4.0}, {"type_accuracy"}),
    "baseline": ({"triplet": 1.0, "ce": 0.7}, {"triplet_active", "accuracy"}),
    "occ-aware": ({"triplet": 1.0, "ce": 0.7, "occlusion_ce": 0.3},
                  {"triplet_active", "accuracy", "occlusion_accuracy"}),
    "mimic": ({"kd": 1.0, "ce": 0.5}, set()),
}


@pytest.mark.parametrize("name", STAGE_NAMES)
def test_a_stage_sums_its_weighted_losses_and_logs_every_term(runs, name):
    """A stage lists its weighted terms; one step's loss is their weighted sum and every term is
    logged under its name (the trainer logs these keys as they are)."""
    from mimicgait.engine.data import training_batches
    from mimicgait.engine.from_config import build_stage, trainer_settings, training_data

    config = _mimic_config(runs, *WEIGHTS)
    data = training_data(config, runs / "data")
    stage = build_stage(name, config, data, torch.device("cpu"))
    weights, others = TERMS[name]
    assert {n: term.weight for n, term in stage.losses.items()} == weights
    settings = trainer_settings(config)
    batch = next(training_batches(data.train, settings.batches, settings.seed))
    loss, logs = stage.compute(stage.module, batch, torch.Generator().manual_seed(0))
    assert set(logs) == set(weights) | others
    assert loss.requires_grad
    expected = sum(w * logs[n] for n, w in weights.items())
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-6, atol=0.0)


def test_the_stage_registry_holds_the_stage_names_and_a_new_stage_is_one_class(capsys):
    from mimicgait.cli import main
    from mimicgait.engine.config import load_config
    from mimicgait.engine.stages import STAGES, Stage, register_stage, stage_order
    from mimicgait.pipeline.plan import plan

    assert set(STAGES) == set(STAGE_NAMES) and stage_order() == STAGE_NAMES

    @register_stage
    class EchoStage(Stage):
        name = "echo"

    try:
        assert stage_order() == (*STAGE_NAMES, "echo")
        assert [j.name for j in plan(load_config("tiny", ["pipeline.stages=[echo, teacher]"]))] == [
            "teacher", "echo"]
        assert main(["train", "--help"]) == 0 and "echo" in capsys.readouterr().out
    finally:
        del STAGES["echo"]


@pytest.mark.parametrize("stage,setting", [("mimic", "loss.kd=l3"), ("mimic", "mimic.init=copy"),
                                           ("mimic", "mimic.inference=bogus"),
                                           ("occ-aware", "baseline.init=copy")])
def test_a_bad_choice_is_refused_before_any_data_is_read(stage, setting, tmp_path, capsys):
    key = setting.split("=")[0]
    code = cli.main(["train", stage, "--config", "tiny", "--data", str(tmp_path / "no-data"),
                     "--out", str(tmp_path / "run"), "--set", setting])
    err = capsys.readouterr().err
    assert code == 2 and f"{key} must be one of" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
