"""Hostile and careless use of the command line (issue 15): every case ends with exit status 2 and
one line naming the file or key (or works), and no existing file is changed or removed.

Commands run in-process through `mimicgait.cli.main`; each case hashes the files it could harm
before and after. The numbered comments refer to the items of issue 15.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY_CLI as TINY
from helpers import cli, hashes, make_dataset

from mimicgait.cli import main
from mimicgait.engine import distributed
from mimicgait.engine.config import load_config
from mimicgait.engine.run import _collective_timeout, train
from mimicgait.errors import UserError
from mimicgait.models.checkpoint import FINAL_NAME, LAST_NAME


# -- helpers -------------------------------------------------------------------------------------
def assert_refused(rc: int, err: str, *names: object) -> None:
    """Exit 2, no traceback, exactly one error line, naming every one of `names`."""
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("mimicgait: error:")]
    assert len(lines) == 1, err
    for name in names:
        assert str(name) in lines[0], (name, lines[0])


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("hostile") / "data", subjects=6)


@pytest.fixture(scope="module")
def teacher_run(data, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("hostile-runs") / "teacher"
    train("teacher", load_config("tiny", ["train.progress=false", "train.device=cpu"]), data, run)
    return run


@pytest.fixture
def victim(tmp_path) -> Path:
    """A directory of real-looking data: CASIA-B archives when available, else synthetic ones."""
    casia = Path(os.environ.get("MIMICGAIT_CASIA_B", "/work/shared/data/casia-b")) / "train"
    out = tmp_path / "victim"
    if (casia / "001.npz").is_file():
        out.mkdir()
        for sid in ("001", "002", "003"):
            shutil.copy(casia / f"{sid}.npz", out)
        (out / "partition.json").write_text(json.dumps({"TRAIN_SET": ["001", "002", "003"], "TEST_SET": []}))
    else:
        make_dataset(out, subjects=3)
    return out


# -- 1. synth never replaces data ----------------------------------------------------------------
def test_synth_refuses_a_directory_holding_data(capsys, victim):
    before = hashes(victim)
    assert_refused(*cli(capsys, "synth", "--out", victim, "--subjects", 3, "--no-progress"), victim,
                   "--force")
    assert hashes(victim) == before


def test_synth_out_that_is_a_file(capsys, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    assert_refused(*cli(capsys, "synth", "--out", target, "--subjects", 1, "--no-progress"), target)
    assert target.read_text() == "keep me"


# -- 2. a refused or failed run leaves its directory alone ---------------------------------------
def test_refused_resume_keeps_the_run_config(capsys, data, teacher_run):
    before = hashes(teacher_run)
    rc, err = cli(capsys, "train", "ven", *TINY, "--data", data, "--out", teacher_run, "--resume",
                  "--set", "train.iterations=8")
    assert_refused(rc, err, teacher_run / LAST_NAME, "another model")
    assert hashes(teacher_run) == before


def test_train_into_the_data_directory_is_refused(capsys, data):
    before = hashes(data)
    assert_refused(*cli(capsys, "train", "teacher", *TINY, "--data", data, "--out", data), data)
    assert_refused(*cli(capsys, "train", "teacher", *TINY, "--data", data, "--out", data / "run"), data)
    assert hashes(data) == before


def test_train_into_a_foreign_directory_is_refused(capsys, data, victim):
    before = hashes(victim)
    assert_refused(*cli(capsys, "train", "teacher", *TINY, "--data", data, "--out", victim), victim,
                   "001.npz")
    assert hashes(victim) == before


def test_early_failure_writes_no_config(capsys, data, tmp_path):
    run = tmp_path / "run"
    rc, err = cli(capsys, "train", "teacher", *TINY, "--data", data, "--out", run, "--set",
                  "data.subjects=900-901")
    assert_refused(rc, err, "data.subjects")
    assert not run.exists()


# -- 3. nothing partial is left behind -----------------------------------------------------------
def test_failed_convert_leaves_no_output(capsys, data, tmp_path):
    source = tmp_path / "src"
    shutil.copytree(data, source)
    (source / "004.npz").write_bytes((source / "004.npz").read_bytes()[:100])  # truncated archive
    before = hashes(source)
    out = tmp_path / "converted"
    assert_refused(*cli(capsys, "data", "convert", "--data", source, "--out", out, "--format", "pkl"),
                   "004.npz")
    assert not out.exists()
    assert hashes(source) == before


def test_failed_convert_into_a_forced_directory_removes_only_its_files(capsys, data, tmp_path):
    source = tmp_path / "src"
    shutil.copytree(data, source)
    (source / "004.npz").write_bytes(b"not an archive")
    out = tmp_path / "converted"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    rc, err = cli(capsys, "data", "convert", "--data", source, "--out", out, "--format", "npz", "--force")
    assert_refused(rc, err, "004.npz")
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


def test_resume_removes_the_temporary_file_of_a_killed_write(capsys, data, teacher_run, tmp_path):
    run = tmp_path / "teacher"
    shutil.copytree(teacher_run, run)
    stale = run / "checkpoints" / ".last.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    rc, err = cli(capsys, "train", "teacher", *TINY, "--data", data, "--out", run, "--resume",
                  "--set", "train.iterations=6")
    assert rc == 0, err
    assert not stale.exists() and (run / FINAL_NAME).is_file()


# -- 4. output paths are checked first; OS errors name the path -----------------------------------
@pytest.mark.parametrize("command", ["train", "synth", "pipeline"])
def test_out_that_is_a_file(capsys, data, tmp_path, command):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    args = {
        "train": ["train", "teacher", *TINY, "--data", data],
        "synth": ["synth", "--subjects", 1, "--no-progress"],
        "pipeline": ["pipeline", "--config", "tiny", "--data", data, "--no-progress"],
    }[command]
    assert_refused(*cli(capsys, *args, "--out", target), target)
    assert target.read_text() == "keep me"


def test_eval_checks_json_and_plots_before_evaluating(capsys, data, teacher_run, tmp_path, monkeypatch):
    import mimicgait.eval.evaluate as evaluate_module

    monkeypatch.setattr(evaluate_module, "evaluate", lambda *a,
                        **k: pytest.fail("evaluated before the check"))
    base = ["eval", "--checkpoint", teacher_run, "--data", data, "--protocol", "rank", "--split", "all",
            "--probe-types", "nm-03,nm-04", "--gallery-types", "nm-01,nm-02", "--no-progress"]
    assert_refused(*cli(capsys, *base, "--json", tmp_path), "--json", tmp_path)
    plots = tmp_path / "plots.png"
    plots.write_bytes(b"a picture")
    assert_refused(*cli(capsys, *base, "--plots", plots), "--plots", plots)
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}')  # not a report: never overwritten
    assert_refused(*cli(capsys, *base, "--json", notes), notes)
    assert plots.read_bytes() == b"a picture" and notes.read_text() == '{"mine": true}'


def test_unwritable_output_locations(capsys, data, teacher_run, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: Path(p) != locked and real_access(p, mode, **k))
    cases = [
        ["synth", "--subjects", 1, "--no-progress", "--out", locked / "synth"],
        ["train", "teacher", *TINY, "--data", data, "--out", locked / "run"],
        ["data", "convert", "--data", data, "--format", "pkl", "--out", locked / "pkl"],
        ["occlusion", "show", "--data", data, "--out", locked / "occ.png"],
        ["eval", "--checkpoint", teacher_run, "--data", data, "--protocol", "rank", "--split", "all",
         "--probe-types", "nm-03", "--gallery-types", "nm-01", "--json", locked / "r.json"],
    ]
    for args in cases:
        assert_refused(*cli(capsys, *args), locked, "permission")
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission")
def test_really_unwritable_directory(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert_refused(*cli(capsys, "synth", "--subjects", 1, "--no-progress", "--out", locked / "s"), locked)


def test_full_disk_names_the_file_and_keeps_the_old_one(capsys, data, tmp_path, monkeypatch):
    import mimicgait.io as io_module

    out = tmp_path / "converted"

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io_module.os, "fsync", no_space)
    rc, err = cli(capsys, "data", "convert", "--data", data, "--out", out, "--format", "npz")
    assert_refused(rc, err, out, "disk is full")
    assert not out.exists()


def test_occlusion_show_never_overwrites_without_force(capsys, data, tmp_path):
    picture = tmp_path / "occ.png"
    picture.write_bytes(b"my picture")
    assert_refused(*cli(capsys, "occlusion", "show", "--data", data, "--out", picture), picture, "--force")
    assert picture.read_bytes() == b"my picture"


# -- 5. batches that cannot form pairs -----------------------------------------------------------
@pytest.mark.parametrize("stage", ["teacher", "occ-aware", "mimic"])
@pytest.mark.parametrize("key", ["data.ids_per_batch", "data.seqs_per_id"])
def test_batches_without_pairs_are_refused(capsys, data, tmp_path, stage, key):
    rc, err = cli(capsys, "train", stage, *TINY, "--data", data, "--out", tmp_path / "run", "--set",
                  f"{key}=1")
    assert_refused(rc, err, key)
    assert not (tmp_path / "run").exists()


# -- 6. tracebacks that were user errors ---------------------------------------------------------
def _config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("base: tiny\n" + text)
    return path


def test_input_size_an_int(capsys, data, tmp_path):
    bad = _config_file(tmp_path, "data: {input_size: 16}\n")
    rc, err = cli(capsys, "train", "teacher", "--config", bad, "--data", data, "--out", tmp_path / "run")
    assert_refused(rc, err, "data.input_size", bad)


def _broken_copy(teacher_run: Path, tmp_path: Path, change) -> Path:
    payload = torch.load(teacher_run / FINAL_NAME, weights_only=True)
    change(payload)
    path = tmp_path / "broken.pt"
    torch.save(payload, path)
    return path


def _eval(capsys, checkpoint: Path, data: Path) -> tuple[int, str]:
    """Load `checkpoint` as a mimic run's teacher (models.checkpoint.load_checkpoint / load_weights)."""
    out = checkpoint.parent / "mimic-run"
    rc, err = cli(capsys, "train", "mimic", *TINY, "--data", data, "--out", out,
                  "--set", "mimic.guidance=false",
                  "--set", f"mimic.teacher={checkpoint}")
    assert not out.exists()
    return rc, err


