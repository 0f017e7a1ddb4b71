"""`mimicgait.video.crossing`: made crossings keep their truth consistent with their pixels, and the
scoring sees a perfect tracker as perfect and a swap as a swap. Synthetic walkers, no videos."""

import io

import numpy as np
import pytest

from mimicgait.video.crossing import (
    Walker,
    box_iou,
    compose,
    iou_summary,
    load_truth,
    mask_boxes,
    mirror,
    opaque,
    save_truth,
    score_walkers,
    track_subjects,
)

H, W = 48, 64


def walker(subject: str, frames: int, colour: int, step: int = 3, hole: bool = False) -> Walker:
    """A 10x30 block walking left to right, `step` pixels a frame, on a grey scene."""
    x0 = np.arange(frames) * step - 10  # [N] left column, entering from outside
    cols = np.arange(W)
    rows = (np.arange(H) >= 10) & (np.arange(H) < 40)  # [H]
    masks = rows[None, :, None] & (cols[None, None, :] >= x0[:, None, None]) \
        & (cols[None, None, :] < x0[:, None, None] + 10)  # [N, H, W]
    if hole:
        masks[:, 20:23] &= ~((cols >= x0[:, None] + 4) & (cols < x0[:, None] + 6))[:, None, :]
    scene = np.full((H, W, 3), 100, np.uint8)
    frames_rgb = np.where(masks[..., None], np.uint8(colour), scene)  # [N, H, W, 3]
    return Walker(f"{subject}-nm-01-090", subject, frames_rgb, masks, scene)


def test_crossing_truth_matches_its_pixels():
    back, front = walker("001", 30, 200), opaque(mirror(walker("002", 34, 30)))
    crossing = compose(back, front)
    truth = crossing.truth
    assert truth.name == "cross-001-002" and truth.subjects == ("001", "002")
    assert len(crossing.frames) == len(truth.front) == truth.sources.shape[1]
    # the front walker's pixels wherever its mask is, the back walker's wherever it is visible
    assert np.all(crossing.frames[truth.front] == 30)
    assert np.all(crossing.frames[truth.back_visible] == 200)
    hidden = truth.hidden(0)
    assert np.nanmax(hidden) >= 0.7  # same size and rows: nearly all hidden where they meet (3-pixel steps)
    assert np.all(np.isnan(hidden) == ~truth.back.any(axis=(1, 2)))
    assert np.all(np.nan_to_num(truth.hidden(1)) == 0)
    # both at the centre in one frame
    centre = np.nanargmax(hidden)
    boxes = mask_boxes(truth.back[centre : centre + 1]), mask_boxes(truth.front[centre : centre + 1])
    assert abs(boxes[0][0, 0] - boxes[1][0, 0]) <= 3


def test_opaque_fills_holes_and_truth_round_trips():
    holed = walker("003", 12, 200, hole=True)
    assert (holed.masks.sum() < opaque(holed, closing=0).masks.sum())
    crossing = compose(walker("001", 20, 200), opaque(mirror(holed)))
    buffer = io.BytesIO()
    save_truth(buffer, crossing.truth)
    buffer.seek(0)
    again = load_truth(buffer)
    assert np.array_equal(again.front, crossing.truth.front)
    assert np.array_equal(again.back, crossing.truth.back)
    assert again.sequences == crossing.truth.sequences and again.name == crossing.truth.name


def test_boxes_follow_the_extractor_convention():
    masks = np.zeros((2, H, W), bool)
    masks[0, 5:9, 10:20] = True
    boxes = mask_boxes(masks)
    assert boxes[0].tolist() == [10, 5, 20, 9] and np.isnan(boxes[1]).all()
    assert box_iou(boxes[:1], boxes[:1])[0, 0] == 1.0 and box_iou(boxes[:1], boxes[1:])[0, 0] == 0.0


def fake_result(truth, swap_at: int | None = None):
    """Tracks 1 (back) and 2 (front) exactly as the truth; their ids exchanged from `swap_at` on."""
    masks = {1: truth.back_visible.copy(), 2: truth.front.copy()}
    if swap_at is not None:
        masks[1][swap_at:], masks[2][swap_at:] = truth.front[swap_at:], truth.back_visible[swap_at:]
    full = {1: truth.back, 2: truth.front}
    if swap_at is not None:
        full = {1: np.concatenate([truth.back[:swap_at], truth.front[swap_at:]]),
                2: np.concatenate([truth.front[:swap_at], truth.back[swap_at:]])}
    return [1, 2], masks, {k: mask_boxes(full[k]) for k in (1, 2)}


@pytest.mark.parametrize("swap", [False, True])
def test_scoring_perfect_and_swapped_tracks(swap):
    mm = pytest.importorskip("motmetrics")
    from mimicgait.video.crossing import mot_accumulator

    truth = compose(walker("001", 30, 200), mirror(walker("002", 34, 30))).truth
    swap_at = None
    if swap:  # after the crossing, in a frame where both walkers are counted
        both = np.logical_and(*(s.counted for s in score_walkers(truth, *fake_result(truth))))
        swap_at = int(np.flatnonzero(both & (np.arange(len(both)) > np.nanargmax(truth.hidden(0))))[0])
    ids, masks, boxes = fake_result(truth, swap_at)
    scores = score_walkers(truth, ids, masks, boxes)
    summary = mm.metrics.create().compute(mot_accumulator(truth, scores, boxes),
                                          metrics=["num_switches", "idf1", "mota"])
    assert int(summary["num_switches"].iloc[0]) == (2 if swap else 0)
    front = iou_summary([scores[1]])
    assert front["lost"] == 0 and front["mean_iou_counted"] == 1.0  # right masks, whatever the ids
    if not swap:
        assert summary["idf1"].iloc[0] == pytest.approx(1.0) and summary["mota"].iloc[0] == pytest.approx(1.0)
        assert track_subjects(scores, truth.subjects) == {1: "001", 2: "002"}
