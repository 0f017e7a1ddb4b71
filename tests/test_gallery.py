"""Galleries and identification: enrol, list, remove, identify (closed and open set), agreement with
`mimicgait eval --protocol rank`, model binding, crash safety, exact and FAISS search."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import make_dataset, tiny_config

import mimicgait
from mimicgait import cli
from mimicgait.deploy.gallery import Gallery
from mimicgait.deploy.search import ExactIndex, FaissIndex, flatten_for_l2
from mimicgait.engine.run import train
from mimicgait.eval.distances import pairwise_distances

ENROL = ["--types", "nm-01,nm-02", "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("gallery")
    data = make_dataset(root / "data", subjects=8)
    train("teacher", tiny_config(), data, root / "teacher")
    train("occ-aware", tiny_config(), data, root / "other")
    return root


def enrol(setup, gallery, *extra, model="teacher"):
    return cli.main(["gallery", "enroll", "--gallery", str(gallery), "--model", str(setup / model),
                     "--data", str(setup / "data"), *ENROL, *extra])


def identify(setup, gallery, capsys, *extra):
    assert cli.main(["identify", "--gallery", str(gallery), "--model", str(setup / "teacher"),
                     "--data", str(setup / "data"), "--types", "nm-03,nm-04", "--device", "cpu",
                     "--no-progress", *extra]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    return json.loads(lines[-1]), lines[:-1]


def test_identify_gives_the_rank1_of_eval(setup, tmp_path, capsys):
    gallery = tmp_path / "g.db"
    assert enrol(setup, gallery) == 0
    capsys.readouterr()
    summary, lines = identify(setup, gallery, capsys, "--occlusion", "top,bottom", "--seed", "4",
                              "--json", str(tmp_path / "ids.json"))
    report = tmp_path / "eval.json"
    assert cli.main(["eval", "--checkpoint", str(setup / "teacher"), "--data", str(setup / "data"),
                     "--split", "all", "--protocol", "rank", "--probe-types", "nm-03,nm-04",
                     "--gallery-types", "nm-01,nm-02", "--occlusion", "top,bottom", "--gallery-occlusion",
                     "none", "--seed", "4", "--device", "cpu", "--json", str(report), "--no-progress"]) == 0
    expected = json.loads(report.read_text())["metrics"]["rank1"]
    assert summary["probes"] == 32 and len(lines) == 32
    assert summary["rank1"] == pytest.approx(expected)
    probes = json.loads((tmp_path / "ids.json").read_text())["probes"]
    assert {p["occlusion"] for p in probes} <= {"top", "bottom"} and len(probes[0]["matches"]) == 5


def test_list_remove_and_rerun_adds_only_what_is_missing(setup, tmp_path, capsys):
    gallery = tmp_path / "g.db"
    assert enrol(setup, gallery, "--subjects", "001-003") == 0
    assert json.loads(capsys.readouterr().out)["new_identities"] == 3
    assert enrol(setup, gallery) == 0  # all subjects: 001-003 are already there
    result = json.loads(capsys.readouterr().out)
    assert result["new_identities"] == 5 and result["already_enrolled"] == 12
    assert cli.main(["gallery", "remove", "--gallery", str(gallery), "002", "004"]) == 0
    capsys.readouterr()
    assert cli.main(["gallery", "list", "--gallery", str(gallery), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["identities"]
    assert [i["name"] for i in listed] == ["001", "003", "005", "006", "007", "008"]
    assert all(i["sequences"] == 4 for i in listed)
    assert cli.main(["gallery", "remove", "--gallery", str(gallery), "042"]) == 2


def test_a_gallery_refuses_another_model(setup, tmp_path, capsys):
    gallery = tmp_path / "g.db"
    assert enrol(setup, gallery) == 0
    before = gallery.read_bytes()
    assert enrol(setup, gallery, model="other") == 2
    assert "another model" in capsys.readouterr().err
    assert cli.main(["identify", "--gallery", str(gallery), "--model", str(setup / "other"), "--data",
                     str(setup / "data"), "--types", "nm-03"]) == 2
    assert "another model" in capsys.readouterr().err
    assert gallery.read_bytes() == before


def test_open_set_threshold_and_calibrated_far(setup, tmp_path, capsys):
    gallery = tmp_path / "g.db"
    assert enrol(setup, gallery, "--subjects", "001-004") == 0
    capsys.readouterr()
    summary, lines = identify(setup, gallery, capsys, "--threshold", "0")
    assert summary["unknown"] == summary["probes"] and all("\tunknown\t" in line for line in lines)
    summary, _ = identify(setup, gallery, capsys, "--threshold", "1e9")
    assert summary["unknown"] == 0
    assert summary["in_gallery"] == 16 and summary["probes"] == 32  # 005-008 are not enrolled
    report = tmp_path / "verification.json"
    assert cli.main(["eval", "--checkpoint", str(setup / "teacher"), "--data", str(setup / "data"),
                     "--split", "all", "--protocol", "verification", "--probe-types", "nm-03,nm-04",
                     "--gallery-types", "nm-01,nm-02", "--json", str(report), "--no-progress"]) == 0
    threshold = json.loads(report.read_text())["metrics"]["threshold@far=0.01"]
    summary, _ = identify(setup, gallery, capsys, "--far", "0.01", "--calibration", str(report))
    assert summary["threshold"] == pytest.approx(threshold)
    assert 0 < summary["unknown"] < summary["probes"]  # strangers 005-008 among them
    capsys.readouterr()
    assert cli.main(["identify", "--gallery", str(gallery), "--model", str(setup / "teacher"), "--data",
                     str(setup / "data"), "--far", "0.5", "--calibration", str(report)]) == 2
    assert "no finite threshold" in capsys.readouterr().err


def test_killed_enrolment_keeps_earlier_identities(setup, tmp_path):
    gallery = tmp_path / "g.db"
    script = f"""
