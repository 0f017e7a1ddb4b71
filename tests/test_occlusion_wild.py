"""Occlusions as the wild makes them (crowd, object, cut): amounts measured on the mask, seeds,
batch order, NumPy against torch, whose silhouettes may occlude whom, re-alignment, dropped frames,
the policy and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import make_dataset, tiny_config

from mimicgait.data.occlusion import (
    WILD_KINDS,
    WILD_RANGE,
    BatchOcclusion,
    OccluderPool,
    Occlusion,
    OcclusionPolicy,
    draw_batch,
    draw_occlusion,
    eval_occlusion,
    occlude,
    occlude_batch,
    occlude_batch_detected,
)
from mimicgait.data.occlusion.wild import occlude_wild, occlude_wild_batch, occlude_wild_many, refill
from mimicgait.errors import UserError

T, H, W = 10, 64, 44


def _walkers(count: int, t: int = T, seed: int = 0) -> np.ndarray:
    """[N, T, H, W] uint8 0/255 walkers: a body, a head and swinging legs, drifting a little."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:H, :W]
    frame = np.arange(t)[:, None, None]
    out = np.empty((count, t, H, W), np.uint8)
    for n in range(count):
        cx = W / 2 + rng.uniform(-3, 3) + 2 * np.sin(frame / 3.0)
        body = ((x - cx) / rng.uniform(6, 10)) ** 2 + ((y - 22) / 20.0) ** 2 <= 1
        head = ((x - cx) / 4) ** 2 + ((y - 5) / 4.0) ** 2 <= 1
        swing = 8 * np.sin(frame / 2.0 + rng.uniform(0, 6))
        legs = (y >= 38) & ((np.abs(x - cx - swing * (y - 38) / 26) <= 3)
                            | (np.abs(x - cx + swing * (y - 38) / 26) <= 3))
        out[n] = np.where(body | head | legs, 255, 0)
    return out


def _pool(data: np.ndarray) -> OccluderPool:
    return OccluderPool.from_sequences([(f"{i:03d}", d) for i, d in enumerate(data)])


DATA = _walkers(8)
POOL = _pool(DATA)


def _draws(kind: str, seed: int = 0, count: int = 8) -> list[Occlusion]:
    rng = np.random.default_rng(seed)
    return [draw_occlusion(kind, rng, pool=POOL, subject=f"{i:03d}") for i in range(count)]


@pytest.mark.parametrize("kind", WILD_KINDS)
def test_each_kind_hides_its_amount_measured_on_the_mask(kind):
    occs = _draws(kind)
    result = occlude_wild_many(DATA, occs, np.full(len(DATA), T), POOL)
    walker = DATA != 0
    hidden = (walker & result.cover).sum((1, 2, 3)) / walker.sum((1, 2, 3))  # [N], measured
    drawn = np.array([o.amount for o in occs])
    assert np.all((drawn >= WILD_RANGE[0]) & (drawn <= WILD_RANGE[1]))
    assert np.abs(hidden - drawn).max() <= 0.03  # a row, a column or a step of scale
    assert np.all((hidden >= WILD_RANGE[0] - 0.03) & (hidden <= WILD_RANGE[1] + 0.03))
    assert np.allclose(hidden, result.hidden_fraction)
    assert set(np.unique(result.frames).tolist()) <= {0, 255}  # nothing added: the input's values only
    assert len({o.variant for o in occs} | {o.source for o in occs}) > 1  # draws vary


