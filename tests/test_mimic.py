"""Tests of the VEN, the Occlusion-Aware baseline and the MimicNet composition."""

from __future__ import annotations

import pytest
import torch

from mimicgait.losses import MiCKDLoss
from mimicgait.models import (
    BNNeckHead,
    GaitRecognizer,
    MimicNet,
    OcclusionAwareNet,
    OcclusionDetector,
    VisibilityEstimator,
    create_encoder,
)

SIZE = (32, 22)


def tiny_encoder(seed: int = 0):
    torch.manual_seed(seed)
    return create_encoder("gaitbase", channels=(4, 8, 8, 16), out_channels=8, input_size=SIZE)


def sils(n: int = 4, s: int = 5, seed: int = 3) -> torch.Tensor:
    return (torch.rand(n, s, *SIZE, generator=torch.Generator().manual_seed(seed)) > 0.5).float()


def make_mimic(**kwargs) -> MimicNet:
    teacher = GaitRecognizer(tiny_encoder(1), BNNeckHead(8, 16, num_classes=3))
    torch.manual_seed(2)
    return MimicNet(tiny_encoder(0), teacher, VisibilityEstimator(num_classes=3), **kwargs)


def test_ven_outputs_and_sequence_feature_is_mean_over_valid_frames():
    ven = VisibilityEstimator(num_classes=3).eval()
    frames = sils(1, 6)[0]  # [6, H, W]
    delta, logits, amount = ven(frames)
    assert delta.shape == (6, 64) and logits.shape == (6, 3) and amount.shape == (6,)
    torch.testing.assert_close(ven(frames.unsqueeze(1))[0], delta)
    batch, lengths = sils(2, 6), torch.tensor([6, 2])
    feats = ven.features(batch, lengths)
    expected = torch.stack([ven(batch[0])[0].mean(0), ven(batch[1, :2])[0].mean(0)])
    torch.testing.assert_close(feats, expected, atol=1e-6, rtol=1e-5)
    assert sum(p.numel() for p in ven.backbone.parameters()) < 0.11e6  # "about 0.1M" at inference


def test_occlusion_aware_net_shapes():
    net = OcclusionAwareNet(tiny_encoder(), OcclusionDetector(num_classes=3), num_classes=5)
    out = net(sils(), torch.tensor([5, 3, 4, 5]))
    assert out["embeddings"].shape == (4, 8, 16)
    assert out["logits"].shape == (4, 5, 16) and out["occlusion_logits"].shape == (4, 3)
    assert net.eval().embed(sils()).shape == (4, 8, 16)


def test_mimic_outputs_and_inference_modes():
    mimic = make_mimic()
    assert mimic.mixer.weight.shape == (16, 8 + 64, 8)  # derived from student C and VEN D
    torch.testing.assert_close(mimic.eval().embed(sils()), mimic.student(sils()))  # T starts as identity
    mimic.train()
    out = mimic(sils(), None, holistic=sils(seed=4))
    assert out["student"].shape == out["teacher"].shape == (4, 8, 16)
    assert out["student"].requires_grad and not out["teacher"].requires_grad
    assert "teacher" not in mimic(sils())
    mimic.eval()
    torch.testing.assert_close(mimic.embed(sils()), mimic(sils())["student"])
    mimic.set_inference("student")
    torch.testing.assert_close(mimic.embed(sils()), mimic.student(sils()))
    with pytest.raises(ValueError, match="guided"):
        mimic.set_inference("teacher")


def test_routed_inference_sends_what_the_ven_calls_unoccluded_to_the_teacher():
    mimic = make_mimic(none_class=0).eval()
    x, lengths = sils(), torch.tensor([5, 3, 4, 5])
    head = mimic.ven.type_head
    with torch.no_grad():  # a VEN whose type logits say 'none' exactly for the first two sequences
        head.weight.zero_()
        head.bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
    verdict = torch.tensor([True, True, False, False])
    original = mimic.unoccluded
    mimic.unoccluded = lambda s, l: verdict  # noqa: E731 - the routing, not the VEN, is under test
    mimic.set_inference("routed")
    routed = mimic.embed(x, lengths)
    torch.testing.assert_close(routed[:2], mimic.teacher.embed(x[:2], lengths[:2]))
    torch.testing.assert_close(routed[2:], mimic.set_inference("guided").embed(x[2:], lengths[2:]))
    mimic.unoccluded = original
    assert not mimic.unoccluded(x, lengths).any()  # P('none') = e^0 / (2 e^0 + e^1) < 1/2
    with torch.no_grad():
        head.bias.copy_(torch.tensor([2.0, 0.0, 0.0]))
    assert mimic.unoccluded(x, lengths).all()
    routed = mimic.set_inference("routed").embed(x, lengths)
    torch.testing.assert_close(routed, mimic.teacher.embed(x, lengths))
    with pytest.raises(ValueError, match="none_class"):
        make_mimic().set_inference("routed")


def test_mimic_without_guidance_is_the_plain_student():
    mimic = MimicNet(tiny_encoder(), GaitRecognizer(tiny_encoder(1)), ven=None, guidance=False).eval()
    assert mimic.mixer is None and mimic.inference == "student"
    torch.testing.assert_close(mimic(sils())["student"], mimic.student(sils()))
    with pytest.raises(ValueError, match="guidance"):
        mimic.set_inference("guided")
    with pytest.raises(ValueError, match="VEN"):
        MimicNet(tiny_encoder(), None, None)


def test_student_checkpoint_holds_no_teacher_or_ven_tensors():
    mimic = make_mimic()
    keys = mimic.state_dict().keys()
    assert keys and all(k.startswith(("student.", "mixer.")) for k in keys)
    n_trainable = sum(p.numel() for p in mimic.parameters())
    assert n_trainable == sum(p.numel() for p in mimic.student.parameters()) + mimic.mixer.weight.numel()
    mimic.to(torch.float64)  # .to() still reaches the frozen parts
    assert next(mimic.teacher.parameters()).dtype == torch.float64
    assert next(mimic.ven.parameters()).dtype == torch.float64


def test_mimic_training_step_leaves_teacher_and_ven_untouched():
    mimic = make_mimic()
    mimic.train()
    assert not mimic.teacher.training and not mimic.ven.training and mimic.student.training
    frozen = {
        **{f"t.{k}": v.clone() for k, v in mimic.teacher.state_dict().items()},
        **{f"v.{k}": v.clone() for k, v in mimic.ven.state_dict().items()},
    }
    student_before = {k: v.clone() for k, v in mimic.student.state_dict().items()}
    optimizer = torch.optim.SGD(mimic.parameters(), lr=0.1)
    labels = torch.tensor([0, 0, 1, 1])
    out = mimic(sils(), torch.tensor([5, 4, 5, 3]), holistic=sils(seed=4))
    loss, _ = MiCKDLoss(margin=5.0)(out["student"], out["teacher"], labels)
    loss.backward()
    optimizer.step()
    after = {
        **{f"t.{k}": v for k, v in mimic.teacher.state_dict().items()},
        **{f"v.{k}": v for k, v in mimic.ven.state_dict().items()},
    }
    bn_keys = [k for k in frozen if k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert bn_keys
    for key, value in frozen.items():
        assert torch.equal(value, after[key]), key
    changed = [k for k, v in mimic.student.state_dict().items() if not torch.equal(v, student_before[k])]
    assert any(k.endswith("running_mean") for k in changed) and any(k.endswith("weight") for k in changed)
    assert all(p.grad is None for p in mimic.teacher.parameters())
