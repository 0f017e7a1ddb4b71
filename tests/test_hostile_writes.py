"""Hostile and careless writes (issue 29, part A): one writer at a time, outputs never over inputs.

Every case asserts the exit status, exactly one error line on stderr and no traceback, and that no
existing file changed (sha256 before and after). Concurrency runs two real `mimicgait` processes;
a full disk is a patched writer (or SQLite's page limit), read-only storage a read-only tmpfs where
the machine allows mounting one, else a folder without write permission.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import TINY_CLI as TINY
from helpers import cli, hashes, make_dataset, tiny_config

from mimicgait.cli import main
from mimicgait.deploy import gallery as gallery_module
from mimicgait.engine.run import train
from mimicgait.io import LOCK_NAME

MIMICGAIT = str(Path(sys.executable).with_name("mimicgait"))
ENROL = ["--types", "nm-01,nm-02", "--device", "cpu", "--no-progress"]
SEQUENCES = 8 * 2 * 2  # subjects x enrolled conditions x views of the fixture's data


# -- helpers -------------------------------------------------------------------------------------
def assert_refused(rc: int, err: str, *names: object) -> str:
    """Exit 2, no traceback, exactly one line on stderr, naming every one of `names`; returns it."""
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mimicgait: error:"), err
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


def spawn(*args: object) -> subprocess.Popen:
    """`mimicgait ARGS` as a separate process (one thread), its output captured."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([MIMICGAIT, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def rows(gallery: Path) -> tuple[int, int]:
    """(sequence rows, distinct sources) of a gallery."""
    with sqlite3.connect(gallery) as db:
        return db.execute("SELECT COUNT(*), COUNT(DISTINCT source) FROM sequences").fetchone()


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Path:
    """Data of 8 subjects, a tiny teacher, a tiny occ-aware model (another fingerprint), the
    teacher exported to one file, and an evaluation report of the teacher."""
    root = tmp_path_factory.mktemp("writes")
    data = make_dataset(root / "data", subjects=8)
    train("teacher", tiny_config(), data, root / "teacher")
    train("occ-aware", tiny_config(), data, root / "other")
    assert main(["export", "--checkpoint", str(root / "teacher"), "--out", str(root / "t.pt")]) == 0
    assert main(["eval", "--checkpoint", str(root / "teacher"), "--data", str(data), "--split", "all",
                 "--protocol", "rank", "--probe-types", "nm-03", "--gallery-types", "nm-01",
                 "--device", "cpu", "--json", str(root / "r.json"), "--no-progress"]) == 0
    return root


def enrol_args(setup: Path, gallery: Path, model: str = "teacher") -> list[str]:
    return ["gallery", "enroll", "--gallery", str(gallery), "--model", str(setup / model),
            "--data", str(setup / "data"), *ENROL]


# -- 1. one writer at a time: galleries ----------------------------------------------------------
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_concurrent_enrolments_leave_every_sequence_once(setup, tmp_path, capsys, existing):
    gallery = tmp_path / "g.db"
    if existing:
        assert main(enrol_args(setup, gallery) + ["--subjects", "001-003"]) == 0
    procs = [spawn(*enrol_args(setup, gallery)) for _ in range(2)]
    results = [p.communicate() for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]
    assert rows(gallery) == (SEQUENCES, SEQUENCES)
    added = sum(s["sequences_enrolled"] for s in summaries)
    assert added == SEQUENCES - (12 if existing else 0)
    assert all(s["sequences_enrolled"] + s["already_enrolled"] == SEQUENCES for s in summaries)
    assert all(s["identities"] == 8 for s in summaries)


def test_concurrent_enrolments_of_two_models_give_the_loser_the_model_message(setup, tmp_path):
    gallery = tmp_path / "g.db"
    procs = [spawn(*enrol_args(setup, gallery, model)) for model in ("teacher", "other")]
    results = [p.communicate() for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], results
    err = next(e for p, (_, e) in zip(procs, results, strict=True) if p.returncode == 2)
    line = assert_refused(2, err, gallery, "another model")
    assert "not a mimicgait gallery" not in line
    assert rows(gallery) == (SEQUENCES, SEQUENCES)