import os, signal, torch
import mimicgait
from mimicgait.deploy.gallery import Gallery
model = mimicgait.load({str(setup / 'teacher')!r})
emb = torch.randn(3, model.meta['embedding']['channels'], model.meta['embedding']['parts'])
with Gallery({str(gallery)!r}, create=True) as g:
    g.enroll(model.meta, ['alice'] * 3, emb)
    g.db.execute("BEGIN")
    g.db.execute("INSERT INTO identities(name) VALUES ('bob')")
    os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    with Gallery(gallery) as g:
        assert g.identities() == [("alice", 3)]
        assert g.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_exact_search_matches_the_eval_distance():
    rng = np.random.default_rng(0)
    gallery = torch.from_numpy(rng.normal(size=(50, 8, 4)).astype(np.float32))
    probes = torch.from_numpy(rng.normal(size=(7, 8, 4)).astype(np.float32))
    identity = rng.integers(0, 10, 50)
    matches = ExactIndex(gallery, identity).search(probes, k=3)
    dist = pairwise_distances(probes, gallery)
    for i in range(7):
        best = {}
        for j in range(50):
            best[identity[j]] = min(best.get(identity[j], np.inf), float(dist[i, j]))
        order = sorted(best, key=best.get)[:3]
        assert matches.identity[i].tolist() == order
        np.testing.assert_allclose(matches.distance[i], [best[o] for o in order], rtol=1e-5)
        assert identity[matches.sequence[i, 0]] == order[0]


def test_faiss_shortlist_agrees_with_exact_search():
    pytest.importorskip("faiss", reason="the deploy extra (faiss-cpu) is not installed")
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(200, 16, 4)).astype(np.float32)
    identity = rng.integers(0, 200, 4000)
    gallery = torch.from_numpy(centres[identity] + 0.3 * rng.normal(size=(4000, 16, 4)).astype(np.float32))
    who = rng.integers(0, 200, 50)
    probes = torch.from_numpy(centres[who] + 0.3 * rng.normal(size=(50, 16, 4)).astype(np.float32))
    exact = ExactIndex(gallery, identity).search(probes, k=5)
    flat = flatten_for_l2(gallery, "euc")
    index = FaissIndex(flat.shape[1], lists=16, subquantizers=16, nprobe=8)
    index.train(flat)
    index.add(flat)
    approx = index.search(probes, identity, lambda rows: gallery[rows], k=5, shortlist=100)
    assert (approx.identity[:, 0] == exact.identity[:, 0]).mean() >= 0.95
    same = approx.identity[:, 0] == exact.identity[:, 0]
    np.testing.assert_allclose(approx.distance[same, 0], exact.distance[same, 0], rtol=1e-5)


