"""Protocols end to end on a tiny store whose embeddings are chosen by hand, so the answers are known.

Each sequence's first frame row spells its store index in binary; the fake `embed_fn` reads it back
and returns a row of a hand-made embedding table. Rows 1.. carry the silhouette area the fake
occluder removes, so occlusion visibly changes the embeddings.
"""

import zlib

import numpy as np
import pytest
import torch

from mimicgait.data.records import SequenceRecord
from mimicgait.data.store import SequenceStore
from mimicgait.eval import protocols
from mimicgait.eval.evaluate import check_input_size, evaluate
from mimicgait.eval.extract import length_batches

SUBJECTS = ["001", "002", "003", "004"]
VIEWS = ["000", "018", "036"]
CONDITIONS = ["nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06", "bg-01", "bg-02", "cl-01", "cl-02"]
SIZE = 8


def make_store(skip=()):
    records = []
    for s in SUBJECTS:
        for c in CONDITIONS:
            for v in VIEWS:
                if (s, c, v) in skip:
                    continue
                i = len(records)
                frames = np.ones((3 + i % 4, SIZE, SIZE), np.uint8)  # lengths 3..6
                frames[:, 0] = (i >> np.arange(SIZE)) & 1
                records.append(SequenceRecord(s, c, v, frames))
    return SequenceStore.from_records(records)


def table_embed(table):
    """embed_fn returning table[index] plus the visible areas of rows 1-3 and 4-7 as two channels."""
    weights = 2 ** torch.arange(SIZE, dtype=torch.float32)

    def embed(sils, lengths):
        idx = (sils[:, 0, 0, :] * weights).sum(1).long()  # [N]
        upper = torch.stack([sils[i, : lengths[i], 1:4].mean() for i in range(len(sils))])  # [N]
        lower = torch.stack([sils[i, : lengths[i], 4:].mean() for i in range(len(sils))])  # [N]
        area = 5 * torch.stack([upper, lower], 1)[:, :, None].expand(-1, 2, table.shape[2])  # [N, 2, P]
        return torch.cat([table[idx], area], 1)  # [N, C + 2, P]

    return embed


def one_hot_table(store, permutations):
    """Sequence of subject s at view v embeds as one-hot of permutations[v][s]: cell (pv, gv) is correct
    exactly where both views' permutations agree."""
    table = torch.zeros(len(store), len(SUBJECTS), 2)
    for i, (s, _c, v) in enumerate(store.keys):
        table[i, permutations[VIEWS.index(v)][SUBJECTS.index(s)], :] = 10.0
    return table


def test_casia_b_excludes_identical_views_and_averages_like_opengait():
    store = make_store()
    ident, swap = [0, 1, 2, 3], [1, 0, 2, 3]
    report = evaluate(table_embed(one_hot_table(store, [ident, ident, swap])), store, protocols.casia_b())
    # Off-diagonal cells: (0,1)=(1,0)=100, the others 50 -> per probe view 75, 75, 50 -> 66.67.
    # (Including identical views would give 77.78.)
    for group in ("NM", "BG", "CL"):
        assert report["metrics"][f"rank1.{group}"] == pytest.approx(200 / 3)
    table = np.array(report["tables"]["NM"]["rank1"])
    assert np.allclose(np.diag(table), 100.0)
    assert table[2, 0] == pytest.approx(50.0)
    assert report["tables"]["NM"]["rank1_per_probe_view"]["036"] == pytest.approx(50.0)
    assert report["counts"] == {**report["counts"], "gallery": 4 * 4 * 3}


