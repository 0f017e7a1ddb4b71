"""`identify` and `eval` agree on Rank-k for the same probes: both rank with `PartGallery` and turn
first hits into Rank-k with `metrics.cmc`. identify ranks identities (an identity's distance is
its nearest sequence's), eval ranks gallery sequences: with one gallery sequence per identity the
two rankings are the same at every k."""

from __future__ import annotations

import json

import pytest
from helpers import make_dataset, tiny_config

from mimicgait import cli
from mimicgait.engine.run import train

SUBJECTS = [f"{s:03d}" for s in range(1, 9)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("identify_rank")
    make_dataset(root / "data", subjects=len(SUBJECTS))
    train("teacher", tiny_config(), root / "data", root / "teacher")
    return root


def test_identify_and_eval_agree_on_every_rank(setup, tmp_path, capsys):
    data, model = str(setup / "data"), str(setup / "teacher")
    gallery = tmp_path / "g.db"
    assert cli.main(["gallery", "enroll", "--gallery", str(gallery), "--model", model, "--data", data,
                     "--types", "nm-01", "--views", "000", "--device", "cpu", "--no-progress"]) == 0
    capsys.readouterr()
    assert cli.main(["identify", "--gallery", str(gallery), "--model", model, "--data", data,
                     "--types", "nm-03,nm-04", "--occlusion", "top,bottom", "--seed", "2", "--top-k", "5",
                     "--device", "cpu", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    listed = tmp_path / "gallery.json"  # eval's gallery: the same one sequence per identity
    listed.write_text(json.dumps({"probe": [], "gallery": [f"{s}/nm-01/000" for s in SUBJECTS]}))
    report = tmp_path / "eval.json"
    assert cli.main(["eval", "--checkpoint", model, "--data", data, "--split", "all", "--protocol", "rank",
                     "--probe-types", "nm-03,nm-04", "--list", str(listed), "--occlusion", "top,bottom",
                     "--gallery-occlusion", "none", "--seed", "2", "--device", "cpu", "--json", str(report),
                     "--no-progress"]) == 0
    report = json.loads(report.read_text())
    assert summary["probes"] == report["counts"]["probes"]["all"] == 32
    assert report["counts"]["gallery"] == summary["gallery_sequences"] == len(SUBJECTS)
    for k in (1, 5):
        assert summary[f"rank{k}"] == pytest.approx(report["metrics"][f"rank{k}"])
    curve = report["curves"]["cmc"]["all"]
    assert [summary[f"rank{k}"] for k in range(1, 6)] == pytest.approx(curve[:5])
    assert 0 < summary["rank1"] < summary["rank5"]  # a test that ranks, not a trivial 100 or 0
