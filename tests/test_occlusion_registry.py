"""Occlusion kinds are registered objects: a kind written in this file alone is drawn by the policy and
the evaluation draws, applied by the NumPy and the batched torch forms (which agree), listed and shown
by `mimicgait occlusion`, and evaluated by `eval.evaluate`. The built-in kinds keep their indices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch

from mimicgait.data.occlusion import (
    ALL_KINDS,
    KINDS,
    WILD_KINDS,
    BatchOcclusion,
    OccluderPool,
    Occlusion,
    OcclusionKind,
    OcclusionPolicy,
    check_kind,
    draw_batch,
    draw_occlusion,
    eval_draw,
    get_kind,
    occlude,
    occlude_batch_detected,
    occlude_batch_with,
    register_kind,
    unregister_kind,
)
from mimicgait.data.occlusion.rules import Ranges, span
from mimicgait.errors import UserError

#: The class indices trained VENs and models depend on.
HISTORICAL = ("none", "top", "bottom", "middle", "patch", "pole", "changing", "crowd", "object", "cut")


class Stripe(OcclusionKind):
    """A vertical stripe of width x (from R) stands at a drawn column, full height, in every frame."""

    name = "stripe"

    def draw(self, rng: np.random.Generator, amount: float, ranges: Ranges, *, pool: OccluderPool | None,
             subject: str | None) -> Occlusion:
        return Occlusion(self.name, amount, offset=float(rng.random()))  # offset: where it stands

    def draw_batch(self, amount: torch.Tensor, u: torch.Tensor, extra: np.ndarray | None, ranges: Ranges, *,
                   pool: OccluderPool | None, subjects: Sequence[str] | None) -> dict[str, Any]:
        return {"offset": u[:, 0]}

    @staticmethod
    def _columns(amount, offset, width: int) -> tuple[np.ndarray, np.ndarray]:
        """First and end column of the stripe (scalars or arrays [M])."""
        cols = span(amount, width)
        first = np.floor(np.asarray(offset) * (width - cols)).astype(np.int64)
        return first, first + cols

    def occlude(self, frames: np.ndarray, occ: Occlusion, pool: OccluderPool | None) -> np.ndarray:
        first, end = self._columns(occ.amount, occ.offset, frames.shape[2])
        out = frames.copy()
        out[:, :, first:end] = 0
        return out

    def occlude_batch(self, sils: torch.Tensor, occ: BatchOcclusion, lengths: np.ndarray,
                      pool: OccluderPool | None) -> tuple[torch.Tensor, np.ndarray]:
        first, end = (torch.from_numpy(c).to(sils.device)
                      for c in self._columns(occ.amount.numpy(), occ.offset.numpy(), sils.shape[3]))
        cols = torch.arange(sils.shape[3], device=sils.device)
        hide = (cols >= first[:, None]) & (cols < end[:, None])  # [M, W]
        return sils.masked_fill(hide[:, None, None, :], 0), np.asarray(lengths)

    def describe(self, occ: Occlusion) -> str:
        return f"at {occ.offset:.2f}"


@pytest.fixture
def stripe():
    register_kind(Stripe)
    yield get_kind("stripe")
    unregister_kind("stripe")


def _frames(t: int = 6, h: int = 16, w: int = 20, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((t, h, w)) < 0.7).astype(np.uint8)


def test_built_in_kinds_keep_their_indices_and_views_follow_the_registry(stripe):
    assert tuple(ALL_KINDS[: len(HISTORICAL)]) == HISTORICAL
    assert [get_kind(k).index for k in HISTORICAL] == list(range(len(HISTORICAL)))
    assert stripe.index == len(HISTORICAL) and ALL_KINDS[-1] == "stripe"
    assert "stripe" in KINDS and "stripe" not in WILD_KINDS and check_kind("stripe") == "stripe"
    with pytest.raises(ValueError, match="already registered"):
        register_kind(Stripe)
    with pytest.raises(ValueError, match="only the last"):
        unregister_kind("top")


def test_unregistered_kind_is_gone():
    assert "stripe" not in ALL_KINDS and tuple(ALL_KINDS) == HISTORICAL
    with pytest.raises(UserError, match="unknown occlusion kind 'stripe'"):
        draw_occlusion("stripe")


def test_the_new_kind_is_drawn(stripe):
    occ = draw_occlusion("stripe", np.random.default_rng(0))
    assert occ.kind == "stripe" and 0.4 <= occ.amount <= 0.6 and 0 <= occ.offset < 1
    assert draw_occlusion("stripe", np.random.default_rng(0)) == occ  # a pure function of the generator
    policy = OcclusionPolicy({"top": 0.3, "stripe": 0.5})
    assert policy.classes == ("none", "top", "stripe") and not policy.needs_pool
    drawn = {policy.draw(np.random.default_rng(seed)).kind for seed in range(40)}
    assert drawn == {"none", "top", "stripe"}
    kind, amount = policy.sample(200, torch.Generator().manual_seed(0))
    stripes = amount[kind == 2]
    assert len(stripes) and bool(((stripes >= 0.4) & (stripes <= 0.6)).all())
    assert eval_draw(("stripe",), 3, ("001", "nm-01", "000"), "probe").kind == "stripe"


def test_numpy_and_torch_batch_agree_among_other_kinds(stripe):
    classes = ("none", "top", "patch", "stripe", "cut")
    n = 10
    sils = torch.from_numpy(np.stack([_frames(seed=i) for i in range(n)]))  # [N, S, H, W]
    kinds = torch.arange(n) % len(classes)  # every class, twice
    occ = draw_batch(kinds, torch.full((n,), 0.5), torch.Generator().manual_seed(1), classes)
    assert [o.kind for o in occ.to_list()] == [classes[i % len(classes)] for i in range(n)]
    frames, kept = occlude_batch_detected(sils, occ)
    for i, o in enumerate(occ.to_list()):
        expected = occlude(sils[i].numpy(), o)
        assert kept[i] == len(expected)
        np.testing.assert_array_equal(frames[i, : kept[i]].numpy(), expected)
        if o.kind == "stripe":
            hidden = (frames[i] == 0).all(0).all(0).numpy()  # [W] columns hidden in every frame
            assert hidden.sum() >= span(o.amount, sils.shape[3])
    mine = kinds == 3  # a batch of the new kind alone takes the same path
    alone = occlude_batch_with(sils[mine], occ.take(np.flatnonzero(mine.numpy())))
    np.testing.assert_array_equal(alone.numpy(), frames[mine].numpy())


def test_the_new_kind_is_listed_and_shown(stripe, tmp_path, capsys):
    from PIL import Image

    from mimicgait.cli import main

    assert main(["occlusion", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(ALL_KINDS)
    assert lines[-1].split()[:3] == ["10", "stripe", "-"] and "vertical stripe" in lines[-1]
    assert lines[7].split()[:3] == ["7", "crowd", "wild,pool"]
    data = tmp_path / "data"
    data.mkdir()
    frames = np.zeros((6, 64, 64), np.uint8)
    frames[:, 8:60, 16:48] = 1
    np.savez_compressed(data / "001.npz", **{"nm-01/090": np.packbits(frames, axis=-1)})
    png = tmp_path / "stripe.png"
    assert main(["occlusion", "show", "--data", str(data), "--out", str(png), "--sequences", "1",
                 "--kinds", "stripe"]) == 0
    with Image.open(png) as image:
        assert image.height == 64 + 3  # one sequence, one kind
        assert (np.asarray(image.convert("RGB")) == [110, 0, 0]).all(-1).any()  # the stripe is painted
    assert main(["occlusion", "show", "--data", str(data), "--out", str(png), "--force",
                 "--sequences", "1"]) == 0  # shown by default with the others
    with Image.open(png) as image:
        assert image.height == 7 * (64 + 3)


def test_the_new_kind_is_evaluated(stripe):
    from mimicgait.data.records import SequenceRecord
    from mimicgait.data.store import SequenceStore
    from mimicgait.eval import protocols
    from mimicgait.eval.evaluate import evaluate

    conditions = ["nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06", "bg-01", "cl-01"]
    records = [SequenceRecord(s, c, v, np.ones((4, 8, 20), np.uint8))
               for s in ("001", "002") for c in conditions for v in ("000", "090")]
    store = SequenceStore.from_records(records)
    hidden_columns = []

    def embed(sils: torch.Tensor, lengths) -> torch.Tensor:
        seen = sils.sum(dim=(1, 2))  # [N, W]
        hidden_columns.extend((seen == 0).sum(1).tolist())
        return seen[:, :, None].float()  # [N, W, 1]

    report = evaluate(embed, store, protocols.casia_b(), occlusion="stripe", seed=2)
    assert set(report["per_kind"]) == {"stripe"}
    assert set(report["counts"]["probe_kinds"]) == {"stripe"}
    assert "dropped_frames" not in report["counts"]  # it keeps every frame
    assert hidden_columns and min(hidden_columns) >= span(0.4, 20) and max(hidden_columns) <= span(0.6, 20)
