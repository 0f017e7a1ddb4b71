"""The streaming evaluator: fed in several batches it reports what one batch gives, and `evaluate`
is the evaluator fed one pass per role; a model's passes are shared between reports of one draw."""

import numpy as np
import pytest
import torch
from test_eval_protocols import fake_occluder, make_store, one_hot_table, table_embed

from mimicgait.eval import protocols
from mimicgait.eval.cross_view import nan_to_none
from mimicgait.eval.evaluate import evaluate, evaluate_passes
from mimicgait.eval.evaluator import RetrievalEvaluator, select_roles
from mimicgait.eval.passes import ModelPasses

PROTOCOLS = {
    "casia-b": lambda: protocols.casia_b(),
    "verification": lambda: protocols.build_protocol("verification", probe_types="bg,cl", gallery_types="nm"),
    "gait3d-like": lambda: protocols.Protocol("skip", protocols.Selector(prefixes=("nm-0",)),
                                              {"all": protocols.Selector(prefixes=("bg", "cl"))},
                                              skip_unmatched=True),
}


def noisy_table(store):
    """Hand-made embeddings with noise, so ranks, mAP and the cross-view cells are not all 100."""
    table = one_hot_table(store, [[0, 1, 2, 3], [1, 0, 2, 3], [0, 1, 3, 2]])
    return table + 3 * torch.rand(table.shape, generator=torch.Generator().manual_seed(0))


def fed(store, protocol, embed, batch: int, kinds=("top", "bottom")):
    """The evaluator's report pieces with each role fed in batches of `batch` rows."""
    gallery, probes = select_roles(protocol, store.keys)
    passes = ModelPasses(embed, store)
    occluder = fake_occluder([])
    evaluator = RetrievalEvaluator(protocol)
    for role, idx in (("gallery", gallery), ("probe", probes)):
        drawn = passes.get(role, idx, (kinds, 3), occluder)
        for i in range(0, len(idx), batch):
            rows = slice(i, i + batch)
            evaluator.process(drawn.embeddings[rows], [store.keys[j] for j in idx[rows]], role,
                              drawn.kinds[rows], drawn.dropped[rows])
    return nan_to_none(evaluator.evaluate())


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_batches_give_the_report_of_one_batch(name):
    store = make_store()
    protocol = PROTOCOLS[name]()
    embed = table_embed(noisy_table(store))
    one = fed(store, protocol, embed, batch=10_000)
    assert fed(store, protocol, embed, batch=7) == one == fed(store, protocol, embed, batch=1)
    report = evaluate(embed, store, protocol, occlusion="top,bottom", seed=3, occluder=fake_occluder([]))
    assert {k: report[k] for k in one} == one
    assert 0 < max(v for v in one["metrics"].values() if v is not None)


def test_reset_forgets_and_a_reserved_evaluator_grows_no_copies():
    store = make_store()
    protocol = protocols.casia_b()
    evaluator = RetrievalEvaluator(protocol)
    evaluator.reserve("gallery", 1, (6, 2))
    evaluator.process(np.zeros((1, 6, 2)), [store.keys[0]], "gallery")
    evaluator.reset()
    with pytest.raises(Exception, match="gallery .* is empty"):
        evaluator.evaluate()
    with pytest.raises(ValueError, match="role"):
        evaluator.process(np.zeros((1, 6, 2)), [store.keys[0]], "query")
    with pytest.raises(ValueError, match="one row per key"):
        evaluator.process(np.zeros((2, 6, 2)), [store.keys[0]], "probe")


def test_reports_of_one_draw_share_the_models_passes():
    store = make_store()
    calls = []
    embed = table_embed(noisy_table(store))

    def counting(sils, lengths):
        calls.append(len(sils))
        return embed(sils, lengths)

    passes = ModelPasses(counting, store)
    protocol = protocols.casia_b()
    holistic = evaluate_passes(passes, protocol)
    n_holistic = sum(calls)
    occluded = evaluate_passes(passes, protocol, "top,bottom", "same", 2, occluder=fake_occluder([]))
    holistic_gallery = evaluate_passes(passes, protocol, "top,bottom", "none", 2, occluder=fake_occluder([]))
    again = evaluate_passes(passes, protocol)
    assert n_holistic == len(store) and sum(calls) == 2 * len(store)  # one pass per role and draw
    assert again == holistic
    assert occluded == evaluate(embed, store, protocol, "top,bottom", seed=2, occluder=fake_occluder([]))
    assert holistic_gallery == evaluate(embed, store, protocol, "top,bottom", "none", seed=2,
                                        occluder=fake_occluder([]))
    evaluate_passes(passes, protocol, "top,bottom", "same", 3, occluder=fake_occluder([]))  # a new draw
    assert sum(calls) == 3 * len(store)