def test_missing_gallery_match_counts_as_failure_in_cross_view():
    skip = {("001", f"nm-0{k}", "018") for k in range(1, 5)}  # subject 001 has no gallery at 018
    store = make_store(skip)
    ident = [0, 1, 2, 3]
    report = evaluate(table_embed(one_hot_table(store, [ident] * 3)), store, protocols.casia_b())
    # Cells with gallery view 018: 3 of 4 probes can be right -> 75; (pv 000: 100, 75 -> 87.5 etc.)
    assert report["metrics"]["rank1.NM"] == pytest.approx((87.5 + 100 + 87.5) / 3)
    assert report["counts"]["unmatched_probes"]["NM"] == 2 * 2  # 2 probes x 2 probe views
    assert any("no gallery" in w for w in report["warnings"])


def fake_occluder(calls):
    """Deterministic in (seed, key, role): zero rows 1..4 ('top') or 4..7 ('bottom')."""

    def occlude(frames, key, role):
        calls.append((key, role))
        draw = zlib.crc32(f"{role}/{'/'.join(key)}".encode()) % 2
        kind = ("top", "bottom")[draw]
        out = frames.copy()
        out[:, 1:5] = 0 if kind == "top" else out[:, 1:5]
        out[:, 4:] = 0 if kind == "bottom" else out[:, 4:]
        return out, kind, 0.5

    return occlude


def test_seeded_occluded_evaluation_is_reproducible():
    store = make_store()
    rng = torch.Generator().manual_seed(0)
    table = torch.randn(len(store), 3, 2, generator=rng)
    run = lambda: evaluate(  # noqa: E731
        table_embed(table), store, protocols.casia_b(), occlusion="top,bottom", seed=3,
        occluder=fake_occluder([]), batch_size=5,
    )
    first, second = run(), run()
    assert first == second
    assert set(first["per_kind"]) == {"top", "bottom"}
    assert first["occlusion"] == {"kinds": ["top", "bottom"], "gallery": "same", "seed": 3}
    holistic = evaluate(table_embed(table), store, protocols.casia_b())
    assert holistic["metrics"] != first["metrics"]  # the occluder changed the embeddings


def test_gallery_occlusion_none_leaves_gallery_untouched():
    store = make_store()
    calls = []
    seen = {}
    base = table_embed(one_hot_table(store, [[0, 1, 2, 3]] * 3))

    def spy(sils, lengths):
        for i in range(len(sils)):
            idx = int((sils[i, 0, 0] * 2 ** torch.arange(SIZE)).sum())
            seen[idx] = sils[i, : lengths[i]].clone()
        return base(sils, lengths)

    report = evaluate(spy, store, protocols.casia_b(), occlusion=["top", "bottom"], gallery_occlusion="none",
                      occluder=fake_occluder(calls))
    assert {role for _k, role in calls} == {"probe"}
    gallery = np.flatnonzero(protocols.casia_b().gallery.mask(store.keys))
    for i in gallery:
        assert torch.equal(seen[i], torch.from_numpy(store.frames(i)).float())
    assert report["counts"]["gallery_kinds"] == {"none": len(gallery)}
    assert report["occlusion"]["gallery"] == "none"


def test_gait3d_probe_set_skips_unmatched_and_reports_map():
    store = make_store()
    probe_set = [f"{s}/nm-05" for s in SUBJECTS] + ["009/nm-01"]
    skip_subject_gallery = protocols.gait3d(probe_set)
    table = one_hot_table(store, [[0, 1, 2, 3]] * 3)
    report = evaluate(table_embed(table), store, skip_subject_gallery)
    m = report["metrics"]
    assert m["rank1"] == 100.0 and m["mAP"] == 100.0 and m["mINP"] == 100.0
    assert report["counts"]["probes"]["all"] == 4 * 3


def test_rank_and_verification_protocols():
    store = make_store()
    table = one_hot_table(store, [[0, 1, 2, 3]] * 3)
    rank = protocols.build_protocol("rank", probe_types="bg", gallery_types="nm-01,nm-02")
    report = evaluate(table_embed(table), store, rank, metric="cos")
    assert report["metrics"]["rank1"] == 100.0 and report["metrics"]["rank5"] == 100.0
    ver = protocols.build_protocol("verification", probe_types="cl", gallery_types="nm")
    report = evaluate(table_embed(table), store, ver)
    assert report["metrics"]["tar@far=0.01"] == 100.0
    assert report["curves"]["roc"]["all"]["far"]


