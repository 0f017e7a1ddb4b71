"""BatchNorm folding (models.fold): same function, fewer modules, original untouched; the mimic
network's frozen teacher runs folded and follows changes to the teacher."""

from __future__ import annotations

import pytest
import torch
from helpers import TINY_ENCODERS
from torch import nn

from mimicgait.models import BNNeckHead, GaitRecognizer, MimicNet, VisibilityEstimator, create_encoder
from mimicgait.models.fold import fold_batchnorm

SIZE = (32, 22)


def _randomise_batchnorm(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial running statistics and affine parameters, as after training."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.2)


def _batchnorms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _sils(n: int = 3, s: int = 6) -> torch.Tensor:
    return (torch.rand(n, s, *SIZE, generator=torch.Generator().manual_seed(1)) > 0.5).float()


@pytest.mark.parametrize("key", sorted(TINY_ENCODERS))
def test_folded_encoder_computes_the_same_embedding(key):
    # every loaded model is folded, so every registered encoder (and variant) is checked
    torch.manual_seed(0)
    encoder = create_encoder(key.split("-")[0], input_size=SIZE, **TINY_ENCODERS[key]).eval()
    _randomise_batchnorm(encoder)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    folded = fold_batchnorm(encoder)
    x, lengths = _sils(), torch.tensor([6, 4, 5])
    with torch.no_grad():
        torch.testing.assert_close(folded(x, lengths), encoder(x, lengths), rtol=1e-4, atol=1e-4)
    assert _batchnorms(folded) <= _batchnorms(encoder)
    assert not any(p.requires_grad for p in folded.parameters())
    for k, v in encoder.state_dict().items():  # the original is untouched
        assert torch.equal(v, before[k]), k


def test_only_conv_directly_followed_by_its_batchnorm_is_folded():
    torch.manual_seed(0)
    # a BatchNorm after a ReLU, and one of the wrong dimensionality, must stay
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1),
                          nn.BatchNorm2d(4)).eval()
    _randomise_batchnorm(model)
    folded = fold_batchnorm(model)
    assert [type(m).__name__ for m in folded] == ["Conv2d", "ReLU", "BatchNorm2d", "Conv2d", "Identity"]
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-5, atol=1e-5)


def test_mimic_teacher_runs_folded_and_follows_teacher_changes():
    torch.manual_seed(0)

    def recogniser(seed):
        torch.manual_seed(seed)
        encoder = create_encoder("gaitbase", channels=(4, 8, 8, 16), out_channels=8, input_size=SIZE)
        _randomise_batchnorm(encoder, seed)
        return GaitRecognizer(encoder, BNNeckHead(8, 16, num_classes=3))

    teacher = recogniser(1)
    student = create_encoder("gaitbase", channels=(4, 8, 8, 16), out_channels=8, input_size=SIZE)
    mimic = MimicNet(student, teacher, VisibilityEstimator(num_classes=3)).train()
    x = _sils()
    with torch.no_grad():
        expected = teacher.embed(x)
    torch.testing.assert_close(mimic(x, None, x)["teacher"], expected, rtol=1e-4, atol=1e-4)
    # new teacher weights loaded in place: the folded copy must be rebuilt, not reused
    teacher.load_state_dict(recogniser(2).state_dict())
    with torch.no_grad():
        changed = teacher.embed(x)
    assert not torch.allclose(changed, expected)
    torch.testing.assert_close(mimic(x, None, x)["teacher"], changed, rtol=1e-4, atol=1e-4)
    assert teacher.encoder.backbone[1].__class__ is nn.BatchNorm2d  # the teacher itself is not folded
