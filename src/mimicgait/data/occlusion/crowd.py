"""The `crowd` kind: another walker of the same split passes in front of the walker.

The other walker's silhouettes (from an `OccluderPool`, never the walker's own subject) are mirrored
so they walk the other way, play from a drawn frame on (cycling if shorter), stand on the same
ground line and cross the frame at a drawn speed, centred on the walker at a drawn frame. Their scale
(how near the camera they pass) matches the drawn amount. Only the walker's pixels under them are
removed: an instance segmenter separates the two people, so the other's pixels are never added.

The runs of foreground of each silhouette row (merged down rows where they repeat) are the
occluder's rectangles (`sprite`), one unit per pixel of the other walker's frame. The hiding,
dropping and re-alignment all wild kinds share are in `wild`.
"""

from __future__ import annotations

import numpy as np

from mimicgait.data.occlusion.pool import OccluderPool, require_pool
from mimicgait.data.occlusion.registry import register_kind
from mimicgait.data.occlusion.rules import Occlusion
from mimicgait.data.occlusion.sprite import SpriteGeometry, anchor_columns, concat, place
from mimicgait.data.occlusion.wild import WildKind, WildScene, centred_at

#: Speed at which the other walker crosses the walker-centred frame, px/frame (both are walking).
CROWD_SPEED: tuple[float, float] = (1.0, 3.0)


def mirrored_runs(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of foreground of a silhouette sequence `[T, H, W]`, mirrored left to right, as unit
    rectangles; a run repeated unchanged on consecutive rows is one rectangle (fewer to count).

    -> (frame of each rectangle int64 [R], rectangles float64 [R, 4] as (u0, u1, v0, v1): u from the
    frame's centre column, v up from the bottom edge), in frame order.
    """
    t, h, w = frames.shape
    padded = np.zeros((t, h, w + 2), dtype=bool)
    np.not_equal(frames, 0, out=padded[:, :, 1:-1])
    edges = np.flatnonzero(padded[:, :, 1:] != padded[:, :, :-1])  # run starts and ends alternate
    starts, ends = edges[0::2], edges[1::2]
    row, c0 = np.divmod(starts, w + 1)  # row counts over the whole sequence: frame * H + row
    c1 = ends - row * (w + 1)
    # Runs with the same frame and columns on consecutive rows merge: order by (frame, c0, c1, row)
    code = ((row // h) * (w + 1) + c0) * (w + 1) + c1
    order = np.argsort(code * (h + 1) + row % h, kind="stable")
    code, row, c0, c1 = code[order], row[order], c0[order], c1[order]
    same = np.zeros(len(code), dtype=bool)
    same[1:] = (code[1:] == code[:-1]) & (row[1:] == row[:-1] + 1)
    first = np.flatnonzero(~same)  # the top row of each merged rectangle
    last = np.append(first[1:], len(code)) - 1  # its bottom row
    in_frame_order = np.argsort(row[first] // h, kind="stable")
    by_frame, bottom = first[in_frame_order], row[last][in_frame_order] % h
    frame, top = row[by_frame] // h, row[by_frame] % h
    c0, c1 = c0[by_frame], c1[by_frame]
    unit = np.stack([w - c1 - w / 2, w - c0 - w / 2, h - bottom - 1, h - top], axis=1).astype(np.float64)
    return frame.astype(np.int64), unit


def crowd_geometry(others: list[np.ndarray], phase: np.ndarray, speed: np.ndarray, reverse: np.ndarray,
                   offset: np.ndarray, lengths: np.ndarray, frames: int, height: int,
                   width: int) -> SpriteGeometry:
    """Every sequence's other walker (`others[n]`, `[T_o, H_o, W_o]`) at every valid frame."""
    parts, base = [], []
    for n, length in enumerate(lengths.tolist()):
        other = np.asarray(others[n])
        count = len(other)
        run_frame, unit = mirrored_runs(other)
        per_frame = np.bincount(run_frame, minlength=count)  # [T_o]
        first = np.cumsum(per_frame) - per_frame  # [T_o]: first run of each frame
        which = (int(phase[n] * count) + np.arange(length)) % count  # [T] the other's frame at t
        x = anchor_columns(length, float(speed[n]), bool(reverse[n]), float(offset[n]), width)
        parts.append(place(unit, first[which], per_frame[which], x, n, n * frames))
        base.append(height / other.shape[1])
    return concat(parts, np.asarray(base, np.float64), height, width)


@register_kind
class Crowd(WildKind):
    """Another walker of the same split (never the walker's own subject), mirrored, passes in front."""

    name = "crowd"
    needs_pool = True

    def draw_from(self, amount: float, u: list[float], pool: OccluderPool | None,
                  subject: str | None) -> Occlusion:
        source = require_pool(pool).pick(u[0], subject)
        speed = CROWD_SPEED[0] + (CROWD_SPEED[1] - CROWD_SPEED[0]) * u[1]
        return Occlusion(self.name, amount, speed=speed, reverse=u[2] < 0.5, offset=centred_at(u), phase=u[4],
                         source=source)

    def geometry(self, scene: WildScene) -> SpriteGeometry:
        pool = require_pool(scene.pool)
        field = scene.field
        others = [pool.frames(int(i)) for i in field["source"]]
        _, s, h, w = scene.shape
        return crowd_geometry(others, field["phase"], field["speed"], field["reverse"], field["offset"],
                              scene.lengths, s, h, w)

    def describe(self, occ: Occlusion) -> str:
        return f"walker #{occ.source}"
