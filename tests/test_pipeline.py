"""`mimicgait pipeline`: job planning and config layering, end to end on tiny synthetic data, skip/resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mimicgait.cli import main
from mimicgait.engine.config import ConfigError, load_config
from mimicgait.pipeline import (
    Job,
    eval_subjects,
    evaluations,
    expand,
    job_config,
    make_plan,
    plan,
    run_pipeline,
    train_jobs,
)

TINY = """
base: tiny
data: {val_subjects: "005-006"}
train: {iterations: 2, checkpoint_every: 1, val_every: -1}
pipeline:
  stages: [teacher, ven, baseline, mimic]
  overrides: {ven: {optim.name: adam, optim.lr: 1.0e-3, train.iterations: 3}}
  variants:
    mimic-ce: {stage: mimic, set: {loss.mimic_ce_weight: 1.0}}
  eval: {batch_size: 32}
"""

REPORTS = [
    "teacher-holistic", "baseline1", "baseline1-holistic-gallery", "baseline2", "baseline2-holistic-gallery",
    "baseline2-holistic",
    "mimic", "mimic-holistic-gallery", "mimic-holistic", "mimic-student", "mimic-student-holistic-gallery",
    "mimic-student-holistic", "mimic-routed", "mimic-routed-holistic-gallery", "mimic-routed-holistic",
    "mimic-ce",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    from mimicgait.data.synthetic import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("synth"), subjects=6, seed=0, frames=10, size=32,
                            views=[0, 90, 180], progress=False)


@pytest.fixture()
def config_file(tmp_path) -> Path:
    path = tmp_path / "tiny-pipeline.yaml"
    path.write_text(TINY)
    return path


# -- planning and config layering (no training) ------------------------------------------------------
def test_plan_orders_stages_then_variants(config_file):
    config = load_config(config_file, ["pipeline.stages=[mimic, teacher, ven]"])
    assert [(j.name, j.stage) for j in plan(config)] == [
        ("teacher", "teacher"), ("ven", "ven"), ("mimic", "mimic"), ("mimic-ce", "mimic")
    ]


def test_job_config_layers_overrides_and_fills_mimic_paths(config_file, tmp_path):
    config = load_config(config_file)
    names = [j.name for j in plan(config)]
    ven = job_config(config, Job("ven", "ven"), tmp_path, ["optim.lr=0.5"], names)
    assert ven["optim"]["name"] == "adam" and ven["train"]["iterations"] == 3
    assert ven["optim"]["lr"] == 0.5  # --set applies after pipeline.overrides
    teacher = job_config(config, Job("teacher", "teacher"), tmp_path, (), names)
    assert teacher["optim"]["name"] == "sgd" and teacher["train"]["iterations"] == 2
    variant = Job("mimic-cls", "mimic", expand({"mimic.ven": "ven-cls", "loss": {"kd": "l2"}}, "test"))
    mimic = job_config(config, variant, tmp_path, ["loss.kd=mickd"], [*names, "ven-cls"])
    assert mimic["loss"]["kd"] == "l2"  # the variant's set wins over --set
    assert mimic["mimic"]["teacher"] == str(tmp_path / "teacher")
    assert mimic["mimic"]["ven"] == str(tmp_path / "ven-cls")


def test_bad_pipeline_sections_are_refused(config_file):
    with pytest.raises(ConfigError, match="unknown stage 'techer'"):
        plan(load_config(config_file, ["pipeline.stages=[techer]"]))
    with pytest.raises(ConfigError, match="did you mean 'optim'"):
        expand({"optm.lr": 0.1}, "pipeline.overrides.ven")
    config = load_config(config_file)
    config["pipeline"]["variants"] = {"teacher": {"stage": "mimic", "set": {}}}
    with pytest.raises(ConfigError, match="plain directory name"):
        plan(config)
    config["pipeline"]["variants"] = {"x": {"stage": "mimic", "sets": {}}}
    with pytest.raises(ConfigError, match="unknown key"):
        plan(config)


def test_unguided_mimic_is_evaluated_as_student_only(config_file, tmp_path):
    config = load_config(config_file, ["mimic.guidance=false"])
    names = [e.name for e in evaluations(config, tmp_path)]
    assert "mimic-student" in names and "mimic" not in names and "mimic-routed" not in names
    holistic = next(e for e in evaluations(config, tmp_path) if e.name == "mimic-student-holistic")
    assert holistic.inference == "student" and not holistic.occluded


def test_evaluation_subjects_prefer_the_test_split_then_the_validation_subjects(config_file, data_dir):
    from mimicgait.data.sources import open_dataset

    config = load_config(config_file)
    test = json.loads((data_dir / "partition.json").read_text())["TEST_SET"]
    assert eval_subjects(config, open_dataset(data_dir)) == test  # the whole dataset: its test split
    config = load_config(config_file, ["pipeline.eval.subjects='004'"])
    assert eval_subjects(config, open_dataset(data_dir)) == ["004"]


def test_no_evaluation_subjects_is_a_clear_error(config_file, data_dir, tmp_path):
    bare = tmp_path / "no-partition"  # the same subjects without a partition file
    bare.mkdir()
    for file in data_dir.glob("*.npz"):
        (bare / file.name).symlink_to(file)
    from mimicgait.data.sources import open_dataset

    assert eval_subjects(load_config(config_file), open_dataset(bare)) == ["005", "006"]
    config = load_config(config_file, ["data.val_subjects=null"])
    with pytest.raises(ValueError, match="data.val_subjects"):
        run_pipeline(config, bare, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "teacher").exists()  # refused before training anything


# -- end to end ------------------------------------------------------------------------------------
def test_pipeline_end_to_end_then_rerun_skips(config_file, data_dir, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["pipeline", "--config", str(config_file), "--data", str(data_dir), "--out", str(run),
                 "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "Baseline-2" in out and "RP rank1.NM" in out and "retention rank1.NM" in out
    for name in ["teacher", "ven", "baseline", "mimic", "mimic-ce"]:
        assert (run / name / "model.pt").is_file()
    test_subjects = json.loads((data_dir / "partition.json").read_text())["TEST_SET"]
    for name in REPORTS:
        report = json.loads((run / "reports" / f"{name}.json").read_text())
        assert report["pipeline"]["settings"]["subjects"] == test_subjects
        assert set(report["metrics"]) >= {"rank1.NM", "rank1.BG", "rank1.CL"}
    holistic = json.loads((run / "reports" / "baseline1-holistic-gallery.json").read_text())
    assert holistic["occlusion"]["gallery"] == "none" and holistic["occlusion"]["kinds"] == ["top", "bottom"]
    assert json.loads((run / "reports" / "mimic-student.json").read_text())["meta"]["inference"] == "student"
    assert json.loads((run / "reports" / "mimic-routed.json").read_text())["meta"]["inference"] == "routed"
    ce = torch.load(run / "mimic-ce" / "model.pt", weights_only=True)
    assert any(k.startswith("ce_head.") for k in ce["state_dict"])  # the MiCKD + XE variant trained a head
    summary = (run / "summary.md").read_text()
    assert "| Mimic |" in summary and "| mimic-ce |" in summary
    for plot in ["cmc_NM.png", "per_kind.png", "holistic-gallery/cmc_NM.png", "mimic/views_NM.png"]:
        assert (run / "plots" / plot).is_file()

    stamps = {p: p.stat().st_mtime_ns for p in list(run.glob("*/model.pt")) + list(run.glob("reports/*"))}
    result = run_pipeline(load_config(config_file), data_dir, run, progress=False)
    assert set(result["jobs"].values()) == {"skipped"}
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing retrained or re-evaluated


def test_interrupted_stage_is_resumed(config_file, data_dir, tmp_path):
    config = load_config(config_file)
    run = tmp_path / "run"
    sets = ["pipeline.stages=[teacher]", "pipeline.variants={}", "train.checkpoint_every=1"]
    assert train_jobs(make_plan(config, run, [*sets, "train.iterations=2"]), data_dir, run) == {
        "teacher": "trained"}
    (run / "teacher" / "model.pt").unlink()  # as if killed after the checkpoint of iteration 2
    assert train_jobs(make_plan(config, run, [*sets, "train.iterations=3"]), data_dir, run) == {
        "teacher": "resumed"}
    assert torch.load(run / "teacher" / "model.pt", weights_only=True)["iteration"] == 3
    records = [json.loads(line) for line in (run / "teacher" / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records if r.get("resumed")] == [2]
    assert train_jobs(make_plan(config, run, sets), data_dir, run) == {"teacher": "skipped"}


def test_a_pipeline_run_opens_the_dataset_once(config_file, data_dir, tmp_path, monkeypatch):
    """The training jobs and the evaluation share one opened dataset, and jobs that select the same
    subjects share their stores: two jobs load the training and validation stores once."""
    import mimicgait.data.sources as sources
    from mimicgait.data.store import SequenceStore

    opened, loaded = [], []
    real_open, real_load = sources.open_dataset, SequenceStore.from_dataset.__func__

    def counted_open(*args, **kwargs):
        opened.append(args)
        return real_open(*args, **kwargs)

    def counted_load(cls, *args, **kwargs):
        loaded.append(kwargs.get("subjects"))
        return real_load(cls, *args, **kwargs)

    monkeypatch.setattr(sources, "open_dataset", counted_open)
    monkeypatch.setattr(SequenceStore, "from_dataset", classmethod(counted_load))
    sets = ["pipeline.stages=[teacher]", "train.iterations=1",
            "pipeline.variants={teacher-b: {stage: teacher, set: {optim.lr: 0.05}}}"]
    result = run_pipeline(load_config(config_file), data_dir, tmp_path / "run", sets, progress=False)
    assert result["jobs"] == {"teacher": "trained", "teacher-b": "trained"}
    assert len(opened) == 1
    assert len(loaded) == 3, loaded  # training and validation stores for both jobs, then evaluation's


def test_seeds_average_the_papers_protocol_over_occlusion_draws(config_file, data_dir, tmp_path):
    import statistics

    run = tmp_path / "run"
    sets = ["pipeline.stages=[teacher]", "pipeline.variants={}", "pipeline.eval.seeds=3"]
    run_pipeline(load_config(config_file), data_dir, run, sets, progress=False)
    paper = json.loads((run / "reports" / "baseline1.json").read_text())
    assert paper["seeds"] == [0, 1, 2] and [s["seed"] for s in paper["per_seed"]] == [0, 1, 2]
    draws = [s["metrics"]["rank1.NM"] for s in paper["per_seed"]]
    assert paper["metrics"]["rank1.NM"] == pytest.approx(statistics.mean(draws))
    assert paper["metrics_std"]["rank1.NM"] == pytest.approx(statistics.stdev(draws))
    # the holistic gallery setting has the same draws; holistic input is one evaluation
    assert json.loads((run / "reports" / "baseline1-holistic-gallery.json").read_text())["seeds"] == [0, 1, 2]
    holistic = json.loads((run / "reports" / "teacher-holistic.json").read_text())
    assert "seeds" not in holistic and holistic["seed"] == 0
    assert "±" in (run / "summary.md").read_text()


def test_other_occlusions_are_evaluated_and_summarised_apart(config_file, data_dir, tmp_path):
    run = tmp_path / "run"
    sets = ["pipeline.stages=[teacher]", "pipeline.variants={}", "pipeline.eval.also_occlusion=[cut, crowd]"]
    run_pipeline(load_config(config_file), data_dir, run, sets, progress=False)
    for kind in ("cut", "crowd"):
        report = json.loads((run / "reports" / f"baseline1-on-{kind}.json").read_text())
        assert report["pipeline"]["settings"]["occlusion"] == kind
        assert set(report["counts"]["probe_kinds"]) == {kind}
    assert not (run / "reports" / "baseline1-holistic-gallery-on-cut.json").exists()
    summary = (run / "summary.md").read_text()
    assert "## Occluded by cut instead" in summary and "## Occluded by crowd instead" in summary


def test_an_unknown_other_occlusion_is_refused_before_training(config_file, data_dir, tmp_path):
    with pytest.raises(ConfigError, match="also_occlusion.*crwd"):
        run_pipeline(load_config(config_file), data_dir, tmp_path / "run",
                     ["pipeline.eval.also_occlusion=[crwd]"], progress=False)
    assert not (tmp_path / "run" / "teacher").exists()


def test_wild_kinds_train_a_ven_and_mimic_of_their_own(config_file, data_dir, tmp_path):
    """The adaptability jobs of configs/casia-b/cpu-wild.yaml, at tiny size: a VEN and a mimic
    trained with crowd, object and cut in the policy (crowd drawing other training walkers)."""
    wild = "{top: 0.2, bottom: 0.2, crowd: 0.2, object: 0.2, cut: 0.2}"
    variants = (f"pipeline.variants={{ven-wild: {{stage: ven, set: {{occlusion.kinds: {wild}}}}}, "
                f"mimic-wild: {{stage: mimic, set: {{occlusion.kinds: {wild}, mimic.ven: ven-wild}}}}}}")
    run = tmp_path / "run"
    run_pipeline(load_config(config_file), data_dir, run,
                 ["pipeline.stages=[teacher, ven]", variants, "pipeline.eval.also_occlusion=[object]"],
                 progress=False)
    report = json.loads((run / "reports" / "mimic-wild.json").read_text())
    assert report["pipeline"]["settings"]["occlusion"] == "top,bottom"
    assert (run / "reports" / "mimic-wild-on-object.json").is_file()
    ven = torch.load(run / "ven-wild" / "model.pt", weights_only=True)
    assert list(ven["model_spec"]["classes"]) == ["none", "top", "bottom", "crowd", "object", "cut"]
