"""Synthetic occlusions: geometry of every kind, exactness of the resize, reproducibility, batching."""

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mimicgait.data.occlusion import (
    KINDS,
    BatchOcclusion,
    Occlusion,
    OcclusionPolicy,
    apply_occlusion,
    draw_batch,
    draw_occlusion,
    eval_occlusion,
    occlude,
    occlude_batch,
    occlude_batch_with,
    resize_rows,
)
from mimicgait.occlusion import apply_occlusion as public_apply


def _random_sils(t=6, h=64, w=44, seed=0, dtype=np.uint8):
    return (np.random.default_rng(seed).random((t, h, w)) < 0.5).astype(dtype)


def _row_coded(t=3, h=64):
    """Frames whose row r spells r in binary across 8 columns, so every output row names its source."""
    bits = (np.arange(h)[:, None] >> np.arange(8)[None, :]) & 1  # [H, 8]
    return np.broadcast_to(np.concatenate([bits, 1 - bits], axis=1), (t, h, 16)).astype(np.uint8).copy()


def _decode_rows(frames):
    return (frames[..., :8].astype(np.int64) << np.arange(8)).sum(-1)  # [T, H]


def _resize_threshold_reference(crop, height):
    """Independent float resize (PyTorch bilinear, half-pixel centres) then threshold at half the range."""
    x = torch.from_numpy(crop.astype(np.float64))[:, None]  # [T, 1, h, W]
    y = F.interpolate(x, size=(height, crop.shape[2]), mode="bilinear", align_corners=False)[:, 0]
    return (y > 0.5).numpy().astype(crop.dtype)


@pytest.mark.parametrize("amount", [0.4, 0.47, 0.5, 0.6])
@pytest.mark.parametrize("kind", ["top", "bottom"])
def test_top_bottom_hide_amount_and_keep_the_other_end(kind, amount):
    frames = _row_coded()
    source = _decode_rows(occlude(frames, Occlusion(kind, amount)))  # [T, H]
    seen = np.unique(source)
    hidden = 64 - seen.size
    assert abs(hidden - amount * 64) <= 1
    assert np.array_equal(seen, np.arange(hidden, 64) if kind == "top" else np.arange(0, 64 - hidden))
    assert np.all(np.diff(source, axis=1) >= 0)  # order preserved, stretched


@pytest.mark.parametrize("amount", [0.4, 0.55, 0.6])
@pytest.mark.parametrize("kind", ["top", "bottom"])
def test_top_bottom_equal_float_resize_then_threshold(kind, amount):
    frames = _random_sils(seed=int(amount * 100))
    crop_h = int(np.floor((1 - amount) * 64 + 0.5))  # the documented rounding
    crop = frames[:, 64 - crop_h :] if kind == "top" else frames[:, :crop_h]
    assert np.array_equal(occlude(frames, Occlusion(kind, amount)), _resize_threshold_reference(crop, 64))


def test_resize_tie_takes_both_rows_as_exact_arithmetic_does():
    crop_h, height = 64, 96  # ties exist: 2H divides (2i + 1) h for i = 1, 4, 7, ...
    a, b = resize_rows(crop_h, height)
    assert (a != b).any()
    rng = np.random.default_rng(3)
    crop = (rng.random((crop_h, 5)) < 0.5).astype(np.uint8)
    ours = np.minimum(crop[a], crop[b])
    for i in range(height):  # exact rational blend, thresholded at half
        s = max(Fraction(2 * i + 1, 2) * Fraction(crop_h, height) - Fraction(1, 2), Fraction(0))
        lo = int(s)
        hi = min(lo + 1, crop_h - 1)
        blend = (1 - (s - lo)) * crop[lo].astype(object) + (s - lo) * crop[hi].astype(object)
        assert np.array_equal(ours[i], (blend > Fraction(1, 2)).astype(np.uint8)), i


