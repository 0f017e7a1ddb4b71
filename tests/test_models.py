"""Contract tests for every registered gait encoder at tiny width on 32x22 inputs."""

from __future__ import annotations

import pytest
import torch
from helpers import TINY_ENCODERS

from mimicgait.models import BNNeckHead, GaitRecognizer, create_encoder, encoder_kwargs, list_encoders

SIZE = (32, 22)
TINY = TINY_ENCODERS


def build(key: str):
    torch.manual_seed(0)
    return create_encoder(key.split("-")[0], input_size=SIZE, **TINY[key])


def batch(n: int = 3, s: int = 6) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    return (torch.rand(n, s, *SIZE, generator=gen) > 0.5).float()


def test_every_registered_encoder_is_covered():
    assert set(list_encoders()) == {k.split("-")[0] for k in TINY}


@pytest.mark.parametrize("key", sorted(TINY))
def test_shapes_sizes_and_spec_roundtrip(key):
    enc = build(key).eval()
    out = enc(batch())
    assert out.shape == (3, enc.out_channels, enc.parts)
    assert enc.input_size == SIZE
    spec = enc.spec()
    assert spec["name"] == key.split("-")[0]
    rebuilt = create_encoder(**spec)
    rebuilt.load_state_dict(enc.state_dict())
    torch.testing.assert_close(rebuilt.eval()(batch()), out)


@pytest.mark.parametrize("key", sorted(TINY))
def test_padded_sequences_match_their_unpadded_output(key):
    enc = build(key).eval()
    sils = batch(3, 7)
    lengths = torch.tensor([7, 4, 5])
    sils[1, 4:] = 1.0  # padding content must not matter
    with torch.no_grad():
        out = enc(sils, lengths)
        for i, length in enumerate(lengths.tolist()):
            alone = enc(sils[i : i + 1, :length])
            torch.testing.assert_close(out[i], alone[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(enc(sils, torch.full((3,), 7)), enc(sils))


@pytest.mark.parametrize("key", sorted(TINY))
def test_gradients_reach_every_parameter(key):
    enc = build(key).train()
    enc(batch(2, 6), torch.tensor([6, 3])).square().mean().backward()
    missing = [n for n, p in enc.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


@pytest.mark.parametrize("key", sorted(TINY))
def test_an_embedding_does_not_depend_on_the_rest_of_the_batch(key):
    # in eval mode (running statistics) a sequence embeds alike alone and among others
    enc = build(key).eval()
    sils = batch(4, 6)
    with torch.no_grad():
        together = enc(sils)
        for i in range(4):
            torch.testing.assert_close(together[i], enc(sils[i : i + 1])[0], atol=1e-5, rtol=1e-4)


def test_unknown_name_or_keyword_lists_valid_choices():
    with pytest.raises(ValueError, match="gaitbase"):
        create_encoder("gaitbasee")
    with pytest.raises(ValueError, match="channels"):
        create_encoder("gaitbase", chanels=(1, 2, 3, 4))
    assert "input_size" in encoder_kwargs("gaitpart")


def test_wrong_input_size_and_lengths_are_user_errors():
    enc = build("gaitbase")
    with pytest.raises(ValueError, match="input_size"):
        enc(torch.zeros(1, 3, 64, 44))
    with pytest.raises(ValueError, match="lengths"):
        enc(batch(2, 4), torch.tensor([5, 2]))


def test_recognizer_with_bnneck_head():
    enc = build("gaitbase")
    model = GaitRecognizer(enc, BNNeckHead(enc.out_channels, enc.parts, num_classes=5))
    out = model(batch(4, 3))
    assert out["embeddings"].shape == (4, 8, 16) and out["logits"].shape == (4, 5, 16)
    assert out["logits"].abs().max() <= 16.0 + 1e-4  # cosine logits times the scale
    assert GaitRecognizer(enc)(batch(2, 3))["logits"] is None
    torch.testing.assert_close(model.eval().embed(batch()), enc(batch()))


def test_models_command_lists_every_encoder(capsys):
    from mimicgait.cli import main

    assert main(["models", "--no-flops"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in list_encoders()) and "6.99M" in out