def test_checkpoint_whose_weights_do_not_match_its_spec(capsys, data, teacher_run, tmp_path):
    def shrink(payload):
        key = next(iter(payload["state_dict"]))
        payload["state_dict"][key] = torch.zeros(1)

    path = _broken_copy(teacher_run, tmp_path, shrink)
    assert_refused(*_eval(capsys, path, data), path, "do not match")


def test_checkpoint_without_model_spec(capsys, data, teacher_run, tmp_path):
    path = _broken_copy(teacher_run, tmp_path, lambda p: p.pop("model_spec"))
    assert_refused(*_eval(capsys, path, data), path, "model_spec")


def test_divergence_is_one_line(capsys, data, tmp_path, monkeypatch):
    from mimicgait.engine.stages.recognition import TeacherStage

    def diverged(self, model, batch, generator):
        return torch.tensor(float("nan"), requires_grad=True), {}

    monkeypatch.setattr(TeacherStage, "compute", diverged)
    rc, err = cli(capsys, "train", "teacher", *TINY, "--data", data, "--out", tmp_path / "run")
    assert_refused(rc, err, "optim.lr", "diverged")


def test_cli_lets_real_bugs_keep_their_traceback(monkeypatch):
    import mimicgait.commands.configs as configs_command

    def bug(args):
        raise KeyError("a bug")

    monkeypatch.setattr(configs_command, "run", bug)
    with pytest.raises(KeyError):
        main(["configs"])


