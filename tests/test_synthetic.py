"""The synthetic walking-silhouette generator: geometry, determinism, layout, nuisance factors."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mimicgait.cli import main
from mimicgait.data.rasterise import pretreat_batch, project, rasterise_capsules
from mimicgait.data.sources import open_dataset
from mimicgait.data.synthetic import (
    CONDITIONS,
    VIEWS,
    generate_dataset,
    render_sequence,
    render_walk,
    sample_subject,
    sample_walk,
)
from mimicgait.data.synthetic_body import MEAN_CURVES, body_capsules, fourier_basis


def _brute_force(a, b, r, rows, cols, top, bottom, x0):
    """Reference raster: is each pixel centre within r of each segment? a, b: [K, 2]; r: [K]."""
    px = (top - bottom) / rows
    yy = top - (np.arange(rows) + 0.5) * px
    xx = x0 + (np.arange(cols) + 0.5) * px
    p = np.stack(np.meshgrid(xx, yy), -1)[:, :, None, :]  # [R, C, 1, 2]
    d = b - a  # [K, 2]
    t = np.clip(((p - a) * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-12), 0, 1)  # [R, C, K]
    dist = np.linalg.norm(p - (a + t[..., None] * d), axis=-1)  # [R, C, K]
    return (dist <= r).any(-1), np.abs(dist - r).min(-1)


def test_rasteriser_matches_distance_field():
    rng = np.random.default_rng(0)
    k = 6
    a = rng.uniform(-0.5, 0.5, (1, k, 2))
    b = a + rng.uniform(-0.4, 0.4, (1, k, 2))
    b[0, 0] = a[0, 0]  # a sphere
    b[0, 1, 0] = a[0, 1, 0]  # a vertical segment
    b[0, 2, 1] = a[0, 2, 1]  # a horizontal segment
    r = rng.uniform(0.03, 0.15, k)
    rows = 80
    got = rasterise_capsules(a, b, r, rows=rows, width_ratio=1.5).numpy()[0]
    top = (np.maximum(a[0, :, 1], b[0, :, 1]) + r).max()
    bottom = (np.minimum(a[0, :, 1], b[0, :, 1]) - r).min()
    cols = got.shape[1]
    x0 = 0.5 * (a[0, :, 0] + b[0, :, 0]).mean() - 0.5 * cols * (top - bottom) / rows
    want, margin = _brute_force(a[0], b[0], r, rows, cols, top, bottom, x0)
    differ = got != want
    # Only pixels whose centre lies on a boundary (float32 rounding) may disagree.
    assert want.sum() > 500
    assert np.all(margin[differ] < 1e-3)


def test_projection_side_view_walks_left_and_front_view_hides_depth():
    a = np.array([[[1.0, 0.5, 0.0]]])  # one point ahead of the walker, [T=1, K=1, 3]
    side, _ = project(a, a, 90.0)
    front, _ = project(a, a, 0.0)
    assert side[0, 0, 0] == pytest.approx(-1.0)  # walking towards the image left, as in CASIA-B
    assert front[0, 0, 0] == pytest.approx(0.0, abs=1e-12)
    assert side[0, 0, 1] == front[0, 0, 1] == pytest.approx(0.5)


def test_mean_knee_curve_has_loading_bump_and_swing_peak():
    phase = np.linspace(0, 1, 200, endpoint=False)
    knee = fourier_basis(phase) @ MEAN_CURVES["knee"]
    swing = phase > 0.5
    assert 55 < knee[swing].max() < 68 and 0.65 < phase[swing][knee[swing].argmax()] < 0.8
    early = (phase > 0.05) & (phase < 0.3)
    bump = knee[early].max()
    assert 12 < bump < 22 and knee[(phase > 0.35) & (phase < 0.48)].min() < bump - 5
    hip = fourier_basis(phase) @ MEAN_CURVES["hip"]
    assert hip.max() - hip.min() > 35  # a real stride, not a shuffle


def test_subjects_differ_and_stay_plausible():
    subjects = [sample_subject(np.random.default_rng(i)) for i in range(8)]
    heights = [s.height for s in subjects]
    assert len(set(heights)) == 8 and all(1.4 < h < 2.0 for h in heights)
    assert all(0.85 <= s.cycle_s <= 1.35 for s in subjects)  # about one second per gait cycle
    assert not np.allclose(subjects[0].hip_coef, subjects[1].hip_coef)
    assert len({round(s.shoulder_width / s.height, 4) for s in subjects}) == 8
    again = sample_subject(np.random.default_rng(3))
    assert dataclasses.astuple(again)[:10] == dataclasses.astuple(subjects[3])[:10]
    assert np.array_equal(again.knee_coef, subjects[3].knee_coef)


def test_render_sequence_shape_values_and_determinism():
    subject = sample_subject(np.random.default_rng(5))
    seq = render_sequence(subject, 54.0, "nm-03", frames=20, size=32, rng=np.random.default_rng(1))
    assert seq.dtype == np.uint8 and seq.ndim == 3 and seq.shape[1:] == (32, 32)
    assert 10 <= seq.shape[0] <= 20  # some frames may go missing
    assert set(np.unique(seq)) == {0, 1}
    rows = seq.any(2)  # [T, 32]: the person fills the frame height
    assert rows[:, 1].all() and rows[:, -2].all()
    same = render_sequence(subject, 54.0, "nm-03", frames=20, size=32, rng=np.random.default_rng(1))
    other = render_sequence(subject, 54.0, "nm-03", frames=20, size=32, rng=np.random.default_rng(2))
    assert np.array_equal(seq, same)
    assert seq.shape != other.shape or not np.array_equal(seq, other)


def _clean_area(subject, walk, view):
    """Mean foreground fraction of noise-free frames."""
    a, b, r = body_capsules(subject, walk, 12)
    a2, b2 = project(a, b, view)
    return pretreat_batch(rasterise_capsules(a2, b2, r, rows=96), 48).mean()


@pytest.mark.parametrize("bag_kind", ["shoulder", "backpack", "hand"])
def test_bag_enlarges_the_silhouette(bag_kind):
    subject = dataclasses.replace(sample_subject(np.random.default_rng(2)), bag_kind=bag_kind)
    walk = sample_walk(subject, "nm-01", np.random.default_rng(0))
    with_bag = dataclasses.replace(walk, bag=True)
    assert sample_walk(subject, "bg-01", np.random.default_rng(0)).bag
    assert body_capsules(subject, with_bag, 3)[2].size > body_capsules(subject, walk, 3)[2].size
    assert _clean_area(subject, with_bag, 90.0) > 1.02 * _clean_area(subject, walk, 90.0)


def test_coat_widens_the_silhouette():
    subject = sample_subject(np.random.default_rng(4))
    walk = sample_walk(subject, "nm-01", np.random.default_rng(0))
    coat = dataclasses.replace(walk, coat=True)
    assert sample_walk(subject, "cl-02", np.random.default_rng(0)).coat
    for view in (0.0, 90.0):
        assert _clean_area(subject, coat, view) > 1.1 * _clean_area(subject, walk, view)


def test_one_walk_seen_from_every_view_differs_by_view():
    subject = sample_subject(np.random.default_rng(7))
    walk = sample_walk(subject, "nm-01", np.random.default_rng(0))
    seqs = render_walk(subject, walk, [0.0, 90.0], 12, 32, np.random.default_rng(0))
    width = [s.any(1).sum(1).mean() for s in seqs]  # mean silhouette width in pixels
    assert width[1] > width[0]  # the stride shows from the side, not from the front


def test_pretreat_batch_crops_scales_and_centres():
    frames = np.zeros((2, 40, 60), dtype=bool)
    frames[0, 10:30, 5:15] = True  # a 20 x 10 block near the left edge
    out = pretreat_batch(frames, 16)
    assert out.shape == (2, 16, 16) and out.dtype == np.uint8
    assert out[0].any(1).all()  # fills the height
    cols = np.flatnonzero(out[0].any(0))
    assert cols.size == 8 and abs(cols.mean() - 7.5) <= 1.0  # half as wide as high, centred
    assert not out[1].any()  # an empty frame stays empty


def test_generate_dataset_layout_reads_back(tmp_path):
    out = generate_dataset(tmp_path / "synth", subjects=3, seed=11, frames=5, size=32, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["001.npz", "002.npz", "003.npz", "partition.json"]
    partition = json.loads((out / "partition.json").read_text())
    assert partition == {"TRAIN_SET": ["001", "002"], "TEST_SET": ["003"]}
    with np.load(out / "002.npz") as z:
        assert sorted(z.files) == sorted(f"{c}/{v}" for c in CONDITIONS for v in VIEWS)
        packed = z["cl-02/162"]
    assert packed.dtype == np.uint8 and packed.shape[1:] == (32, 4)
    source = open_dataset(out)
    records = list(source.iter_records(["001"]))
    assert len(records) == len(VIEWS) * len(CONDITIONS)
    assert {r.view for r in records} == set(VIEWS) and {r.condition for r in records} == set(CONDITIONS)
    for rec in records:
        assert rec.frames.shape[1:] == (32, 32) and 1 <= rec.frames.shape[0] <= 5
        assert rec.frames.max() == 1


def test_generate_dataset_is_deterministic_per_seed(tmp_path):
    kwargs = dict(subjects=2, frames=6, size=32, progress=False)
    views, conds = ["036", "090"], ["nm-01", "cl-01"]
    first = generate_dataset(tmp_path / "a", seed=3, views=views, conditions=conds, **kwargs)
    second = generate_dataset(tmp_path / "b", seed=3, views=views, conditions=conds, **kwargs)
    third = generate_dataset(tmp_path / "c", seed=4, views=views, conditions=conds, **kwargs)
    subset = generate_dataset(tmp_path / "d", seed=3, views=["090"], conditions=["cl-01"], **kwargs)
    with np.load(first / "002.npz") as x, np.load(second / "002.npz") as y, np.load(third / "002.npz") as z:
        assert sorted(x.files) == ["cl-01/036", "cl-01/090", "nm-01/036", "nm-01/090"]
        assert all(np.array_equal(x[k], y[k]) for k in x.files)
        assert any(x[k].shape != z[k].shape or not np.array_equal(x[k], z[k]) for k in x.files)
        with np.load(subset / "002.npz") as w:  # a sequence does not depend on what else is generated
            assert w.files == ["cl-01/090"] and np.array_equal(w["cl-01/090"], x["cl-01/090"])


def test_generate_dataset_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="multiple of 8"):
        generate_dataset(tmp_path, subjects=1, seed=0, size=30, progress=False)
    with pytest.raises(ValueError, match="condition"):
        generate_dataset(tmp_path, subjects=1, seed=0, conditions=["xx-01"], progress=False)


def test_synth_command(tmp_path):
    out = tmp_path / "cli"
    argv = ["synth", "--out", str(out), "--subjects", "2", "--seed", "1", "--frames", "3", "--size", "16"]
    assert main(argv + ["--no-progress"]) == 0
    assert (out / "001.npz").exists() and (out / "partition.json").exists()
    assert main(["synth", "--out", str(out), "--subjects", "0", "--no-progress"]) == 2
