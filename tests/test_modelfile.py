"""Model files are checked before they are trusted: every answer-changing section is fingerprinted,
sizes are proven against the file's tensors before anything is allocated, and a file that is not a
model says so (not "unsafe")."""

from __future__ import annotations

import os

import pytest
import torch

from mimicgait.deploy.modelfile import LEGACY_FORMAT, MODEL_FORMAT, fingerprint, read_model_file
from mimicgait.deploy.recognizer import load
from mimicgait.errors import UserError
from mimicgait.models import create_encoder
from mimicgait.models.spec import build_model


def _payload(channels=(4, 8, 8, 8), fmt=MODEL_FORMAT) -> dict:
    """A model-file dict for an untrained tiny recogniser, written as `export` writes one."""
    encoder = create_encoder("gaitbase", channels=channels, parts=4, out_channels=8, input_size=(32, 22))
    spec = {"kind": "recognizer", "encoder": encoder.spec(), "num_classes": 0,
            "preprocess": {"crop": "none", "size": None}}
    state = {k: v.clone() for k, v in build_model(spec).state_dict().items()}
    payload = {"format": fmt, "stage": "teacher", "inference": None, "model_spec": spec, "state_dict": state,
               "teacher": None, "ven": None,
               "input": {"frame_size": [32, 22], "encoding": "silhouettes",
                         "preprocess": {"crop": "none", "size": None}},
               "embedding": {"channels": 8, "parts": 4, "layout": "[N, C, P]", "metric": "euc"},
               "provenance": {"stage": "teacher"}}
    payload["fingerprint"] = fingerprint(payload)
    return payload


def _save(payload: dict, path) -> str:
    torch.save(payload, path)
    return str(path)


def test_a_hand_written_file_loads(tmp_path):
    model = load(_save(_payload(), tmp_path / "m.pt"))
    assert model.embed([torch.ones(5, 32, 22)]).shape == (1, 8, 4)


@pytest.mark.parametrize("section,key,value", [
    ("embedding", "metric", "cos"), ("input", "frame_size", [64, 44]), (None, "stage", "baseline"),
])
def test_every_answer_changing_section_is_fingerprinted(tmp_path, section, key, value):
    payload = _payload()
    (payload[section] if section else payload)[key] = value
    with pytest.raises(UserError, match="fingerprint"):
        read_model_file(_save(payload, tmp_path / "m.pt"))


def test_a_spec_asking_for_more_than_the_file_holds_is_refused_before_allocating(tmp_path):
    payload = _payload()
    payload["model_spec"]["encoder"]["channels"] = [50000] * 4  # 90 GB if built
    payload["fingerprint"] = fingerprint(payload)  # a forger recomputes it
    with pytest.raises(UserError, match="do not fit"):
        load(_save(payload, tmp_path / "m.pt"))


def test_a_spec_that_cannot_be_built_is_one_clear_error(tmp_path):
    payload = _payload()
    payload["model_spec"]["encoder"]["channels"] = ["abc"] * 4
    payload["fingerprint"] = fingerprint(payload)
    with pytest.raises(UserError, match="cannot be built"):
        load(_save(payload, tmp_path / "m.pt"))


def test_embedding_sizes_must_match_the_network(tmp_path):
    payload = _payload()
    payload["embedding"]["channels"] = 99
    payload["fingerprint"] = fingerprint(payload)
    with pytest.raises(UserError, match="embedding section"):
        load(_save(payload, tmp_path / "m.pt"))


def test_a_format_1_file_still_loads_and_cannot_claim_another_metric(tmp_path):
    payload = _payload(fmt=LEGACY_FORMAT)
    assert load(_save(payload, tmp_path / "v1.pt")).fingerprint == payload["fingerprint"]
    payload["embedding"]["metric"] = "cos"  # not covered by a format-1 fingerprint, so checked instead
    with pytest.raises(UserError, match="metric"):
        read_model_file(_save(payload, tmp_path / "v1-cos.pt"))


@pytest.mark.parametrize("name", ["random.pt", "graph.onnx"])
def test_a_file_that_is_not_a_model_is_called_that(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(os.urandom(4096))
    with pytest.raises(UserError, match="not a mimicgait model file") as err:
        load(path)
    assert "run code" not in str(err.value)


def test_a_pickle_that_names_code_is_called_unsafe(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.getcwd, ())

    path = tmp_path / "evil.pt"
    torch.save({"format": MODEL_FORMAT, "x": Payload()}, path)
    with pytest.raises(UserError, match="could run code"):
        load(path)