@pytest.mark.parametrize("kind", WILD_KINDS)
def test_numpy_equals_torch_and_batch_order_does_not_matter(kind):
    occs = _draws(kind, seed=3)
    lengths = np.array([T, 7, T, 5, T, T, 9, T])
    for dtype in (np.uint8, np.float32):
        data = (DATA // 255).astype(dtype) if dtype == np.float32 else DATA
        batch = torch.from_numpy(data.copy())
        got, kept = occlude_batch_detected(batch, BatchOcclusion.from_list(occs), lengths, POOL)
        assert got.dtype == batch.dtype
        for i, (x, o) in enumerate(zip(data, occs, strict=True)):
            alone = occlude(x[: lengths[i]], o, POOL)  # one sequence, NumPy
            assert len(alone) == kept[i]
            assert np.array_equal(got[i, : kept[i]].numpy(), alone)
            assert not got[i, kept[i]:].any()
        order = np.array([5, 2, 7, 0, 1, 6, 3, 4])
        again, kept_again = occlude_batch_detected(
            batch[order], BatchOcclusion.from_list([occs[i] for i in order]), lengths[order], POOL
        )
        assert np.array_equal(again.numpy(), got.numpy()[order]) and np.array_equal(kept_again, kept[order])


def test_evaluation_draws_are_reproducible_and_independent_of_order():
    keys = [(f"{i:03d}", "nm-01", "090") for i in range(len(DATA))]
    frames = dict(zip(keys, DATA, strict=True))
    kinds = ("crowd", "object", "cut", "top")

    def run(order, seed=4, role="probe"):
        return {k: eval_occlusion(frames[k], kinds, seed, k, role, pool=POOL) for k in order}

    full = run(keys)
    backwards = run(keys[::-1][::2])
    for key, (out, kind, amount) in backwards.items():
        assert (kind, amount) == full[key][1:] and np.array_equal(out, full[key][0])
    assert {kind for _, kind, _ in full.values()} & set(WILD_KINDS)
    assert any(run(keys, seed=5)[k][1:] != full[k][1:] for k in keys)


def test_batch_draws_are_reproducible_from_the_seed():
    policy = OcclusionPolicy({"crowd": 0.3, "object": 0.3, "cut": 0.3})
    sils = torch.from_numpy(DATA)
    subjects = POOL.subjects

    def once():
        gen = torch.Generator().manual_seed(9)
        kind, amount = policy.sample(len(sils), gen)
        return occlude_batch(sils, kind, amount, None, gen, policy.classes, pool=POOL, subjects=subjects)

    assert torch.equal(once(), once())


def test_a_walker_is_never_their_own_occluder():
    for occ, subject in ((o, f"{i:03d}") for seed in range(4) for i, o in enumerate(_draws("crowd", seed))):
        assert POOL.subjects[occ.source] != subject
    kinds = ["crowd"] * 8
    batch = draw_batch(kinds, [0.3] * 8, torch.Generator().manual_seed(0), classes=("none", "crowd"),
                       pool=POOL, subjects=POOL.subjects)
    assert all(POOL.subjects[s] != POOL.subjects[i] for i, s in enumerate(batch.source.tolist()))
    alone = OccluderPool.from_sequences([("001", DATA[0]), ("001", DATA[1])])
    with pytest.raises(UserError, match="another subject"):
        draw_occlusion("crowd", np.random.default_rng(0), pool=alone, subject="001")
    with pytest.raises(UserError, match="OccluderPool"):
        draw_occlusion("crowd", np.random.default_rng(0))


def test_no_evaluation_subject_reaches_a_training_batch(tmp_path):
    """Training builds the crowd's pool from the training store only: the validation store is never read."""
    from mimicgait.data.samplers import FrameSampler
    from mimicgait.engine.data import BatchSettings, load_data, training_batches
    from mimicgait.engine.from_config import batch_inputs, val_settings
    from mimicgait.engine.stages.base import Stage, StageParts

    root = make_dataset(tmp_path / "data", subjects=6, frames=8, size=32)
    data = load_data(str(root), val_subjects="005-006")
    config = tiny_config("occlusion.kinds={crowd: 1.0}", "occlusion.holistic_share=0")

    class Occluded(Stage):
        name, occluded = "probe", True

    inputs = batch_inputs(config, tuple(data.train.frame_size), occluded=True)
    stage = Occluded(StageParts(data, inputs, val_settings(config, True), torch.device("cpu")))
    pool = stage.batch_inputs.pool
    assert set(pool.subjects) == {"001", "002", "003", "004"}
    read = []
    load = pool._load
    pool._load = lambda i: read.append(i) or load(i)
    data.val.frames = data.val.frames_slice = lambda *a: pytest.fail("a validation silhouette was read")
    settings = BatchSettings(2, 2, FrameSampler("fixed", frames=6), workers=0)
    batches = training_batches(data.train, settings, seed=0)
    for step in range(3):
        batch = next(batches)
        x = stage.batch_inputs(batch, torch.Generator().manual_seed(step))
        assert x["occluded"].shape == x["holistic"].shape
        assert read and all(pool.subjects[i] in {"001", "002", "003", "004"} for i in read)


def test_evaluation_draws_occluders_from_the_evaluated_store_and_counts_dropped_frames(tmp_path):
    from mimicgait.data.sources import open_dataset
    from mimicgait.data.store import SequenceStore
    from mimicgait.eval.evaluate import evaluate
    from mimicgait.eval.protocols import build_protocol

    root = make_dataset(tmp_path / "data", subjects=4, conditions=3, views=2, frames=8, size=32)
    store = SequenceStore.from_dataset(open_dataset(str(root)), subjects=["001", "002", "003", "004"])

    def embed(sils, lengths):
        return sils.float().mean(1).flatten(1)[:, :, None]  # [N, H*W, 1]

    protocol = build_protocol("rank", probe_types="nm-03", gallery_types="nm-01,nm-02")
    report = evaluate(embed, store, protocol, occlusion="crowd,cut", seed=1)
    counts = report["counts"]
    assert "dropped_frames" in counts and set(counts["dropped_frames"]) == {"probe", "gallery"}
    assert report["per_kind"].keys() <= {"crowd", "cut"}
    holistic = evaluate(embed, store, protocol, occlusion="top", seed=1)
    assert "dropped_frames" not in holistic["counts"]  # the paper's kinds' reports are unchanged


def test_the_visible_part_is_realigned_as_pretreatment_would():
    frames = np.zeros((3, H, W), np.uint8)
    frames[:, 8:56, 10:20] = 1  # 48 rows x 10 columns, off centre
    out = occlude(frames, Occlusion("cut", 0.5, variant=3))  # the box misses the bottom half
    assert out.shape == frames.shape
    rows, cols = out.any(2), out.any(1)  # [T, H], [T, W]
    assert rows.all()  # the top half now fills the frame height
    width = cols.sum(1)
    assert np.all(np.abs(width - round(10 * H / 24)) <= 1)  # scaled like the height
    left = cols.argmax(1)
    assert np.all(np.abs(left + width / 2 - W / 2) <= 1)  # centred
    side = occlude(frames, Occlusion("cut", 0.4, variant=0))  # misses the left 40 %
    assert np.all(np.abs(side.any(1).sum(1) - round(6 * H / 48)) <= 1)


def test_the_crowd_occluder_is_the_other_walker_mirrored():
    from mimicgait.data.occlusion.crowd import crowd_geometry
    from mimicgait.data.occlusion.rects import paint_np
    from mimicgait.data.occlusion.sprite import SCALE_RANGE

    other = DATA[1]
    geometry = crowd_geometry([other], np.array([0.0]), np.array([0.0]), np.array([False]), np.array([0.5]),
                              np.array([T]), T, H, W)
    lo, hi = SCALE_RANGE
    at_their_size = np.array([np.log(1 / lo) / np.log(hi / lo)])  # scale 1, standing still mid-frame
    cover = paint_np(geometry.rects(at_their_size), T, H, W)
    assert np.array_equal(cover, other[:, :, ::-1] != 0)


def test_frames_hidden_past_the_limit_are_dropped():
    occs = _draws("crowd", seed=7)
    occs = [Occlusion("crowd", 0.6, speed=1.0, offset=0.5, phase=o.phase, source=o.source) for o in occs]
    result = occlude_wild_many(DATA, occs, np.full(len(DATA), T), POOL, drop_above=0.5)
    walker = DATA != 0
    per_frame = (walker & result.cover).sum((2, 3)) / walker.sum((2, 3))  # [N, T] measured
    expect = per_frame <= 0.5
    lost = ~expect.any(1)
    assert np.array_equal(result.keep[~lost], expect[~lost])
    assert (~result.keep).any()
    assert np.all(result.keep[lost].sum(1) == 1)  # a walker lost in every frame keeps their best one
    assert np.array_equal(result.kept, result.keep.sum(1))
    # a sequence keeps its kept frames only, in order
    one = occlude_wild(DATA[0], occs[0], POOL, drop_above=0.5)
    assert len(one) == result.kept[0] and np.array_equal(one, result.frames[0, : result.kept[0]])
    # a training batch keeps its shape: the dropped frames are the kept ones again, in order
    batch = occlude_wild_batch(torch.from_numpy(DATA), occs, np.full(len(DATA), T), POOL, drop_above=0.5)
    filled = refill(batch.frames, batch.kept, np.full(len(DATA), T)).numpy()
    for i, kept in enumerate(result.kept):
        assert np.array_equal(filled[i], np.resize(result.frames[i, :kept], (T, H, W)))


def test_policy_mixes_the_paper_kinds_and_the_wild_ones():
    policy = OcclusionPolicy({"top": 0.25, "pole": 0.25, "cut": 0.25, "object": 0.25})
    assert policy.classes == ("none", "top", "pole", "cut", "object") and not policy.needs_pool
    kind, amount = policy.sample(4000, torch.Generator().manual_seed(0))
    for index, (lo, hi) in ((1, (0.4, 0.6)), (2, (0.2, 0.4)), (3, WILD_RANGE), (4, WILD_RANGE)):
        chosen = amount[kind == index]
        assert len(chosen) > 800 and lo - 1e-6 <= chosen.min() and chosen.max() <= hi + 1e-6
    sils = torch.from_numpy(DATA)
    kind, amount = policy.sample(len(sils), torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(2)
    out = occlude_batch(sils, kind, amount, None, gen, policy.classes)
    draws = draw_batch(kind, amount, torch.Generator().manual_seed(2), policy.classes)
    assert out.shape == sils.shape
    for i, occ in enumerate(draws.to_list()):
        alone = occlude(DATA[i], occ)
        assert np.array_equal(out[i, : len(alone)].numpy(), alone)
        refilled = np.resize(alone, (T, H, W))  # a training batch repeats the kept frames in order
        assert np.array_equal(out[i].numpy(), refilled)
    with pytest.raises(UserError, match="wild_range"):
        OcclusionPolicy({"cut": 0.5}, wild_range=(0.5, 0.2))
    assert OcclusionPolicy({"crowd": 0.5}).needs_pool


def test_cli_shows_the_wild_kinds_and_refuses_unknown_ones(tmp_path, capsys):
    from PIL import Image

    from mimicgait.cli import main

    root = make_dataset(tmp_path / "data", subjects=3, conditions=1, views=1, frames=6, size=32)
    png = tmp_path / "wild.png"
    assert main(["occlusion", "show", "--data", str(root), "--out", str(png), "--sequences", "2",
                 "--kinds", "crowd,object,cut"]) == 0
    with Image.open(png) as image:
        assert image.height == 2 * 3 * (32 + 3)
        assert (np.asarray(image.convert("RGB")) == [110, 0, 0]).all(-1).any()
    capsys.readouterr()
    assert main(["occlusion", "show", "--data", str(root), "--out", str(tmp_path / "x.png"),
                 "--kinds", "top,crowds"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown occlusion kind 'crowds'" in err and "cut" in err