def test_middle_band_is_centred_and_sized():
    frames = np.ones((4, 64, 20), dtype=np.uint8)
    out = occlude(frames, Occlusion("middle", 0.45))
    zero_rows = np.flatnonzero((out == 0).all(axis=(0, 2)))
    assert abs(zero_rows.size - 0.45 * 64) <= 1
    assert np.array_equal(zero_rows, np.arange(zero_rows[0], zero_rows[-1] + 1))
    assert abs(zero_rows[0] - (63 - zero_rows[-1])) <= 1
    assert out.sum() == frames.sum() - zero_rows.size * 4 * 20


@pytest.mark.parametrize("reverse", [False, True])
def test_patch_size_anchor_and_motion(reverse):
    occ = Occlusion("patch", 0.5, width=0.42, speed=0.75, reverse=reverse)
    out = occlude(np.ones((20, 64, 64), dtype=np.uint8), occ)
    hidden = out == 0  # [T, H, W]
    rows = np.flatnonzero(hidden.any(axis=(0, 2)))
    assert abs(rows.size - 0.5 * 64) <= 1 and rows[-1] == 63  # anchored at the bottom
    cols = hidden.any(axis=1)  # [T, W]
    widths = cols.sum(1)
    assert np.all(np.abs(widths - 0.42 * 64) <= 1)
    left = cols.argmax(1)
    step = left[-1] - left[0]
    expect = -0.75 * 19 if reverse else 0.75 * 19
    assert abs(step - expect) <= 1
    assert np.array_equal(
        left, (64 - widths - np.floor(0.75 * np.arange(20))) if reverse else np.floor(0.75 * np.arange(20))
    )


@pytest.mark.parametrize("reverse", [False, True])
def test_pole_is_full_height_and_moves(reverse):
    out = occlude(np.ones((10, 32, 64), dtype=np.uint8), Occlusion("pole", 0.3, speed=1.0, reverse=reverse))
    hidden_cols = (out == 0).all(axis=1)  # [T, W], full height
    assert np.array_equal(hidden_cols, (out == 0).any(axis=1))
    assert np.all(np.abs(hidden_cols.sum(1) - 0.3 * 64) <= 1)
    left = hidden_cols.argmax(1)
    assert np.array_equal(np.diff(left), np.full(9, -1 if reverse else 1))


@pytest.mark.parametrize("t", [7, 8])
@pytest.mark.parametrize("reverse", [False, True])
def test_changing_switches_at_the_middle_frame(t, reverse):
    frames = _random_sils(t=t, h=32, w=16, seed=t)
    out = occlude(frames, Occlusion("changing", 0.5, reverse=reverse))
    first, second = ("bottom", "top") if reverse else ("top", "bottom")
    half = t // 2
    assert np.array_equal(out[:half], occlude(frames[:half], Occlusion(first, 0.5)))
    assert np.array_equal(out[half:], occlude(frames[half:], Occlusion(second, 0.5)))
    assert not np.array_equal(out[half:], occlude(frames[half:], Occlusion(first, 0.5)))


@pytest.mark.parametrize("kind", KINDS)
def test_dtype_and_value_convention_kept(kind):
    base = _random_sils(t=5, h=32, w=32, seed=1)
    for frames in (base, base * 255, base.astype(bool)):
        out = apply_occlusion(frames, kind, rng=np.random.default_rng(0))
        assert out.dtype == frames.dtype and out.shape == frames.shape
        assert set(np.unique(out)) <= set(np.unique(frames))
        assert out is not frames
        if kind == "none":
            assert np.array_equal(out, frames)
    scaled = apply_occlusion(base * 255, kind, rng=np.random.default_rng(0))
    assert np.array_equal(scaled, apply_occlusion(base, kind, rng=np.random.default_rng(0)) * 255)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("t", [0, 1])