# -- 7. silently accepted settings ---------------------------------------------------------------
@pytest.mark.parametrize("value", ["2.5", "0", "-3"])
def test_iterations_must_be_a_positive_whole_number(capsys, data, tmp_path, value):
    run = tmp_path / "run"
    rc, err = cli(capsys, "train", "teacher", *TINY, "--data", data, "--out", run, "--set",
                  f"train.iterations={value}")
    assert_refused(rc, err, "train.iterations")
    assert not run.exists()


def test_duplicate_yaml_keys(capsys, data, tmp_path):
    bad = _config_file(tmp_path, "train:\n  iterations: 3\n  iterations: 4\n")
    rc, err = cli(capsys, "train", "teacher", "--config", bad, "--data", data, "--out", tmp_path / "run")
    assert_refused(rc, err, bad, "iterations", "twice")


@pytest.mark.parametrize("setting, key", [
    ("occlusion.amount_range=[0.5]", "occlusion.amount_range"),
    ("occlusion.kinds={top: -0.5, bottom: 0.5}", "occlusion.kinds.top"),
])
def test_occlusion_settings_name_their_key(capsys, data, tmp_path, setting, key):
    rc, err = cli(capsys, "train", "baseline", *TINY, "--data", data, "--out", tmp_path / "run",
                  "--set", setting)
    assert_refused(rc, err, key)


