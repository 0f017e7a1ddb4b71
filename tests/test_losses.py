"""Loss tests against values computed by hand and against pytorch-metric-learning."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from pytorch_metric_learning import distances, losses

from mimicgait.losses import (
    BNNeckCrossEntropy,
    L2KDLoss,
    MiCKDLoss,
    PartTripletLoss,
    WeightedLoss,
    ven_loss,
    weighted_sum,
)


def brute_triplet(rows: torch.Tensor, labels: torch.Tensor, margin: float, anchor_ok, positive_ok) -> float:
    """Mean of the non-zero hinge terms over explicitly listed triplets of rows [m, d]."""
    terms = []
    for a, p, n in itertools.permutations(range(len(labels)), 3):
        if labels[a] == labels[p] and labels[a] != labels[n] and anchor_ok(a) and positive_ok(a, p):
            d_ap = (rows[a] - rows[p]).norm().item()
            d_an = (rows[a] - rows[n]).norm().item()
            terms.append(max(d_ap - d_an + margin, 0.0))
    nonzero = [t for t in terms if t > 0]
    return sum(nonzero) / len(nonzero) if nonzero else 0.0


def test_part_triplet_by_hand():
    # Part 0 holds positions 0, 1, 3, 4; part 1 the doubled positions (see the sums below).
    x = torch.tensor([0.0, 1.0, 3.0, 4.0])
    emb = torch.stack([x, 2 * x], dim=-1).unsqueeze(1)  # [4, 1, 2]
    labels = torch.tensor([0, 0, 1, 1])
    loss, logs = PartTripletLoss(margin=3.0)(emb, labels)
    # part 0 terms: a0 (1, 0), a1 (2, 1), a2 (1, 2), a3 (0, 1): sum 8 over 6 non-zero
    # part 1 terms: a1 (1, 0), a2 (0, 1): sum 2 over 2 non-zero
    assert loss.item() == pytest.approx((8 / 6 + 2 / 2) / 2)
    assert logs["active"].item() == pytest.approx(8 / 16)


@pytest.mark.parametrize("labels", [[0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 2]])
@pytest.mark.parametrize("include_self", [False, True])
def test_part_triplet_matches_enumerated_triplets(labels, include_self):
    torch.manual_seed(0)
    emb = torch.randn(6, 3, 2)
    labels = torch.tensor(labels)
    loss, _ = PartTripletLoss(margin=0.5, include_self=include_self)(emb, labels)
    expected = []
    for part in range(2):
        rows = emb[:, :, part]
        terms = []
        for a, p, n in itertools.product(range(6), repeat=3):
            if labels[a] == labels[p] and labels[a] != labels[n] and (include_self or a != p):
                terms.append(max((rows[a] - rows[p]).norm() - (rows[a] - rows[n]).norm() + 0.5, 0.0))
        nonzero = [float(t) for t in terms if t > 0]
        expected.append(sum(nonzero) / len(nonzero))
    assert loss.item() == pytest.approx(sum(expected) / 2, rel=1e-5)


def test_bnneck_cross_entropy_by_hand():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0]]])  # [n=1, k=2, p=2]
    labels = torch.tensor([0])
    part0 = -math.log(math.exp(2) / (math.exp(2) + 1))
    part1 = -math.log(1 / (1 + math.e))
    assert BNNeckCrossEntropy(0.0)(logits, labels)[0].item() == pytest.approx((part0 + part1) / 2, rel=1e-6)
    # label smoothing eps: (1 - eps) * NLL + eps * mean over classes of -log p
    eps = 0.1
    lp0 = torch.log_softmax(torch.tensor([2.0, 0.0]), 0)
    lp1 = torch.log_softmax(torch.tensor([0.0, 1.0]), 0)
    smooth = [(1 - eps) * -lp[0] - eps * lp.mean() for lp in (lp0, lp1)]
    smoothed, _ = BNNeckCrossEntropy(eps)(logits, labels)
    assert smoothed.item() == pytest.approx(float(sum(smooth) / 2), rel=1e-6)


def test_mickd_by_hand():
    # rows: s0 = 0 (subject 0), s1 = 2 (subject 1), t0 = 1 (subject 0), t1 = 3 (subject 1); margin 1.5
    student, teacher = torch.tensor([[[0.0]], [[2.0]]]), torch.tensor([[[1.0]], [[3.0]]])
    labels = torch.tensor([0, 1])
    # student-teacher: s0 (pos t0): 0.5, 0; s1 (pos t1): 0.5, 1.5 -> 2.5 / 3
    st, logs = MiCKDLoss(1.5, positives="student-teacher")(student, teacher, labels)
    assert st.item() == pytest.approx(2.5 / 3) and logs == {}
    # all: adds anchors t0 (pos s0): 1.5, 0.5 and t1 (pos s1): 0, 0.5 -> 5 / 6
    assert MiCKDLoss(1.5, positives="all")(student, teacher, labels)[0].item() == pytest.approx(5 / 6)


@pytest.mark.parametrize("normalize", [False, True])
def test_mickd_all_equals_pml_on_stacked_embeddings(normalize):
    torch.manual_seed(0)
    student, teacher = torch.randn(8, 4, 3), torch.randn(8, 4, 3)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    ours, _ = MiCKDLoss(0.2, positives="all", normalize=normalize)(student, teacher, labels)
    pml = losses.TripletMarginLoss(margin=0.2, distance=distances.LpDistance(normalize_embeddings=normalize))
    ref = pml(torch.cat([student.flatten(1), teacher.flatten(1)]), torch.cat([labels, labels]))
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)
    if not normalize:
        rows = torch.cat([student.flatten(1), teacher.flatten(1)])
        brute = brute_triplet(rows, torch.cat([labels, labels]), 0.2, lambda a: True, lambda a, p: True)
        assert ours.item() == pytest.approx(brute, rel=1e-5)


@pytest.mark.parametrize(
    ("positives", "positive_ok"),
    [("student", lambda a, p: True), ("student-teacher", lambda a, p: p >= 6)],
)
def test_mickd_restricted_variants_match_enumerated_triplets(positives, positive_ok):
    torch.manual_seed(1)
    student, teacher = torch.randn(6, 2, 2), torch.randn(6, 2, 2)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    ours, _ = MiCKDLoss(1.0, positives=positives)(student, teacher, labels)
    rows = torch.cat([student.flatten(1), teacher.flatten(1)])
    brute = brute_triplet(rows, torch.cat([labels, labels]), 1.0, lambda a: a < 6, positive_ok)
    assert ours.item() == pytest.approx(brute, rel=1e-5)


def test_mickd_detaches_the_teacher_and_rejects_bad_options():
    student = torch.randn(4, 2, 2, requires_grad=True)
    teacher = torch.randn(4, 2, 2, requires_grad=True)
    MiCKDLoss(5.0)(student, teacher, torch.tensor([0, 0, 1, 1]))[0].backward()
    assert teacher.grad is None and student.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="student-teacher"):
        MiCKDLoss(positives="teachers")


def test_l2kd_and_ven_loss_by_hand():
    student = torch.tensor([[[1.0, 2.0]]], requires_grad=True)
    teacher = torch.tensor([[[0.0, 4.0]]])
    assert L2KDLoss()(student, teacher)[0].item() == pytest.approx((1 + 4) / 2)
    logits = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    total, logs = weighted_sum(ven_loss(amount_weight=10.0), {
        "type_ce": (logits, torch.tensor([0, 2])),
        "amount_mse": (torch.tensor([0.5, 0.0]), torch.tensor([0.4, 0.0])),
    })
    assert logs["type_ce"].item() == pytest.approx(math.log(3))
    assert logs["amount_mse"].item() == pytest.approx(0.01 / 2)
    assert total.item() == pytest.approx(math.log(3) + 10 * 0.005)


def test_weighted_sum_adds_the_terms_in_order_and_names_their_logs():
    x = torch.tensor([1.0, 2.0], requires_grad=True)

    def with_logs(t):
        return t.sum(), {"first": t[0], "count": 2.0}

    terms = {"a": WeightedLoss(with_logs), "b": WeightedLoss(lambda t: (t ** 2).sum(), 0.5)}  # b: bare
    total, logs = weighted_sum(terms, {"a": (x,), "b": (x,)}, {"accuracy": 0.25})
    assert total.item() == pytest.approx(3.0 + 0.5 * 5.0)
    assert list(logs) == ["a", "a_first", "a_count", "b", "accuracy"]
    assert logs["a"].item() == 3.0 and logs["b"].item() == 5.0 and logs["a_count"] == 2.0
    assert not any(torch.is_tensor(v) and v.requires_grad for v in logs.values())  # detached for logging
    total.backward()
    torch.testing.assert_close(x.grad, 1.0 + 0.5 * 2 * x.detach())
    with pytest.raises(ValueError, match="loss inputs"):
        weighted_sum(terms, {"a": (x,)})
    with pytest.raises(ValueError, match="'a_count'"):
        weighted_sum(terms, {"a": (x,), "b": (x,)}, {"a_count": 1.0})
    with pytest.raises(TypeError, match="'bad'"):
        weighted_sum({"bad": WeightedLoss(lambda t: [t.sum()])}, {"bad": (x,)})