def test_empty_and_single_frame(kind, t):
    frames = np.ones((t, 16, 12), dtype=np.uint8)
    out = apply_occlusion(frames, kind, amount=0.5 if kind != "none" else None, rng=np.random.default_rng(0))
    assert out.shape == (t, 16, 12)
    if t and kind != "none":
        assert out.sum() < frames.sum() or kind in ("top", "bottom", "changing")
    batched = occlude_batch(torch.ones(2, t, 16, 12), [kind, kind], [0.5, 0.5], generator=torch.Generator())
    assert batched.shape == (2, t, 16, 12)


def test_amount_drawn_from_range_and_validated():
    rng = np.random.default_rng(0)
    amounts = [draw_occlusion("top", rng).amount for _ in range(200)]
    assert 0.4 <= min(amounts) and max(amounts) <= 0.6
    assert all(0.2 <= draw_occlusion("pole", rng).amount <= 0.4 for _ in range(50))
    with pytest.raises(ValueError, match="unknown occlusion kind 'left'"):
        apply_occlusion(np.zeros((1, 4, 4), np.uint8), "left")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        apply_occlusion(np.zeros((1, 4, 4), np.uint8), "top", amount=1.2)


def test_policy_probabilities_classes_and_call():
    with pytest.raises(ValueError, match="sum to 1.1"):
        OcclusionPolicy({"top": 0.6, "bottom": 0.5})
    with pytest.raises(ValueError, match="unknown occlusion kind"):
        OcclusionPolicy({"sideways": 0.5})
    policy = OcclusionPolicy({"top": 0.3, "middle": 0.0, "bottom": 0.3})
    assert policy.classes == ("none", "top", "bottom")
    kind, amount = policy.sample(6000, torch.Generator().manual_seed(0))
    assert kind.dtype == torch.long and amount.dtype == torch.float32
    freq = torch.bincount(kind, minlength=3).double() / 6000
    assert torch.allclose(freq, torch.tensor([0.4, 0.3, 0.3], dtype=torch.float64), atol=0.03)
    assert torch.all(amount[kind == 0] == 0)
    assert amount[kind > 0].min() >= 0.4 and amount[kind > 0].max() <= 0.6
    frames = _random_sils(t=4, h=32, w=32)
    rng = np.random.default_rng(5)
    seen = set()
    for _ in range(30):
        occluded, holistic, index, x = policy(frames, rng)
        seen.add(index)
        assert holistic is frames
        assert (x == 0) == (index == 0)
        assert (index == 0) == np.array_equal(occluded, frames)
    assert seen == {0, 1, 2}


def test_evaluation_occlusion_is_a_pure_function_of_seed_and_identity():
    keys = [(f"{s:03d}", c, v) for s in range(1, 5) for c in ("nm-01", "bg-01") for v in ("000", "090")]
    frames = {k: _random_sils(t=5, h=32, w=32, seed=i) for i, k in enumerate(keys)}
    kinds = ("top", "bottom", "middle", "patch", "pole", "changing")

    def run(order, seed=7, role="probe"):
        return {k: eval_occlusion(frames[k], kinds, seed, k, role) for k in order}

    full = run(keys)
    subset = run(list(reversed(keys))[::3])
    for k, (out, kind, amount) in subset.items():
        assert kind == full[k][1] and amount == full[k][2] and np.array_equal(out, full[k][0])
    gallery = run(keys, role="gallery")
    other_seed = run(keys, seed=8)
    assert any(gallery[k][1:] != full[k][1:] for k in keys)
    assert any(other_seed[k][1:] != full[k][1:] for k in keys)
    assert len({full[k][1] for k in keys}) > 2


