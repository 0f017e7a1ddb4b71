"""`mimicgait demo`: end to end at a tiny size, the budget rule, and its user errors."""

from __future__ import annotations

import json

import pytest
import torch

from mimicgait.cli import main
from mimicgait.commands.demo import run_demo
from mimicgait.engine.logging import read_log


def test_demo_end_to_end_tiny(tmp_path):
    out = tmp_path / "demo"
    result = run_demo(out, minutes=0.05, subjects=6, frames=10, views=[0, 90, 180], min_iterations=2,
                      progress=False, overrides=["data.ids_per_batch=3", "data.seqs_per_id=2",
                                                 "pipeline.eval.batch_size=32"])
    assert (out / "occlusions.png").stat().st_size > 0
    assert json.loads((out / "data" / "demo.json").read_text())["subjects"] == 6
    for name in ["teacher-holistic", "baseline1", "baseline2", "mimic", "mimic-student", "mimic-holistic"]:
        assert (out / "reports" / f"{name}.json").is_file()
    assert (out / "plots" / "cmc_NM.png").is_file() and (out / "plots" / "per_kind.png").is_file()
    assert "RP rank1.NM" in (out / "summary.md").read_text()
    # Every stage was sized by the budget rule and trained that many iterations, unless its time
    # limit (1.2 x its share) stopped it first, which its log then records. One assertion either
    # way, so what is checked does not depend on how loaded the machine is.
    assert set(result["sizing"]) == {"teacher", "ven", "baseline", "mimic"}
    for job, sized in result["sizing"].items():
        assert sized["seconds_per_step"] > 0 and sized["iterations"] >= 2
        trained = torch.load(out / job / "model.pt", weights_only=True)["iteration"]
        cut = [r["planned"] for r in read_log(out / job) if r["split"] == "event" and "time_limit_s" in r]
        assert (trained, cut[-1:]) in ((sized["iterations"], []), (trained, [sized["iterations"]])), job
        assert trained <= sized["iterations"]
    # A second run reuses the data and the trained models.
    again = run_demo(out, minutes=0.05, subjects=6, frames=10, views=[0, 90, 180], min_iterations=2,
                     progress=False, overrides=["data.ids_per_batch=3", "data.seqs_per_id=2"])
    assert set(again["jobs"].values()) == {"skipped"} and again["sizing"] == {}
    with pytest.raises(ValueError, match="generated with other settings"):
        run_demo(out, minutes=0.05, subjects=7, progress=False)


def test_demo_cli_refuses_bad_budget(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--minutes", "0"]) == 2
    assert "--minutes" in capsys.readouterr().err


def test_budget_rule_shares_the_time_left_by_stage_weight(monkeypatch, tmp_path):
    # deterministic: the step time is given, and the clock is frozen
    from mimicgait.commands import demo
    from mimicgait.engine.config import load_config
    from mimicgait.pipeline import Job

    monkeypatch.setattr(demo, "seconds_per_step", lambda stage, config, data_dir, cache=None: 0.5)
    monkeypatch.setattr(demo.time, "perf_counter", lambda: 1000.0)
    jobs = [("teacher", "teacher"), ("ven", "ven"), ("baseline", "baseline"), ("mimic", "mimic")]
    sizer = demo.BudgetSizer(tmp_path, deadline=1000.0 + 1000.0, jobs=jobs, min_iterations=5)
    config = load_config("tiny")
    teacher = sizer(Job("teacher", "teacher"), config)
    # the teacher's share of 1000 s is 0.2 / (0.2 + 0.12 + 0.2 + 0.48) at 0.5 s per step
    assert teacher["train"]["iterations"] == 400 and teacher["optim"]["milestones"] == [320]
    assert teacher["train"]["time_limit_s"] == pytest.approx(demo.OVERRUN * 200.0)
    ven = sizer(Job("ven", "ven"), config)
    assert ven["train"]["iterations"] == int(1000 * 0.12 / 0.8 / 0.5)
    assert sizer(Job("baseline", "baseline"), config)["train"]["iterations"] == 400  # as the teacher