def test_enrolment_rechecks_inside_its_transaction(tmp_path):
    """The race of two enrolments, made deterministic: both open the gallery and read it before
    either writes; the second then skips what the first enrolled, or is refused for its model."""
    import torch

    from mimicgait.deploy.gallery import Gallery
    from mimicgait.errors import UserError

    def meta(fingerprint: str) -> dict:
        return {"fingerprint": fingerprint, "embedding": {"metric": "euc", "channels": 4, "parts": 2}}

    path = tmp_path / "g.db"
    first, second, third = (Gallery(path, create=True) for _ in range(3))
    assert first.sources() == second.sources() == third.sources() == set()
    names, sources = ["a", "a", "b"], ["a/1", "a/2", "b/1"]
    assert first.enroll(meta("m1"), names, torch.randn(3, 4, 2), sources=sources) == (2, 3)
    assert second.enroll(meta("m1"), names, torch.randn(3, 4, 2), sources=sources) == (0, 0)
    with pytest.raises(UserError, match="another model"):
        third.enroll(meta("m2"), ["c"], torch.randn(1, 4, 2), sources=["c/1"])
    for gallery in (first, second, third):
        gallery.close()
    assert rows(path) == (3, 3)


def test_gallery_of_the_previous_version_with_duplicates_opens_and_heals(setup, tmp_path, capsys):
    gallery = tmp_path / "g.db"
    assert main(enrol_args(setup, gallery)) == 0
    with sqlite3.connect(gallery) as db:  # what the previous version left: no unique index, duplicates
        db.execute("DROP INDEX sequences_source")
        db.execute("INSERT INTO sequences(identity, condition, view, source, frames, enrolled, embedding) "
                   "SELECT identity, condition, view, source, frames, enrolled, embedding FROM sequences")
    assert rows(gallery) == (2 * SEQUENCES, SEQUENCES)
    capsys.readouterr()
    assert main(["gallery", "list", "--gallery", str(gallery), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["identities"]) == 8
    assert main(enrol_args(setup, gallery)) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["already_enrolled"] == SEQUENCES
    assert rows(gallery) == (SEQUENCES, SEQUENCES)


@pytest.mark.parametrize("damage, names", [
    ("UPDATE meta SET value = '100000000000' WHERE key = 'channels'", ["'channels'", "100000000000"]),
    ("UPDATE meta SET value = 'abc' WHERE key = 'channels'", ["'channels'", "abc"]),
    ("UPDATE sequences SET embedding = x'0102' WHERE id = 3", ["sequence row 3", "2 bytes"]),
    ("UPDATE meta SET value = 'not json' WHERE key = 'model'", ["'model'"]),
], ids=["huge-channels", "text-channels", "short-embedding", "model-not-json"])
def test_damaged_gallery_rows_are_named(setup, tmp_path, capsys, damage, names):
    gallery = tmp_path / "g.db"
    assert main(enrol_args(setup, gallery) + ["--subjects", "001-002"]) == 0
    with sqlite3.connect(gallery) as db:
        db.execute(damage)
    before = hashes(gallery)
    command = ["identify", "--gallery", gallery, "--model", setup / "teacher", "--data", setup / "data",
               "--types", "nm-03", *ENROL[2:]]
    if "model" in damage:
        command = ["gallery", "list", "--gallery", gallery]
    assert_refused(*cli(capsys, *command), gallery, *names)
    assert hashes(gallery) == before


def test_gallery_in_a_missing_folder(setup, tmp_path, capsys):
    gallery = tmp_path / "missing" / "g.db"
    line = assert_refused(*cli(capsys, *enrol_args(setup, gallery)), gallery, "does not exist")
    assert "not a mimicgait gallery" not in line
    assert not gallery.parent.exists()
    assert_refused(*cli(capsys, "gallery", "list", "--gallery", gallery), "does not exist")


def test_locked_gallery(setup, tmp_path, capsys, monkeypatch):
    gallery = tmp_path / "g.db"
    assert main(enrol_args(setup, gallery) + ["--subjects", "001"]) == 0
    monkeypatch.setattr(gallery_module, "BUSY_TIMEOUT_S", 0.1)
    holder = sqlite3.connect(gallery)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        line = assert_refused(*cli(capsys, *enrol_args(setup, gallery)), gallery, "locked")
    finally:
        holder.rollback()
        holder.close()
    assert "not a mimicgait gallery" not in line
    assert rows(gallery) == (4, 4)


def test_full_disk_while_enrolling(setup, tmp_path, capsys, monkeypatch):
    gallery = tmp_path / "g.db"
    assert main(enrol_args(setup, gallery) + ["--subjects", "001"]) == 0
    with sqlite3.connect(gallery) as db:
        before = db.execute("SELECT * FROM sequences ORDER BY id").fetchall()
    connect = sqlite3.connect

    def full(database, *args, **kwargs):  # the file may not grow by a single page: a full disk
        db = connect(database, *args, **kwargs)
        if str(database) == str(gallery):
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages}")
        return db

    monkeypatch.setattr(sqlite3, "connect", full)
    line = assert_refused(*cli(capsys, *enrol_args(setup, gallery)), gallery, "disk is full")
    assert "not a mimicgait gallery" not in line
    monkeypatch.undo()
    with sqlite3.connect(gallery) as db:  # what was there is intact; what fitted are whole identities
        after = db.execute("SELECT * FROM sequences ORDER BY id").fetchall()
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert after[: len(before)] == before
    assert len(after) < SEQUENCES and len(after) % 4 == 0 and rows(gallery)[0] == rows(gallery)[1]


