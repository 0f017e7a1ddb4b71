"""Deployed models: one-file export and load for every stage and inference mode, the input contract,
ONNX parity, and the device option."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from helpers import make_dataset, tiny_config

import mimicgait
from mimicgait import cli
from mimicgait.data.sources import open_dataset
from mimicgait.data.store import SequenceStore
from mimicgait.deploy import as_silhouettes, read_model_file
from mimicgait.deploy.onnx_export import walking_boxes
from mimicgait.engine.run import train
from mimicgait.errors import UserError
from mimicgait.eval.extract import extract_embeddings
from mimicgait.models.checkpoint import LAST_NAME, load_for_inference
from mimicgait.models.mimic import INFERENCE_MODES

MODES = INFERENCE_MODES  # every inference mode the mimic network has


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny teacher, VEN, occ-aware and routed mimic runs on a generated dataset."""
    root = tmp_path_factory.mktemp("deploy")
    data = make_dataset(root / "data")
    train("teacher", tiny_config(), data, root / "teacher")
    train("ven", tiny_config(), data, root / "ven")
    train("occ-aware", tiny_config(), data, root / "occ-aware")
    train("mimic", tiny_config(f"mimic.teacher={root / 'teacher'}", f"mimic.ven={root / 'ven'}",
                               "mimic.inference=routed"), data, root / "mimic")
    return root


@pytest.fixture(scope="module")
def sequences(runs):
    store = SequenceStore.from_dataset(open_dataset(runs / "data"), subjects=["001", "002"], min_frames=1)
    return [store.frames(i)[: 4 + i] for i in range(len(store))]  # mixed lengths: padded batches


def reference(run, mode, sequences):
    """Embeddings through the training-checkpoint loader, the path `mimicgait eval` used before."""
    model, _ = load_for_inference(run, inference=mode)
    return extract_embeddings(model.embed, sequences.__getitem__, [len(s) for s in sequences], 4)


def export(run, out, *extra):
    assert cli.main(["export", "--checkpoint", str(run), "--out", str(out), *extra]) == 0
    return out


@pytest.mark.parametrize(("stage", "mode"), [("teacher", None), ("occ-aware", None),
                                             *(("mimic", m) for m in MODES)])
def test_export_round_trip_needs_no_other_file(runs, sequences, tmp_path, stage, mode):
    # Export from a copy of the runs, then delete the copy: the file must stand alone.
    copy = tmp_path / "runs"
    for name in ("teacher", "ven", stage):
        shutil.copytree(runs / name, copy / name, dirs_exist_ok=True)
    out = export(copy / stage, tmp_path / "model.pt", *(["--inference", mode] if mode else []))
    shutil.rmtree(copy)
    payload = torch.load(out, map_location="cpu", weights_only=True)
    assert payload["format"] == "mimicgait-model/2" and "optimizer" not in payload
    assert payload["provenance"]["data_fingerprint"] and payload["provenance"]["mimicgait_version"]
    assert (payload["teacher"] is not None) == (mode == "routed")
    assert (payload["ven"] is not None) == (mode in ("guided", "routed"))
    model = mimicgait.load(out)
    assert model.meta["inference"] == mode and model.meta["stage"] == stage
    torch.testing.assert_close(model.embed(sequences, batch_size=4), reference(runs / stage, mode, sequences))
    # the run and its export are the same model
    assert mimicgait.load(runs / stage, inference=mode).fingerprint == model.fingerprint


def test_exported_file_is_smaller_than_the_training_checkpoint(runs, tmp_path):
    out = export(runs / "teacher", tmp_path / "teacher.pt")
    assert out.stat().st_size < 0.6 * (runs / "teacher" / LAST_NAME).stat().st_size


