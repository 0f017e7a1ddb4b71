"""Hostile and careless input (issue 29, part B): names that would leave their room, YAML alias bombs,
sizes that would need terabytes, values out of range, failing plugins and Ctrl-C.

Every refusal is exit status 2 with exactly one line on stderr that names the option, key or file,
and no traceback; nothing is written outside `--out`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import make_dataset
from PIL import Image

from mimicgait.cli import main
from mimicgait.commands._checks import (
    check_calibration,
    check_frame_size,
    distance_threshold,
    foreground_threshold,
    frame_side,
    nonneg_int,
    positive_int,
    probability,
)
from mimicgait.data.names import check_name, name_problem
from mimicgait.data.records import DataError, SequenceRecord
from mimicgait.errors import UserError
from mimicgait.video.naming import parse_id_option
from mimicgait.video.segmenter import load_segmenter, run_segmenter


@contextlib.contextmanager
def memory_cap(extra: int = 4 * 2**30) -> Iterator[None]:
    """Cap this process's address space at its current size plus `extra` bytes while inside (Linux),
    so a refusal that regresses into allocating terabytes fails with MemoryError instead of
    bringing the out-of-memory killer onto the machine."""
    try:
        import resource

        status = Path("/proc/self/status").read_text()
    except (ImportError, OSError):
        yield
        return
    size = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmSize:"))) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + extra if hard == resource.RLIM_INFINITY else min(size + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_cli(args: list[str], capsys) -> tuple[int, list[str]]:
    """(exit status, stderr lines) of `mimicgait ARGS` run in this process (under `memory_cap`);
    argparse's refusals (SystemExit) included."""
    with memory_cap():
        try:
            code = main(args)
        except SystemExit as stop:
            code = stop.code
    err = capsys.readouterr().err
    return code, err.splitlines()


def refused(args: list[str], capsys, *named: str) -> str:
    """Run ARGS; assert exit 2, one stderr line naming every string in `named`, no traceback."""
    code, lines = run_cli(args, capsys)
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    for text in named:
        assert text in lines[0], lines[0]
    return lines[0]


def tree_listing(root: Path) -> set[Path]:
    """Every path under `root`."""
    return set(root.rglob("*"))


# -- names stay in their room ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "nm\x00", "09\n0", "x\x7f",
                                  "n" * 200, 7])
def test_bad_names_are_refused(name):
    assert name_problem(name) is not None
    with pytest.raises(UserError, match="subject"):
        check_name(name, "subject")


@pytest.mark.parametrize("name", ["001", "nm-01", "090", "bg_02", "a.b", "Ünïcode"])
def test_plain_names_pass(name):
    assert name_problem(name) is None and check_name(name, "view") == name


def test_a_record_with_a_path_for_a_name_cannot_be_made():
    with pytest.raises(DataError, match="condition"):
        SequenceRecord("001", "..", "090", np.zeros((2, 4, 8), np.uint8))


