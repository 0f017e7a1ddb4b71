"""`mimicgait eval` and `mimicgait compare` on a tiny packed-npz dataset with a stand-in model."""

import json

import numpy as np
import pytest
import torch

from mimicgait.cli import main
from mimicgait.commands import eval as eval_command
from mimicgait.commands.eval import parse_subjects
from mimicgait.eval.compare import compare_markdown, relative_performance

SUBJECTS = ["001", "002", "003"]
VIEWS = ["000", "090"]
CONDITIONS = ["nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06", "bg-01", "bg-02", "cl-01", "cl-02"]


def write_dataset(root):
    """Frames 8x8: row 0 spells the subject number, so a perfect model can read identity back."""
    root.mkdir()
    for n, s in enumerate(SUBJECTS):
        entries = {}
        for c in CONDITIONS:
            for v in VIEWS:
                frames = np.ones((4, 8, 8), np.uint8)
                frames[:, 0] = 0
                frames[:, 0, n] = 1
                entries[f"{c}/{v}"] = np.packbits(frames, axis=-1)
        np.savez_compressed(root / f"{s}.npz", **entries)
    (root / "partition.json").write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": SUBJECTS}))
    return root


class FakeModel:
    """embed: one-hot of the subject bit in row 0 (plus visible area), [N, C, P=2]."""

    def __init__(self, noise: float = 0.0):
        self.noise = noise

    def embed(self, sils, lengths):
        ident = sils[:, 0, 0, :4] * 10  # [N, 4]
        area = torch.stack([sils[i, : lengths[i], 1:].mean() for i in range(len(sils))])[:, None]  # [N, 1]
        feat = torch.cat([ident, area], 1)  # [N, 5]
        if self.noise:
            feat = feat + self.noise * torch.randn(feat.shape, generator=torch.Generator().manual_seed(0))
        return feat[:, :, None].expand(-1, -1, 2)


@pytest.fixture
def data(tmp_path, monkeypatch):
    root = write_dataset(tmp_path / "data")
    meta = {"stage": "teacher", "backbone": "fake", "input_size": (8, 8)}
    monkeypatch.setattr(eval_command, "load_model",
                        lambda checkpoint, inference, device="cpu": (FakeModel(), dict(meta)))
    return root


def test_eval_writes_report_and_plots(data, tmp_path, capsys):
    out = tmp_path / "holistic.json"
    code = main(["eval", "--checkpoint", "ckpt.pt", "--data", str(data), "--protocol", "casia-b",
                 "--json", str(out), "--plots", str(tmp_path / "figs"), "--no-progress"])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["metrics"]["rank1.NM"] == 100.0 and report["metrics"]["rank1.CL"] == 100.0
    assert report["meta"]["backbone"] == "fake" and report["checkpoint"] == "ckpt.pt"
    assert report["tables"]["NM"]["views"] == VIEWS
    assert (tmp_path / "figs" / "cmc_NM.png").stat().st_size > 0
    assert (tmp_path / "figs" / "views_NM.png").stat().st_size > 0
    assert "rank1.NM" in capsys.readouterr().out


def test_compare_prints_rp_against_holistic_of_same_backbone(tmp_path, capsys):
    def report(value, label, kinds):
        per_kind = {"top": {"rank1.NM": value + 1}, "bottom": {"rank1.NM": value - 1}} if kinds else {}
        return {"protocol": "casia-b", "label": label, "meta": {"backbone": "gaitbase", "stage": "mimic"},
                "occlusion": {"kinds": kinds, "gallery": "same", "seed": 0},
                "metrics": {"rank1.NM": value, "rank1.BG": value / 2},
                "per_kind": per_kind}

    paths = []
    for name, value, kinds in [("bl1", 20.0, ["top", "bottom"]), ("mimic", 60.0, ["top", "bottom"]),
                               ("holistic", 80.0, [])]:
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(report(value, name.upper(), kinds)))
    code = main(["compare", str(paths[0]), str(paths[1]), "--holistic", str(paths[2]),
                 "--plots", str(tmp_path / "figs")])
    assert code == 0
    text = capsys.readouterr().out
    rp_row = next(line for line in text.splitlines() if line.startswith("| RP rank1.NM"))
    assert "0.25" in rp_row and "0.75" in rp_row
    assert "| BL1 | MIMIC | HOLISTIC (holistic) |" in text
    assert (tmp_path / "figs" / "per_kind.png").exists()


def test_relative_performance_and_backbone_matching():
    occ = {"protocol": "grew", "metrics": {"rank1": 28.0, "tar@far=0.01": 5.0}, "meta": {"backbone": "a"}}
    hol = {"protocol": "grew", "metrics": {"rank1": 56.0}, "meta": {"backbone": "b"}}
    assert relative_performance(occ, hol) == {"rank1": 0.5}
    text = compare_markdown([("occ", occ)], [("hol", hol)])
    assert "no holistic report of the same backbone for: occ" in text


def test_user_errors_are_clear(data, tmp_path, monkeypatch, capsys):
    args = ["eval", "--checkpoint", "c.pt", "--data", str(data), "--no-progress"]
    assert main(args + ["--protocol", "oumvlp"]) == 2
    assert "gallery (conditions 01) is empty" in capsys.readouterr().err
    assert main(args + ["--protocol", "gait3d"]) == 2
    assert "PROBE_SET" in capsys.readouterr().err
    monkeypatch.setattr(eval_command, "load_model",
                        lambda c, i, d="cpu": (FakeModel(), {"input_size": (64, 44), "backbone": "x"}))
    assert main(args + ["--protocol", "casia-b"]) == 2
    assert "trained on (64, 44)" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "missing.json")]) == 2
    assert "not found" in capsys.readouterr().err


def test_parse_subjects():
    assert parse_subjects("008-011,020") == ["008", "009", "010", "011", "020"]
    with pytest.raises(ValueError):
        parse_subjects("010-008")


def test_library_occlusion_is_seeded_when_available(data):
    pytest.importorskip("mimicgait.data.occlusion")
    from mimicgait.data.sources import open_dataset
    from mimicgait.data.store import SequenceStore
    from mimicgait.eval import protocols
    from mimicgait.eval.evaluate import evaluate

    store = SequenceStore.from_dataset(open_dataset(data))
    run = lambda seed: evaluate(FakeModel(noise=0.5).embed, store, protocols.casia_b(),  # noqa: E731
                                occlusion="top,bottom", seed=seed)
    first = run(1)
    assert first == run(1)
    assert set(first["counts"]["probe_kinds"]) <= {"top", "bottom"}