def test_export_refuses_what_it_cannot_ship(runs, tmp_path, capsys):
    assert cli.main(["export", "--checkpoint", str(runs / "ven"), "--out", str(tmp_path / "v.pt")]) == 2
    assert "VEN checkpoint" in capsys.readouterr().err
    out = export(runs / "teacher", tmp_path / "t.pt")
    before = out.read_bytes()
    assert cli.main(["export", "--checkpoint", str(runs / "mimic"), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == before
    assert cli.main(["export", "--checkpoint", str(runs / "teacher"), "--out", str(tmp_path / "r.pt"),
                     "--inference", "routed"]) == 2
    assert "mimic models only" in capsys.readouterr().err


def test_edited_model_file_is_refused(runs, tmp_path):
    out = export(runs / "teacher", tmp_path / "t.pt")
    payload = torch.load(out, weights_only=True)
    key = next(iter(payload["state_dict"]))
    payload["state_dict"][key] = payload["state_dict"][key] + 1
    torch.save(payload, out)
    with pytest.raises(UserError, match="fingerprint"):
        read_model_file(out)


def test_every_silhouette_encoding_gives_the_same_embedding(runs, sequences):
    model = mimicgait.load(runs / "teacher")
    base = model.embed(sequences[:3])
    for convert in (lambda s: s * 255, lambda s: s.astype(bool), lambda s: s.astype(np.float32),
                    lambda s: torch.from_numpy(s)):
        torch.testing.assert_close(model.embed([convert(s) for s in sequences[:3]]), base)


def test_raw_frames_are_pretreated(runs):
    model = mimicgait.load(runs / "teacher")
    raw = np.zeros((6, 240, 320), np.uint8)
    raw[:, 40:220, 150:190] = 255  # a person-sized box in a camera frame
    ready = as_silhouettes(raw, model.frame_size)
    assert ready.shape == (6, *model.frame_size) and set(np.unique(ready)) == {0, 1}
    assert model.embed([raw]).shape[0] == 1


@pytest.mark.parametrize(("frames", "message"), [
    (np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8), "photographs"),
    (np.random.default_rng(0).integers(0, 256, (5, 32, 32), dtype=np.uint8), "photographs"),
    (np.full((5, 32, 32), np.nan, np.float32), "NaN"),
    (np.zeros((0, 32, 32), np.uint8), "no frames"),
    (np.zeros((5, 32, 32), np.uint8), "blank"),
    (np.full((5, 32, 32), 3.0, np.float32), r"\[0, 1\]"),
])
def test_input_contract_refuses_what_is_not_a_silhouette(runs, frames, message):
    model = mimicgait.load(runs / "teacher")
    with pytest.raises(UserError, match=message):
        model.embed([frames], names=["clip.avi"])


def test_eval_accepts_an_exported_file_and_a_device(runs, tmp_path):
    out = export(runs / "mimic", tmp_path / "m.pt")
    reports = []
    for model in (runs / "mimic", out):
        path = tmp_path / f"{len(reports)}.json"
        assert cli.main(["eval", "--checkpoint", str(model), "--data", str(runs / "data"), "--split", "all",
                         "--protocol", "rank", "--probe-types", "nm-03,nm-04",
                         "--gallery-types", "nm-01,nm-02",
                         "--occlusion", "top,bottom", "--device", "cpu", "--json", str(path),
                         "--no-progress"]) == 0
        reports.append(json.loads(path.read_text()))
    assert reports[0]["metrics"] == reports[1]["metrics"]
    assert reports[1]["meta"]["device"] == "cpu" and reports[1]["meta"]["fingerprint"]


def test_device_option_is_checked(runs, capsys):
    assert cli.main(["eval", "--checkpoint", str(runs / "teacher"), "--data", str(runs / "data"),
                     "--protocol", "rank", "--probe-types", "nm-03", "--gallery-types", "nm-01",
                     "--split", "all", "--device", "tpu"]) == 2
    assert "--device" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_embeddings_match_cpu(runs, sequences):
    cpu = mimicgait.load(runs / "mimic").embed(sequences)
    gpu = mimicgait.load(runs / "mimic", device="cuda").embed(sequences)
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("mode", ["routed", "student"])
def test_onnx_matches_pytorch_on_padded_batches(runs, tmp_path, mode):
    pytest.importorskip("onnxruntime", reason="the deploy extra (onnxruntime) is not installed")
    pytest.importorskip("onnxscript", reason="the deploy extra (onnxscript) is not installed")
    from mimicgait.deploy.onnx_export import OnnxRecognizer

    out = export(runs / "mimic", tmp_path / "m.onnx", "--inference", mode)
    side = json.loads((tmp_path / "m.onnx.json").read_text())
    assert side["lengths_input"] and side["inference"] == mode
    model = mimicgait.load(runs / "mimic", inference=mode)
    seqs = walking_boxes(9, model.frame_size, seed=1)
    ours = model.embed(seqs, batch_size=4)
    onnx = OnnxRecognizer(out)
    padded = onnx.embed(seqs, batch_size=4)  # mixed lengths in a batch
    alone = torch.cat([onnx.embed([s]) for s in seqs])  # one sequence per call, no padding
    scale = float(ours.abs().max())
    assert float((padded - ours).abs().max()) <= 1e-4 * scale
    assert float((alone - padded).abs().max()) <= 1e-4 * scale


def test_data_info_flags_photographs(tmp_path, capsys):
    from PIL import Image

    rng = np.random.default_rng(0)
    silhouette = np.zeros((48, 32), np.uint8)
    silhouette[4:44, 10:22] = 255
    for subject, photo in (("001", False), ("002", True)):
        folder = tmp_path / "photos" / subject / "nm-01" / "090"
        folder.mkdir(parents=True)
        for t in range(3):
            frame = rng.integers(0, 256, (48, 32, 3), dtype=np.uint8) if photo else silhouette
            Image.fromarray(frame).save(folder / f"{t:03d}.png")
    assert cli.main(["data", "info", "--data", str(tmp_path / "photos")]) == 0
    out = capsys.readouterr().out
    assert "002/nm-01/090" in out and "photographs" in out