def test_python_api_from_load_to_identity(setup):
    model = mimicgait.load(setup / "teacher")
    from mimicgait.deploy.inputs import embed_set, from_data

    enrolled = from_data(str(setup / "data"), model.frame_size, types=["nm-01"])
    feats, _ = embed_set(model, enrolled)
    probe = from_data(str(setup / "data"), model.frame_size, subjects=["003"], types=["nm-04"], views=["000"])
    query = model.embed([probe.load(0)])
    nearest = int(model.distance(query, feats).argmin())
    assert enrolled.keys[nearest][0] == "003"


def test_sqlite_file_is_not_a_gallery(tmp_path, capsys):
    bad = tmp_path / "g.db"
    bad.write_bytes(os.urandom(4096))
    assert cli.main(["gallery", "list", "--gallery", str(bad)]) == 2
    assert "not a mimicgait gallery" in capsys.readouterr().err


def test_identify_and_embed_from_video(setup, tmp_path, capsys):
    from helpers import casia_b_videos

    pytest.importorskip("cv2", reason="the video extra (OpenCV) is not installed")
    videos = casia_b_videos()
    if videos is None:
        pytest.skip("no CASIA-B videos (MIMICGAIT_CASIA_B_VIDEOS)")
    gallery = tmp_path / "g.db"
    assert enrol(setup, gallery) == 0
    capsys.readouterr()
    video = videos / "002-nm-01-090.avi"
    assert cli.main(["identify", "--gallery", str(gallery), "--model", str(setup / "teacher"),
                     "--video", str(video), "--background", "auto", "--no-progress"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith(str(video)) and json.loads(lines[-1])["probes"] == 1
    out = tmp_path / "e.npz"
    assert cli.main(["embed", "--model", str(setup / "teacher"), "--video", str(video), "--id",
                     "042-nm-01-090", "--out", str(out), "--no-progress"]) == 0
    saved = np.load(out)
    assert saved["subjects"].tolist() == ["042"] and saved["embeddings"].shape[0] == 1


def test_embed_writes_npz_and_parquet(setup, tmp_path):
    out = tmp_path / "e.npz"
    assert cli.main(["embed", "--model", str(setup / "teacher"), "--data", str(setup / "data"), "--types",
                     "nm-03", "--views", "000", "--out", str(out), "--no-progress"]) == 0
    saved = np.load(out)
    assert saved["embeddings"].shape[0] == 8 and set(saved["conditions"]) == {"nm-03"}
    assert str(saved["fingerprint"]) == mimicgait.load(setup / "teacher").fingerprint
    assert cli.main(["embed", "--model", str(setup / "teacher"), "--data", str(setup / "data"),
                     "--out", str(out), "--no-progress"]) == 2  # exists, no --force
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is optional")
    assert cli.main(["embed", "--model", str(setup / "teacher"), "--data", str(setup / "data"), "--types",
                     "nm-03", "--out", str(tmp_path / "e.parquet"), "--no-progress"]) == 0
    assert pq.read_table(tmp_path / "e.parquet").num_rows == 16


def test_enrol_never_takes_over_a_file_that_is_not_a_gallery(setup, tmp_path, capsys):
    import sqlite3

    empty = tmp_path / "notes.txt"
    empty.touch()
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t (x)")
    for path, message in ((empty, "not a mimicgait gallery"), (foreign, "SQLite database but not"),
                          (tmp_path, "is a directory")):
        before = path.read_bytes() if path.is_file() else None
        assert enrol(setup, path, "--subjects", "001") == 2
        assert message in capsys.readouterr().err
        assert (path.read_bytes() if path.is_file() else None) == before