def test_batched_torch_equals_numpy_for_the_same_draws():
    rng = np.random.default_rng(11)
    occs = [draw_occlusion(k, rng) for k in KINDS for _ in range(2)]
    occs.append(Occlusion("changing", 0.45, reverse=True))
    n, s = len(occs), 9
    sils = (rng.random((n, s, 64, 44)) < 0.5).astype(np.uint8) * 255
    lengths = np.full(n, s)
    lengths[-3:] = [5, 6, 7]  # changing must switch at the valid length's middle
    expect = np.stack(
        [
            np.concatenate([occlude(x[:length], o), x[length:]])
            for x, o, length in zip(sils, occs, lengths, strict=True)
        ]
    )
    got = occlude_batch_with(
        torch.from_numpy(sils), BatchOcclusion.from_list(occs), torch.from_numpy(lengths)
    )
    assert got.dtype == torch.uint8
    assert np.array_equal(got.numpy()[:, :5], expect[:, :5])
    valid = np.arange(s)[None, :] < lengths[:, None]
    assert np.array_equal(got.numpy()[valid], expect[valid])
    # float tensors and the tie path (H = 96) agree too
    tall = (rng.random((3, 4, 96, 8)) < 0.5).astype(np.float32)
    ties = [Occlusion("top", 1 / 3), Occlusion("bottom", 1 / 3), Occlusion("changing", 1 / 3)]
    got = occlude_batch_with(torch.from_numpy(tall), BatchOcclusion.from_list(ties))
    assert np.array_equal(got.numpy(), np.stack([occlude(x, o) for x, o in zip(tall, ties, strict=True)]))


def test_occlude_batch_from_policy_sample_is_reproducible():
    policy = OcclusionPolicy({k: 1 / 6 for k in KINDS[1:]})
    sils = torch.from_numpy(_random_sils(t=8 * 6, h=32, w=32).reshape(8, 6, 32, 32))
    kind, amount = policy.sample(8, torch.Generator().manual_seed(1))
    one = occlude_batch(
        sils, kind, amount, generator=torch.Generator().manual_seed(2), classes=policy.classes
    )
    two = occlude_batch(
        sils, kind, amount, generator=torch.Generator().manual_seed(2), classes=policy.classes
    )
    assert torch.equal(one, two) and one.dtype == sils.dtype
    draws = draw_batch(kind, amount, torch.Generator().manual_seed(2), classes=policy.classes)
    replay = np.stack([occlude(x, o) for x, o in zip(sils.numpy(), draws.to_list(), strict=True)])
    assert np.array_equal(one.numpy(), replay)
    assert [o.kind for o in draws.to_list()] == [policy.classes[i] for i in kind.tolist()]
    with pytest.raises(ValueError, match="out of range"):
        occlude_batch(sils[:1], torch.tensor([9]), [0.5], classes=policy.classes)


def test_public_reexport():
    assert public_apply is apply_occlusion


def _tiny_npz_dir(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    frames = np.zeros((6, 64, 64), np.uint8)
    frames[:, 8:60, 24:40] = 1  # a standing block "person"
    entries = {f"nm-0{i}/090": np.packbits(frames, axis=-1) for i in (1, 2)}
    np.savez_compressed(data / "001.npz", **entries)
    return data


def test_cli_show_writes_png_and_gif(tmp_path):
    from PIL import Image

    from mimicgait.cli import main

    data = _tiny_npz_dir(tmp_path)
    png, gif = tmp_path / "o.png", tmp_path / "o.gif"
    assert main(["occlusion", "show", "--data", str(data), "--out", str(png), "--sequences", "2"]) == 0
    with Image.open(png) as image:
        assert image.height == 2 * 6 * (64 + 3)  # a row per (sequence, kind)
        pixels = np.asarray(image.convert("RGB"))
    assert (pixels == [110, 0, 0]).all(-1).any()  # occluder regions are painted
    assert main(["occlusion", "show", "--data", str(data), "--out", str(gif), "--kinds", "top", "pole"]) == 0
    with Image.open(gif) as image:
        assert 2 <= image.n_frames <= 6  # identical consecutive frames may merge
    assert main(["occlusion", "show", "--data", str(data), "--out", str(tmp_path / "o.jpg")]) == 2
    assert main(["occlusion", "show", "--data", str(tmp_path / "absent"), "--out", str(png)]) == 2