@pytest.fixture
def read_only_storage(tmp_path):
    """Make a folder read-only, yielding (folder, make_read_only): a read-only tmpfs when this
    machine lets the tests mount one, else (not root) a folder without write permission."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], capture_output=True).returncode == 0
    if os.geteuid() == 0 and not mounted:
        pytest.skip("running as root without permission to mount a tmpfs: nothing here is read-only")

    def make_read_only() -> None:
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        else:
            for path in folder.iterdir():
                path.chmod(0o444)
            folder.chmod(0o555)

    yield folder, make_read_only
    if mounted:
        subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.chmod(0o755)


def test_gallery_on_read_only_storage_is_listed_and_searched(setup, tmp_path, capsys, read_only_storage):
    folder, make_read_only = read_only_storage
    gallery = folder / "g.db"
    assert main(enrol_args(setup, gallery) + ["--subjects", "001-004"]) == 0
    make_read_only()
    before = hashes(folder)
    capsys.readouterr()
    assert main(["gallery", "list", "--gallery", str(gallery), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["identities"]) == 4
    assert main(["identify", "--gallery", str(gallery), "--model", str(setup / "teacher"), "--data",
                 str(setup / "data"), "--types", "nm-03", *ENROL[2:]]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["gallery_sequences"] == 16
    line = assert_refused(*cli(capsys, *enrol_args(setup, gallery)), gallery, "cannot be written")
    assert "not a mimicgait gallery" not in line
    assert_refused(*cli(capsys, *enrol_args(setup, folder / "new.db")), folder / "new.db")
    assert hashes(folder) == before


# -- 1. one writer at a time: training and pipeline directories -----------------------------------
HOLD = """
import sys
from mimicgait.dirlock import directory_lock
with directory_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def held(tmp_path):
    """A directory held by another process (until the test ends): (directory, that process)."""
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield run, proc
    proc.stdin.close()
    proc.wait()


def test_second_training_into_a_run_in_use_is_refused(setup, capsys, held):
    run, proc = held
    before = hashes(run)
    assert_refused(*cli(capsys, "train", "teacher", *TINY, "--data", setup / "data", "--out", run),
                   run, f"PID {proc.pid}", "in use")
    assert hashes(run) == before


def test_a_demo_into_a_directory_in_use_is_refused_before_it_writes_data(capsys, held):
    run, proc = held
    before = hashes(run)
    assert_refused(*cli(capsys, "demo", "--out", run, "--minutes", "1", "--subjects", "4"),
                   run, f"PID {proc.pid}", "in use")
    assert hashes(run) == before and not (run / "data").exists()