# -- 8. checkpoints and data files that are broken or hostile ------------------------------------
def test_truncated_checkpoint(capsys, data, teacher_run, tmp_path):
    path = tmp_path / "cut.pt"
    path.write_bytes((teacher_run / FINAL_NAME).read_bytes()[:2000])
    assert_refused(*_eval(capsys, path, data), path, "truncated or not a checkpoint")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    assert_refused(*_eval(capsys, empty, data), empty, "truncated or not a checkpoint")


class _Opens:
    """Pickles as a call of open(marker, 'w'): loading it would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_checkpoint_that_would_run_code_is_refused(capsys, data, tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"format": "mimicgait/1", "stage": "teacher", "x": _Opens(marker)}, path)
    rc, err = _eval(capsys, path, data)
    assert_refused(rc, err, path, "could run code")
    assert "weights_only=False" not in err and not marker.exists()


def test_pickle_that_would_run_code_is_refused(capsys, tmp_path):
    import pickle

    marker = tmp_path / "ran"
    evil = tmp_path / "pkl" / "001" / "nm-01" / "000"
    evil.mkdir(parents=True)
    (evil / "000.pkl").write_bytes(pickle.dumps(_Opens(marker)))
    rc, err = cli(capsys, "data", "convert", "--data", tmp_path / "pkl", "--out", tmp_path / "o",
                  "--format", "npz")
    assert_refused(rc, err, "000.pkl", "unsafe")
    assert not marker.exists() and not (tmp_path / "o").exists()


def test_partition_of_other_data_gives_the_training_hint(capsys, data, tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"TRAIN_SET": ["900"], "TEST_SET": []}))
    rc, err = cli(capsys, "train", "teacher", *TINY, "--data", data, "--out", tmp_path / "run",
                  "--set", f"data.partition={other}")
    assert_refused(rc, err, other, "--set data.partition=")
    assert "--partition " not in err


def test_bad_partition_file(capsys, data, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert_refused(*cli(capsys, "data", "info", "--data", data, "--partition", bad), bad)


# -- 9. distributed ------------------------------------------------------------------------------
def test_process_group_gets_the_configured_timeout(monkeypatch):
    seen = {}
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend,
                        timeout: seen.update(t=timeout))
    distributed.setup("cpu")
    assert seen["t"] == timedelta(seconds=distributed.DEFAULT_TIMEOUT_S)
    distributed.setup("cpu", 12.5)
    assert seen["t"] == timedelta(seconds=12.5)
    assert load_config("tiny")["train"]["dist_timeout_s"] >= 600  # generous by default


def test_collective_timeout_becomes_a_user_error():
    info = distributed.DistInfo(rank=1, world_size=2)
    err = _collective_timeout(RuntimeError("[gloo] Timed out waiting 30000ms for recv"), info, 30)
    assert isinstance(err, UserError) and "train.dist_timeout_s=30" in str(err) and "rank 1" in str(err)
    assert _collective_timeout(RuntimeError("shape mismatch"), info, 30) is None


def test_only_rank_0_reports(data, tmp_path):
    env = {**os.environ, "RANK": "1", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}
    cmd = [sys.executable, "-m", "mimicgait.cli", "train", "teacher", *TINY, "--data", str(data),
           "--out", str(tmp_path / "run"), "--set", "train.iterations=1"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "INFO" not in done.stderr


# -- 10. data info -------------------------------------------------------------------------------
def test_data_info_flags_blank_sequences_and_notes_an_absent_split(capsys, tmp_path):
    root = make_dataset(tmp_path / "d", subjects=3)
    with np.load(root / "001.npz") as archive:
        entries = {k: archive[k] for k in archive.files}
    entries["nm-01/000"] = np.zeros_like(entries["nm-01/000"])
    np.savez_compressed(root / "001.npz", **entries)
    (root / "partition.json").write_text(json.dumps({"TRAIN_SET": ["001", "002", "003"],
                                                      "TEST_SET": ["004", "005"]}))
    before = hashes(root)
    rc = main(["data", "info", "--data", str(root), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0 and report["blank_sequences"] == ["001/nm-01/000"]
    assert any("blank" in p for p in report["problems"])
    assert not any("TEST_SET" in p for p in report["problems"])
    assert any("TEST_SET" in n for n in report["notes"])
    assert hashes(root) == before


# -- 14. configs on other data; the list of configs ----------------------------------------------
def test_casia_subject_ids_on_other_data_name_the_fix(capsys, data, tmp_path):
    rc, err = cli(capsys, "train", "teacher", *TINY, "--data", data, "--out", tmp_path / "run",
                  "--set", "data.val_subjects=063-074")
    assert_refused(rc, err, "data.val_subjects", "--set data.val_subjects=null")


def test_configs_lists_the_builtin_configs(capsys):
    assert main(["configs"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "casia-b/cpu" in out
    assert_refused(*cli(capsys, "configs", "--show", "nope"), "nope", "tiny")


# -- 12, 13. reports a person reads --------------------------------------------------------------
def test_plots_skip_a_none_only_per_kind_and_mask_the_diagonal(tmp_path):
    from mimicgait.eval.plots import plot_per_kind, plot_view_tables

    holistic = {"per_kind": {"none": {"rank1.NM": 90.0}}}
    assert plot_per_kind([("teacher", holistic)], tmp_path) == []
    occluded = {"per_kind": {"none": {"rank1.NM": 90.0}, "top": {"rank1.NM": 50.0, "rank1.BG": 40.0}}}
    [path] = plot_per_kind([("a", occluded), ("b", occluded)], tmp_path)
    from PIL import Image

    assert Image.open(path).size[0] <= 12 * 120  # readable width, whatever the number of keys
    table = {"views": ["000", "090"], "rank1": [[100.0, 50.0], [60.0, 100.0]], "rank1_per_probe_view": {}}
    assert plot_view_tables({"tables": {"NM": table}}, tmp_path)


def test_reports_warn_about_few_subjects_and_impostor_pairs():
    from mimicgait.eval.report import format_report

    report = {"protocol": "verification", "subjects": ["001", "002", "003"],
              "metrics": {"tar@far=0.001": 20.0, "impostor_pairs": 5808.0}}
    text = format_report(report)
    assert "| impostor_pairs | 5808 |" in text
    assert "3 evaluation subjects" in text and "tar@far=0.001 rests on 5808 impostor pairs" in text


def test_compare_and_summary_warn_about_few_subjects():
    from mimicgait.eval.compare import compare_markdown

    report = {"protocol": "rank", "subjects": ["001", "002", "003"], "metrics": {"rank1": 50.0},
              "occlusion": {"kinds": ["top"], "gallery": "same"}, "meta": {"stage": "teacher"}}
    text = compare_markdown([("a", report), ("b", dict(report))])
    assert "warning (every column): the figures rest on 3 evaluation subjects" in text
    many = dict(report, subjects=[f"{i:03d}" for i in range(12)])
    assert "warning" not in compare_markdown([("a", many)])


def test_routed_inference_on_a_teacher_names_the_fix(data, teacher_run, capsys):
    from mimicgait import cli

    code = cli.main(["eval", "--checkpoint", str(teacher_run), "--data", str(data), "--split", "all",
                     "--protocol", "rank", "--probe-types", "nm-03", "--gallery-types", "nm-01",
                     "--inference", "routed", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(teacher_run) in err and "mimic models only" in err