def test_empty_sets_and_bad_sizes_are_explained():
    store = make_store()
    embed = table_embed(one_hot_table(store, [[0, 1, 2, 3]] * 3))
    with pytest.raises(ValueError, match="gallery .* is empty"):
        evaluate(embed, store, protocols.oumvlp())
    with pytest.raises(ValueError, match="every probe set"):
        evaluate(embed, store, protocols.build_protocol("rank", probe_types="xx", gallery_types="nm"))
    with pytest.raises(ValueError, match="probe-types"):
        protocols.build_protocol("rank")
    with pytest.raises(ValueError, match=r"trained on \(64, 44\)"):
        check_input_size((64, 44), (64, 64), "ckpt.pt")
    check_input_size((64, 64), (64, 64))


def test_length_batches_group_similar_lengths():
    lengths = [5, 100, 7, 90, 6, 95]
    batches = [b.tolist() for b in length_batches(lengths, batch_size=3)]
    assert batches == [[0, 4, 2], [3, 5, 1]]
    capped = [b.tolist() for b in length_batches(lengths, batch_size=3, max_frames=190)]
    assert all(len(b) * max(lengths[i] for i in b) <= 190 or len(b) == 1 for b in capped)
    assert sorted(sum(capped, [])) == list(range(6))


def test_gallery_view_absent_is_left_out_not_failed():
    skip = {(s, f"nm-0{k}", "036") for s in SUBJECTS for k in range(1, 5)}
    store = make_store(skip)
    report = evaluate(table_embed(one_hot_table(store, [[0, 1, 2, 3]] * 3)), store, protocols.casia_b())
    assert report["metrics"]["rank1.NM"] == 100.0
    assert report["tables"]["NM"]["rank1"][0][2] is None  # JSON-safe NaN


def test_overlapping_probe_and_gallery_is_flagged():
    store = make_store()
    rank = protocols.build_protocol("rank", probe_types="nm", gallery_types="nm-01")
    report = evaluate(table_embed(one_hot_table(store, [[0, 1, 2, 3]] * 3)), store, rank)
    assert any("both probe and gallery" in w for w in report["warnings"])


def test_a_protocol_registered_in_a_test_file_is_built_offered_and_evaluated(capsys):
    """A new protocol is one decorated function: build_protocol, the CLI's choices and the config
    check see it, and evaluation runs on it."""
    from mimicgait.cli import build_parser
    from mimicgait.engine.config import ConfigError, load_config

    @protocols.register_protocol("nm-only")
    def nm_only(probe_types=None) -> protocols.Protocol:
        return protocols.Protocol(name="nm-only", gallery=protocols.Selector(prefixes=("nm-01",)),
                                  probes={"NM": protocols.Selector(prefixes=(probe_types or "nm-02",))},
                                  ranks=(1,))

    try:
        protocol = protocols.build_protocol("nm-only", probe_types="nm-02", list_file="ignored.json")
        store = make_store()
        report = evaluate(table_embed(one_hot_table(store, [[0, 1, 2, 3]] * 3)), store, protocol)
        assert report["protocol"] == "nm-only" and report["metrics"]["rank1"] == 100.0
        eval_parser = build_parser()._subparsers._group_actions[0].choices["eval"]
        choices = next(a.choices for a in eval_parser._actions if "--protocol" in a.option_strings)
        assert "nm-only" in choices
        assert load_config("tiny", ["val.protocol=nm-only"])["val"]["protocol"] == "nm-only"
    finally:
        del protocols.PROTOCOLS["nm-only"]
    with pytest.raises(ConfigError, match="val.protocol"):
        load_config("tiny", ["val.protocol=nm-only"])
