"""Rank-k, mAP, mINP, distances and verification on hand-made inputs with answers worked out by hand."""

import numpy as np
import pytest
import torch

from mimicgait.eval import metrics, rank_metrics
from mimicgait.eval.distances import pairwise_distances, probe_stats
from mimicgait.eval.verification import roc_curve, tar_at_far

GALLERY = [0, 1, 0, 2, 1]
DIST = [
    [0.5, 0.1, 0.9, 0.3, 0.2],  # label 0: matches ranked 4th and 5th
    [0.2, 0.2, 0.2, 0.2, 0.2],  # label 1: all tied -> gallery order; matches 2nd and 5th
    [0.3, 0.3, 0.3, 0.1, 0.3],  # label 2: match ranked 1st
    [0.1, 0.2, 0.3, 0.4, 0.5],  # label 9: no match in the gallery
]
PROBES = [0, 1, 2, 9]


def test_rank_map_minp_by_hand():
    out = rank_metrics(np.array(DIST), PROBES, GALLERY, ranks=(1, 2, 5))
    assert out["rank1"] == pytest.approx(25.0)  # only probe 2; the unmatched probe is a failure
    assert out["rank2"] == pytest.approx(50.0)
    assert out["rank5"] == pytest.approx(75.0)
    ap = [(1 / 4 + 2 / 5) / 2, (1 / 2 + 2 / 5) / 2, 1.0]
    inp = [2 / 5, 2 / 5, 1.0]
    assert out["mAP"] == pytest.approx(100 * np.mean(ap))
    assert out["mINP"] == pytest.approx(100 * np.mean(inp))


def test_skip_unmatched_changes_only_rank_denominator():
    counted = rank_metrics(torch.tensor(DIST), torch.tensor(PROBES), torch.tensor(GALLERY), ranks=(1,))
    skipped = rank_metrics(DIST, PROBES, GALLERY, ranks=(1,), skip_unmatched=True)
    assert skipped["rank1"] == pytest.approx(100 / 3)
    assert skipped["mAP"] == pytest.approx(counted["mAP"])


def test_tie_goes_to_earlier_gallery_item():
    tied = [[1.0, 1.0]]
    assert rank_metrics(tied, [7], [7, 3], ranks=(1,))["rank1"] == 100.0
    assert rank_metrics(tied, [7], [3, 7], ranks=(1,))["rank1"] == 0.0


def test_chunking_gives_same_answer(monkeypatch):
    rng = np.random.default_rng(0)
    d = rng.random((37, 23))
    p, g = rng.integers(0, 5, 37), rng.integers(0, 5, 23)
    whole = rank_metrics(d, p, g)
    monkeypatch.setattr(metrics, "CHUNK_ELEMENTS", 50)  # a couple of rows per chunk
    assert rank_metrics(d, p, g) == pytest.approx(whole, nan_ok=True)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="labels"):
        rank_metrics(np.zeros((2, 3)), [0, 1], [0, 1])


def test_partwise_distances_match_definitions():
    rng = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 6, 3, generator=rng), torch.randn(5, 6, 3, generator=rng)
    euc = torch.stack([torch.cdist(a[:, :, k], b[:, :, k]) for k in range(3)]).mean(0)
    assert torch.allclose(pairwise_distances(a, b, "euc"), euc, atol=1e-5)
    an, bn = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
    cos = 1 - torch.einsum("ncp,mcp->nm", an, bn) / 3
    assert torch.allclose(pairwise_distances(a, b, "cos"), cos, atol=1e-5)
    with pytest.raises(ValueError, match="metric"):
        pairwise_distances(a, b, "manhattan")


def test_streamed_stats_equal_matrix_stats(monkeypatch):
    rng = torch.Generator().manual_seed(1)
    a, b = torch.randn(30, 4, 2, generator=rng), torch.randn(20, 4, 2, generator=rng)
    pl, gl = torch.randint(0, 4, (30,), generator=rng), torch.randint(0, 4, (20,), generator=rng)
    monkeypatch.setattr(metrics, "CHUNK_ELEMENTS", 64)
    s = probe_stats(a, pl, b, gl)
    want = rank_metrics(pairwise_distances(a, b), pl, gl)
    assert metrics.summarise(s) == pytest.approx(want, nan_ok=True)


def test_tar_at_far_and_roc():
    impostor = np.arange(1, 101, dtype=np.float32)  # 100 impostor distances 1..100
    genuine = np.array([0.5, 1.5, 2.5, 50.0], dtype=np.float32)
    tar = tar_at_far(genuine, impostor, (0.01, 0.02, 0.001))
    assert tar[0.01] == pytest.approx(50.0)  # threshold 2: accepts 0.5 and 1.5, one impostor
    assert tar[0.02] == pytest.approx(75.0)
    assert np.isnan(tar[0.001])  # below 1 / n_impostor: undefined
    roc = roc_curve(genuine, impostor, points=5)
    assert roc["far"][-1] == pytest.approx(100.0) and roc["tar"][-1] == pytest.approx(100.0)
    assert roc["tar"] == sorted(roc["tar"])
