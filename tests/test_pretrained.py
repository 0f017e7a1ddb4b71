"""The models shipped inside the package: listed, loaded by name and by path, verified, reproducible."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import casia_b_root, casia_b_videos

import mimicgait
import mimicgait.pretrained as pretrained
from mimicgait.cli import main
from mimicgait.errors import UserError
from mimicgait.models.checkpoint import sha256

EXPECTED = ("casiab-mimic", "casiab-mimic-guided", "casiab-teacher")
REFERENCE = Path(__file__).parent / "data" / "pretrained_reference.npz"
SIZE_BUDGET = 25_000_000  # bytes, every shipped file together


def test_the_package_ships_the_recipe_models_within_budget():
    models = pretrained.shipped_models()
    assert tuple(models) == EXPECTED
    files = [m.file for m in models.values()] + [m.card for m in models.values()] + [pretrained.INDEX_FILE]
    assert all(f.is_file() for f in files)
    assert sum(f.stat().st_size for f in files) < SIZE_BUDGET
    for m in models.values():
        assert sha256(m.file) == m.sha256
        assert m.file.stat().st_size == m.bytes
        card = m.card.read_text()
        assert m.fingerprint in card and "research use" in card and "--seed 0" in card


@pytest.mark.parametrize("name", EXPECTED)
def test_loads_by_name_and_by_path_with_the_same_fingerprint(name):
    entry = pretrained.shipped_model(name)
    by_name, by_path = mimicgait.load(name), mimicgait.load(entry.file)
    assert by_name.fingerprint == by_path.fingerprint == entry.fingerprint
    assert by_name.meta["inference"] == entry.inference and by_name.meta["stage"] == entry.stage


@pytest.mark.skipif(casia_b_root() is None, reason="CASIA-B not found (set MIMICGAIT_CASIA_B)")
@pytest.mark.parametrize("name", EXPECTED)
def test_embeddings_match_those_stored_at_export_time(name):
    from mimicgait.deploy.inputs import from_data

    stored = np.load(REFERENCE, allow_pickle=False)
    keys = [tuple(k.split("-", 1)[:1] + k.split("-", 1)[1].rsplit("-", 1)) for k in stored["keys"]]
    model = mimicgait.load(name)
    sequences = from_data(str(casia_b_root() / "train"), model.frame_size,
                          subjects=sorted({k[0] for k in keys}), types=sorted({k[1] for k in keys}),
                          views=sorted({k[2] for k in keys}))
    assert [tuple(k) for k in sequences.keys] == keys
    embeddings = model.embed([sequences.load(i) for i in range(len(sequences))]).numpy()
    scale = float(np.abs(stored[name]).max())
    np.testing.assert_allclose(embeddings, stored[name], rtol=0, atol=1e-4 * scale)


def _flip_one_byte(path: Path, where: float) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", [0.5, 0.9])
def test_a_tampered_copy_is_refused(tmp_path, monkeypatch, where):
    entry = pretrained.shipped_model("casiab-teacher")
    copy = tmp_path / "pretrained"
    shutil.copytree(pretrained.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    _flip_one_byte(copy / entry.file.name, where)
    with pytest.raises(UserError, match="corrupted or edited|truncated|not a mimicgait"):
        mimicgait.load(copy / entry.file.name)  # as a path: the fingerprint (or the archive) fails
    monkeypatch.setattr(pretrained, "PACKAGE_DIR", copy)
    monkeypatch.setattr(pretrained, "INDEX_FILE", copy / "index.json")
    pretrained.shipped_models.cache_clear()
    try:
        with pytest.raises(UserError, match="does not match the sha256"):
            mimicgait.load("casiab-teacher")  # by name: the index's sha256 fails first
    finally:
        pretrained.shipped_models.cache_clear()


def test_a_model_whose_sections_were_edited_is_refused(tmp_path):
    payload = torch.load(pretrained.shipped_model("casiab-teacher").file, weights_only=True)
    payload["embedding"]["metric"] = "cos"  # the fingerprint covers the metric
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(UserError, match="fingerprint"):
        mimicgait.load(tmp_path / "edited.pt")


@pytest.mark.parametrize("argv", [
    ["models", "--card", "casiab-nope"],
    ["embed", "--model", "casiab-nope", "--data", "x", "--out", "x.npz"],
    ["export", "--model", "casiab-nope", "--out", "x.pt"],
])
def test_an_unknown_name_lists_the_shipped_names(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "casiab-nope" in err[0] and all(name in err[0] for name in EXPECTED)


def test_models_lists_and_prints_cards(capsys):
    assert main(["models", "--pretrained"]) == 0
    out = capsys.readouterr().out
    for name, entry in pretrained.shipped_models().items():
        assert name in out and entry.fingerprint[:12] in out and entry.summary in out
    assert main(["models", "--card", "casiab-mimic"]) == 0
    assert capsys.readouterr().out.startswith("# Model card: `casiab-mimic`")


@pytest.mark.skipif(casia_b_videos() is None, reason="no CASIA-B videos (MIMICGAIT_CASIA_B_VIDEOS)")
def test_identify_by_name_names_the_walker_of_a_video(tmp_path, capsys):
    enrol = tmp_path / "enrol"
    enrol.mkdir()
    for stem in ("001-nm-01", "001-nm-02", "001-nm-03", "001-nm-04", "002-nm-01", "003-nm-01", "004-nm-01"):
        shutil.copy(casia_b_videos() / f"{stem}-090.avi", enrol)
    gallery = str(tmp_path / "people.db")
    assert main(["gallery", "enroll", "--model", "casiab-mimic", "--gallery", gallery, "--video", str(enrol),
                 "--no-progress"]) == 0
    report = tmp_path / "who.json"
    assert main(["identify", "--model", "casiab-mimic", "--gallery", gallery, "--no-progress",
                 "--video", str(casia_b_videos() / "001-nm-05-090.avi"), "--json", str(report)]) == 0
    capsys.readouterr()
    probes = json.loads(report.read_text())["probes"]
    assert len(probes) == 1 and probes[0]["matches"][0]["identity"] == "001"
