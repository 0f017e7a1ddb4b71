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
    # limit (1.2 x its share) stopped it first, which its log then records.
    assert set(result["sizing"]) == {"teacher", "ven", "baseline", "mimic"}
    for job, sized in result["sizing"].items():
        assert sized["seconds_per_step"] > 0 and sized["iterations"] >= 2
        trained = torch.load(out / job / "model.pt", weights_only=True)["iteration"]
        cut = [r for r in read_log(out / job) if r["split"] == "event" and "time_limit_s" in r]
        if cut:
            assert trained < sized["iterations"] == cut[-1]["planned"]
        else:
            assert trained == sized["iterations"]
    # A second run reuses the data and the trained models.
    again = run_demo(out, minutes=0.05, subjects=6, frames=10, views=[0, 90, 180], min_iterations=2,
                     progress=False, overrides=["data.ids_per_batch=3", "data.seqs_per_id=2"])
    assert set(again["jobs"].values()) == {"skipped"} and again["sizing"] == {}
    with pytest.raises(ValueError, match="generated with other settings"):
        run_demo(out, minutes=0.05, subjects=7, progress=False)


def test_demo_cli_refuses_bad_budget(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--minutes", "0"]) == 2
    assert "--minutes" in capsys.readouterr().err