def _archive_with(path: Path, entries: dict[str, np.ndarray]) -> None:
    """An npz archive whose entries have exactly these names (no checks, as an attacker writes it)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in entries.items():
            with archive.open(f"{name}.npy", "w") as f:
                np.lib.format.write_array(f, array)


def _frames() -> np.ndarray:
    frames = np.zeros((12, 16, 16), np.uint8)
    frames[:, 3:13, 5:11] = 1
    return np.packbits(frames, axis=-1)


@pytest.mark.parametrize("entry", ["../..", "../../../escape", "nm-01/..", "./090", "nm\\01/090",
                                   "nm-01/09\x010"])
@pytest.mark.parametrize("fmt", ["pkl", "npz"])
def test_crafted_archive_cannot_write_outside_out(tmp_path, capsys, entry, fmt):
    data = tmp_path / "d"
    data.mkdir()
    _archive_with(data / "001.npz", {"nm-01/090": _frames(), entry: _frames()})
    out = tmp_path / "x" / "y" / "out"
    before = tree_listing(tmp_path)
    refused(["data", "convert", "--data", str(data), "--out", str(out), "--format", fmt], capsys,
            "001.npz", "entry")
    assert tree_listing(tmp_path) - before <= {tmp_path / "x", tmp_path / "x" / "y"}  # nothing written
    # skipping bad files converts the rest, and still only inside --out
    code, _ = run_cli(["data", "convert", "--data", str(data), "--out", str(out), "--format", fmt,
                       "--skip-bad"], capsys)
    assert code == 0
    new = tree_listing(tmp_path) - before
    assert all(p == out or out in p.parents or p in (tmp_path / "x", tmp_path / "x" / "y") for p in new)
    converted = {tuple(p.relative_to(out).parts) for p in out.rglob("*") if p.is_file()}
    assert converted == ({("001", "nm-01", "090", "090.pkl")} if fmt == "pkl" else {("001.npz",)})


def test_archive_named_dot_is_refused(tmp_path, capsys):
    data = tmp_path / "d"
    data.mkdir()
    _archive_with(data / "..npz", {"nm-01/090": _frames()})
    _archive_with(data / "002.npz", {"nm-01/090": _frames()})
    refused(["data", "convert", "--data", str(data), "--out", str(tmp_path / "o"), "--format", "pkl"],
            capsys, "..npz", "subject name")


@pytest.mark.parametrize("folder", [("x\\y", "nm-01", "090"), ("001", "nm\x01", "090"),
                                    ("001", "nm-01", "0\n90")])
def test_crafted_pkl_tree_names_are_refused(tmp_path, capsys, folder):
    data = tmp_path / "d"
    for key in (("001", "nm-01", "000"), folder):
        (data / Path(*key)).mkdir(parents=True)
        frames = np.zeros((12, 16, 16), np.uint8)
        frames[:, 3:13, 5:11] = 255
        (data / Path(*key) / "s.pkl").write_bytes(pickle.dumps(frames))
    out = tmp_path / "out"
    line = refused(["data", "convert", "--data", str(data), "--out", str(out), "--format", "npz"], capsys,
                   "folder name")
    assert "\n" not in line and not out.exists()
    code, _ = run_cli(["data", "convert", "--data", str(data), "--out", str(out), "--format", "pkl",
                       "--skip-bad"], capsys)
    assert code == 0
    assert {p.relative_to(out).parts for p in out.rglob("*.pkl")} == {("001", "nm-01", "000", "000.pkl")}


@pytest.mark.parametrize("text", ["../../../tmp/x-nm-01-090", "../../x-nm-01-090", "a/001-nm-01-090",
                                  "..\\001-nm-01-090", "001-nm-01-090\n"])
def test_id_with_a_path_is_refused(text):
    with pytest.raises(UserError, match="--id"):
        parse_id_option(text)


def _frame_folder(root: Path, frames: int = 12) -> Path:
    """Colour frames of a grey scene with a dark block walking across (a person, roughly)."""
    root.mkdir(parents=True)
    for t in range(frames):
        image = np.full((120, 160, 3), 180, np.uint8)
        image[20:100, 20 + 8 * t : 40 + 8 * t] = 30
        Image.fromarray(image).save(root / f"{t:03d}.png")
    return root


def test_silhouettes_id_with_a_path_writes_nothing(tmp_path, capsys):
    pytest.importorskip("cv2")
    frames = _frame_folder(tmp_path / "frames")
    before = tree_listing(tmp_path)
    refused(["silhouettes", "--frames", str(frames), "--id", "../../../tmp/x-nm-01-090",
             "--out", str(tmp_path / "out")], capsys, "--id", "separator")
    assert tree_listing(tmp_path) == before


# -- configs: alias bombs, sizes, ranges --------------------------------------------------------

BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
)
#: Few aliases, each doubling: 2^18 values from 36 aliases.
DOUBLING = "\n".join(["a0: &a0 [1, 1]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 18)])


@pytest.mark.parametrize("text", [BOMB, DOUBLING, "a: &a [*a]"])
def test_yaml_alias_bomb_is_refused_naming_the_file(tmp_path, capsys, text):
    config = tmp_path / "bomb.yaml"
    config.write_text(text + "\n")
    refused(["train", "teacher", "--config", str(config), "--data", str(tmp_path), "--out",
             str(tmp_path / "run")], capsys, "bomb.yaml", "alias")
    assert not (tmp_path / "run").exists()


def test_yaml_alias_bomb_in_an_override_is_refused(tmp_path, capsys):
    refused(["train", "teacher", "--config", "tiny", "--data", str(tmp_path), "--out", str(tmp_path / "r"),
             "--set", "seed=" + DOUBLING.replace("\n", ", ").join("{}")], capsys, "--set", "alias")


def test_a_few_aliases_still_work(tmp_path):
    from mimicgait.engine.config import load_config

    config = tmp_path / "ok.yaml"
    config.write_text("base: tiny\noptim: {milestones: &m [3]}\nmodel: {encoder_kwargs: "
                      "{channels: [4, 8, 8, 16], parts: 4, out_channels: 16}}\n"
                      "data: {input_size: [16, 11]}\n")
    assert load_config(config)["optim"]["milestones"] == [3]


@pytest.mark.parametrize("setting, key", [
    ("optim.lr=-1", "optim.lr"),
    ("optim.lr=.nan", "optim.lr"),
    ("optim.weight_decay=-1", "optim.weight_decay"),
    ("optim.milestones=[abc]", "optim.milestones"),
    ("optim.gamma=-5", "optim.gamma"),
    ("optim.momentum=5", "optim.momentum"),
    ("loss.triplet_margin=-1", "loss.triplet_margin"),
    ("train.checkpoint_every=-1", "train.checkpoint_every"),
    ("train.log_every=0", "train.log_every"),
    ("seed=-1", "seed"),
    ("data.flip=2", "data.flip"),
    ("model.label_smoothing=1", "model.label_smoothing"),
    ("model.encoder_kwargs.channels=[60000,60000,60000,60000]", "model.encoder_kwargs.channels[0]"),
    ("model.encoder_kwargs.channels=[4000,4000,4000,4000]", "model.encoder_kwargs"),
    ("data.input_size=[100000,100000]", "data.input_size"),
    ("data.frames.frames=10000000", "data.frames.frames"),
    ("data.ids_per_batch=100000", "data.ids_per_batch"),
    ("ven.feature_dim=1000000", "ven.feature_dim"),
    ("val.batch_size=0", "val.batch_size"),
])
def test_config_values_out_of_range_are_refused_by_key(tmp_path, capsys, setting, key):
    refused(["train", "teacher", "--config", "tiny", "--data", str(tmp_path), "--out", str(tmp_path / "r"),
             "--set", setting], capsys, key, "--set")
    assert not (tmp_path / "r").exists()


# -- command-line values --------------------------------------------------------------------------


def test_data_info_short_must_not_be_negative(tmp_path, capsys):
    refused(["data", "info", "--data", str(tmp_path), "--short", "-1"], capsys, "--short")


def test_eval_max_frames_and_batch_size_must_be_positive(tmp_path, capsys):
    base = ["eval", "--checkpoint", str(tmp_path / "m.pt"), "--data", str(tmp_path), "--protocol", "rank"]
    refused([*base, "--max-frames", "0"], capsys, "--max-frames")
    refused([*base, "--batch-size", "0"], capsys, "--batch-size")


def test_eval_list_that_is_not_text_is_refused(tmp_path, capsys):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(bytes(range(256)) * 4)
    refused(["eval", "--checkpoint", str(garbage), "--data", str(tmp_path), "--protocol", "rank",
             "--list", str(garbage)], capsys, "--list", "garbage.pt")


def test_occlusion_show_scale_is_refused_from_its_arithmetic(tmp_path, capsys):
    data = make_dataset(tmp_path / "d", subjects=2, conditions=1, views=1, frames=4, size=16)
    for suffix in (".png", ".gif"):
        out = tmp_path / f"o{suffix}"
        refused(["occlusion", "show", "--data", str(data), "--out", str(out), "--scale", "100000"], capsys,
                "--scale 100000", "GiB")
        assert not out.exists()
    refused(["occlusion", "show", "--data", str(data), "--out", str(tmp_path / "o.png"), "--frames",
             "100000000"], capsys, "--frames")


@pytest.mark.parametrize("args, option", [
    (["synth", "--size", "200000"], "--size"),
    (["synth", "--seed", "-1"], "--seed"),
    (["synth", "--workers", "-1"], "--workers"),
    (["synth", "--subjects", "0"], "--subjects"),
])
def test_synth_values_are_checked_where_they_enter(tmp_path, capsys, args, option):
    out = tmp_path / "synth"
    refused([*args[:1], "--out", str(out), "--subjects", "1", *args[1:]], capsys, option)
    assert not out.exists()


@pytest.mark.parametrize("value", ["-5", "1000"])
def test_silhouettes_threshold_is_checked_where_it_enters(tmp_path, capsys, value):
    refused(["silhouettes", "--frames", str(tmp_path), "--out", str(tmp_path / "o"), "--threshold", value],
            capsys, "--threshold")


@pytest.mark.parametrize("extra, option", [
    (["--threshold", "-1"], "--threshold"),
    (["--threshold", "nan"], "--threshold"),
    (["--far", "2"], "--far"),
    (["--calibration", "verif.json"], "--calibration"),
])
def test_identify_threshold_and_calibration_are_checked(tmp_path, capsys, extra, option):
    refused(["identify", "--gallery", str(tmp_path / "g.db"), "--model", str(tmp_path / "m.pt"),
             "--data", str(tmp_path), *extra], capsys, option)


def test_models_input_size_is_refused_before_allocating(capsys):
    refused(["models", "--input", "100000", "100000"], capsys, "--input")


@pytest.mark.parametrize("parse, good, bad", [
    (positive_int, ["1", "16"], ["0", "-1", "x", "1.5"]),
    (nonneg_int, ["0", "7"], ["-1", "nan"]),
    (distance_threshold, ["0", "0.5", "3"], ["-1", "-0.1", "nan", "inf", "abc"]),
    (probability, ["0.01", "0.5"], ["0", "1", "-0.1", "nan"]),
    (frame_side, ["8", "64", "1024"], ["200000", "12", "0", "-8"]),
    (foreground_threshold, ["0", "30", "254"], ["-5", "1000", "255"]),
])
def test_argparse_types_refuse_out_of_range_values(parse, good, bad):
    import argparse

    for text in good:
        parse(text)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_models_input_size_is_bounded():
    assert check_frame_size([64, 44]) == (64, 44)
    with pytest.raises(UserError, match="--input 100000 100000"):
        check_frame_size([100000, 100000])


def test_calibration_without_far_is_refused():
    check_calibration(None, None)
    check_calibration("verif.json", 0.01)
    with pytest.raises(UserError, match="--calibration verif.json.*--far"):
        check_calibration("verif.json", None)


def test_all_blank_sequence_is_refused_naming_it(tmp_path):
    from helpers import make_dataset

    from mimicgait.deploy.inputs import from_data

    data = make_dataset(tmp_path / "d", subjects=1, conditions=2, views=1)
    with np.load(data / "001.npz") as archive:
        entries = dict(archive)
    entries["nm-02/000"] = np.zeros_like(entries["nm-02/000"])
    np.savez_compressed(data / "001.npz", **entries)
    sequences = from_data(str(data), (32, 32))
    assert sequences.load(0).any()
    with pytest.raises(UserError, match="001/nm-02/000: every frame is blank"):
        sequences.load(1)


def test_command_line_mistakes_are_one_line(tmp_path, capsys):
    refused(["data", "info"], capsys, "--data")  # a missing required option
    refused(["data", "info", "--data", str(tmp_path), "--no-such-option"], capsys, "--no-such-option")


# -- plugins, messages, Ctrl-C ------------------------------------------------------------------


def test_segmenter_plugin_with_a_syntax_error_is_one_line_naming_it(tmp_path, capsys):
    plugin = tmp_path / "broken_plugin.py"
    plugin.write_text("def segment(frames):\n    return frames +\n")
    with pytest.raises(UserError, match=r"--segmenter .*broken_plugin\.py:segment.*SyntaxError"):
        load_segmenter(f"{plugin}:segment")
    raising = tmp_path / "raising_plugin.py"
    raising.write_text("raise RuntimeError('no model weights here')\n")
    with pytest.raises(UserError, match="raising_plugin.*RuntimeError: no model weights here"):
        load_segmenter(f"{raising}:segment")


def test_segmenter_that_raises_is_one_line_naming_it():
    def segment(frames):
        raise ValueError("cannot segment this")

    with pytest.raises(UserError, match=r"segmenter test_hostile_inputs:segment failed.*ValueError: cannot "
                                        "segment this"):
        run_segmenter(segment, np.zeros((2, 8, 8, 3), np.uint8))


def test_segmenter_failures_through_the_command(tmp_path, capsys):
    pytest.importorskip("cv2")
    frames = _frame_folder(tmp_path / "frames")
    plugin = tmp_path / "failing_plugin.py"
    plugin.write_text("def segment(frames):\n    raise RuntimeError('boom')\n\ndef bad(:\n")
    args = ["silhouettes", "--frames", str(frames), "--id", "001-nm-01-090"]
    refused([*args, "--out", str(tmp_path / "a"), "--segmenter", f"{plugin}:segment"], capsys,
            "--segmenter", "failing_plugin.py", "SyntaxError")
    plugin.write_text("def segment(frames):\n    raise RuntimeError('boom')\n")
    refused([*args, "--out", str(tmp_path / "b"), "--segmenter", f"{plugin}:segment"], capsys,
            "segmenter failing_plugin:segment", "RuntimeError: boom")
    with pytest.raises(UserError) as caught:  # -v: the plugin's own traceback is kept as the cause
        main(["-v", *args, "--out", str(tmp_path / "c"), "--segmenter", f"{plugin}:segment"])
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_no_person_names_the_threshold(tmp_path, capsys):
    pytest.importorskip("cv2")
    frames = _frame_folder(tmp_path / "frames")
    refused(["silhouettes", "--frames", str(frames), "--id", "001-nm-01-090", "--out", str(tmp_path / "o"),
             "--threshold", "254"], capsys, "no usable person", "--threshold 254")


def test_ctrl_c_in_process_is_one_line_and_130(monkeypatch, capsys, tmp_path):
    import mimicgait.commands.data as data_command

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(data_command, "run_info", interrupted)
    code, lines = run_cli(["data", "info", "--data", str(tmp_path)], capsys)
    assert code == 130 and lines == ["mimicgait: interrupted (Ctrl-C)"]


def test_ctrl_c_during_a_long_command_is_one_line_and_130(tmp_path):
    out = tmp_path / "synth"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mimicgait.cli", "synth", "--out", str(out), "--subjects", "2000",
         "--no-progress"], stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    try:
        deadline = time.monotonic() + 300  # a guard against a hang, not a timing assertion
        while not (out / "001.npz").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert err.splitlines() == ["mimicgait: interrupted (Ctrl-C)"]