def test_second_pipeline_into_a_directory_in_use_is_refused(setup, tmp_path, capsys, held):
    run, proc = held
    config = tmp_path / "p.yaml"
    config.write_text("base: tiny\ndata: {val_subjects: \"007-008\"}\ntrain: {iterations: 2}\n"
                      "pipeline: {stages: [teacher]}\n")
    before = hashes(run)
    assert_refused(*cli(capsys, "pipeline", "--config", config, "--data", setup / "data", "--out", run,
                        "--set", "train.device=cpu", "--no-progress"), run, f"PID {proc.pid}")
    assert hashes(run) == before


def test_a_killed_holder_does_not_block_a_rerun(setup, tmp_path, capsys):
    run = tmp_path / "run"
    script = HOLD.replace("sys.stdin.read()", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", script, str(run)], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert (run / LOCK_NAME).is_file()  # the stale lock file is still there
    rc, err = cli(capsys, "train", "teacher", *TINY, "--data", setup / "data", "--out", run)
    assert rc == 0, err
    assert (run / "model.pt").is_file() and not (run / LOCK_NAME).exists()


def test_a_refused_start_leaves_no_directory(setup, tmp_path, capsys):
    run = tmp_path / "new" / "run"
    assert_refused(*cli(capsys, "train", "teacher", *TINY, "--data", setup / "data", "--out", run,
                        "--set", "data.subjects=900-901"), "data.subjects")
    assert not (tmp_path / "new").exists()


# -- 2. outputs never over inputs ----------------------------------------------------------------
def test_compare_never_overwrites_without_force(setup, tmp_path, capsys):
    out = tmp_path / "o.md"
    out.write_text("keep me\n")
    before = hashes(out, setup / "r.json")
    assert_refused(*cli(capsys, "compare", setup / "r.json", "--out", out), out, "--force")
    assert hashes(out, setup / "r.json") == before
    assert main(["compare", str(setup / "r.json"), "--out", str(out), "--force"]) == 0
    assert hashes(out) != before and "keep me" not in out.read_text()


@pytest.mark.parametrize("option", ["report", "--holistic"])
@pytest.mark.parametrize("force", [False, True])
def test_compare_never_writes_over_a_report_it_reads(setup, tmp_path, capsys, option, force):
    report = tmp_path / "r.json"
    report.write_bytes((setup / "r.json").read_bytes())
    before = hashes(report)
    args = [report] if option == "report" else [setup / "r.json", "--holistic", report]
    assert_refused(*cli(capsys, "compare", *args, "--out", report, *(["--force"] if force else [])),
                   report, "is the input")
    assert hashes(report) == before


def test_identify_never_writes_over_its_gallery_or_model(setup, tmp_path, capsys):
    gallery = tmp_path / "g.db"
    assert main(enrol_args(setup, gallery) + ["--subjects", "001"]) == 0
    model = tmp_path / "t.pt"
    model.write_bytes((setup / "t.pt").read_bytes())
    before = hashes(gallery, model)
    common = ["identify", "--gallery", gallery, "--data", setup / "data", "--types", "nm-03", *ENROL[2:]]
    assert_refused(*cli(capsys, *common, "--model", model, "--json", gallery, "--force"),
                   "--gallery", gallery)
    assert_refused(*cli(capsys, *common, "--model", model, "--json", model, "--force"), "--model", model)
    assert_refused(*cli(capsys, *common, "--model", model, "--json", setup / "data" / "ids.json", "--force"),
                   "--data", "inside")
    assert hashes(gallery, model) == before


def test_embed_never_writes_over_its_model_or_into_its_data(setup, tmp_path, capsys):
    model = tmp_path / "t.npz"
    model.write_bytes((setup / "t.pt").read_bytes())
    before = hashes(model, setup / "data")
    data = ["--data", setup / "data", "--no-progress"]
    assert_refused(*cli(capsys, "embed", "--model", model, *data, "--out", model, "--force"),
                   "--model", model)
    assert_refused(*cli(capsys, "embed", "--model", setup / "t.pt", *data, "--out", setup / "data" / "e.npz",
                        "--force"), "--data", "inside")
    assert hashes(model, setup / "data") == before


def test_enrol_never_puts_a_gallery_over_its_inputs(setup, tmp_path, capsys):
    model = tmp_path / "t.pt"
    model.write_bytes((setup / "t.pt").read_bytes())
    before = hashes(model, setup / "data")
    assert_refused(*cli(capsys, "gallery", "enroll", "--gallery", model, "--model", model, "--data",
                        setup / "data", *ENROL), "--model", model)
    assert_refused(*cli(capsys, *enrol_args(setup, setup / "data" / "g.db")), "--data", "inside")
    assert hashes(model, setup / "data") == before


def test_eval_export_convert_and_show_never_write_over_their_inputs(setup, tmp_path, capsys):
    model = tmp_path / "t.pt"
    model.write_bytes((setup / "t.pt").read_bytes())
    data = setup / "data"
    before = hashes(model, data)
    evaluate = ["eval", "--model", model, "--data", data, "--split", "all", "--protocol", "rank",
                "--probe-types", "nm-03", "--gallery-types", "nm-01", "--device", "cpu", "--no-progress"]
    assert_refused(*cli(capsys, *evaluate, "--json", model), "--model", model)
    assert_refused(*cli(capsys, *evaluate, "--plots", data / "plots"), "--data", "inside")
    assert_refused(*cli(capsys, "export", "--model", model, "--out", model, "--force"), "--model", model)
    assert_refused(*cli(capsys, "data", "convert", "--data", data, "--out", data / "pkl", "--format", "pkl"),
                   "overlaps the source")
    assert_refused(*cli(capsys, "occlusion", "show", "--data", data, "--out", data / "o.png"),
                   "--data", "inside")
    assert hashes(model, data) == before


def test_synth_on_a_full_disk_leaves_no_torn_archive(tmp_path, capsys, monkeypatch):
    out = tmp_path / "synth"
    out.mkdir()
    (out / "001.npz").write_bytes(b"an earlier archive")
    before = hashes(out)

    def torn(file, **entries):  # half an archive, then the disk is full
        file.write(b"PK\x03\x04" + bytes(4096))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez_compressed", torn)
    assert_refused(*cli(capsys, "synth", "--out", out, "--subjects", 2, "--size", 16, "--frames", 4,
                        "--force", "--no-progress"), "001.npz", "disk is full")
    assert hashes(out) == before  # the old archive intact, no torn file, no temporary file


def test_silhouettes_keeps_each_finished_video_when_interrupted(tmp_path, capsys, monkeypatch):
    pytest.importorskip("cv2", reason="the video extra (OpenCV) is not installed")
    import mimicgait.video as video
    from mimicgait.video.extract import Extraction, Quality
    from mimicgait.video.naming import parse_sequence_name

    videos = tmp_path / "videos"
    videos.mkdir()
    names = [f"{s:03d}-nm-01-090" for s in range(1, 25)]
    for name in names:
        (videos / f"{name}.avi").write_bytes(b"a video")
    calls = []

    def extract(path, *args, sequence=None, **kwargs):  # five videos done, then Ctrl-C
        calls.append(path)
        if len(calls) > 5:
            raise KeyboardInterrupt
        frames = np.zeros((3, 64, 44), np.uint8)
        frames[:, 10:50, 15:30] = 1
        return Extraction(frames, np.arange(3), sequence or parse_sequence_name(path),
                          Quality(3, 3, {}, 40.0), Path(path))

    monkeypatch.setattr(video, "extract", extract)
    out = tmp_path / "out"
    try:
        rc = main(["silhouettes", "--video", str(videos), "--out", str(out), "--people", "1"])
    except KeyboardInterrupt:
        rc = 130
    assert rc == 130
    assert sorted(p.name for p in out.iterdir()) == [f"{s:03d}.npz" for s in range(1, 6)]
    before = hashes(out)
    calls.clear()
    assert_refused(*cli(capsys, "silhouettes", "--video", videos, "--out", out, "--people", "1"), "001.npz",
                   "--force")
    # tracking people (the default), the same: refused before any video is read
    assert_refused(*cli(capsys, "silhouettes", "--video", videos, "--out", out), "001.npz", "--force")
    assert hashes(out) == before and not calls
