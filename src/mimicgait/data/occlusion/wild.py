"""Occlusions as the wild makes them (`crowd`, `object`, `cut`): hide, drop, re-align.

Each wild kind is a registered `WildKind` in a module of its own (`crowd`, `object_shapes`, `cut`):
it draws its choices from `DRAWS` uniforms and places its occluders (`WildKind.place`); this module
does the rest for all of them. For every sequence: the occluder is a set of disjoint rectangles
per frame whose size is set by a level in [0, 1]; the level is found by a grid and bisection
(`search_levels`) so that the walker pixels hidden, over all valid
frames, are the drawn `amount` of the walker's pixels (to within a row, a column or one step of
scale). The walker's pixels under the occluder are removed. A frame with more than `drop_above` of
its walker pixels hidden, or with nothing left, is dropped, as a detector would lose the person (at
least one frame is kept: the one with most pixels left). What is left of each kept frame is
re-aligned as pretreatment would (`realign`).

The planning (rectangles, bisection, re-alignment maps, which frames survive) is NumPy on the CPU
from integer counts and per-frame profiles, shared by both forms; the pixel work runs on NumPy
arrays (`occlude_wild`) or on torch tensors on their device (`occlude_wild_batch`), so the two agree
pixel for pixel. Counting is integral-image lookups (a cut's, running sums of the row and column
profiles), and the pixel work covers only the columns the walker ever occupies.

Size: about 400 lines because the level search, the drop rule and the re-alignment plan (and the
base the wild kinds share) serve the NumPy and the torch form, which must stay in step pixel for
pixel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from mimicgait.data.occlusion import rects as rk
from mimicgait.data.occlusion.pool import OccluderPool
from mimicgait.data.occlusion.realign import realign_maps, remap_np, remap_torch
from mimicgait.data.occlusion.registry import OcclusionKind, get_kind
from mimicgait.data.occlusion.rules import DROP_ABOVE, Occlusion, Ranges

if TYPE_CHECKING:
    from mimicgait.data.occlusion.batch import BatchOcclusion

#: The level search: a grid of SEARCH_GRID + 1 levels, then bisection steps (to 2**-13 in all).
SEARCH_GRID = 8
SEARCH_STEPS = 10
#: How many draws in [0, 1) a wild occlusion takes, in order: variant or pool pick, speed,
#: direction, offset, phase. Always all of them, so the stream does not depend on the kind.
DRAWS = 5


class WildKind(OcclusionKind):
    """A kind seen in the wild: its occluders hide an amount of the walker's pixels, frames the detector
    loses are dropped and the rest re-aligned. Subclasses draw from uniforms (`draw_from`) and say where
    their occluders stand (`geometry`, or the whole `place`)."""

    wild = True
    amount_from = "wild"
    extra_draws = DRAWS
    #: Its occluder is one band through the frame per frame, counted from row and column sums (a cut).
    bands: ClassVar[bool] = False

    def draw_from(self, amount: float, u: list[float], pool: OccluderPool | None,
                  subject: str | None) -> Occlusion:
        """An occlusion from `DRAWS` uniforms `u`, in order: variant or pool pick, speed, direction,
        offset, phase (each kind reads those it needs)."""
        raise NotImplementedError

    def geometry(self, scene: WildScene):
        """The occluders of every sequence of `scene` as a function of the levels (`rects(level, lo, hi)`)."""
        raise NotImplementedError

    def place(self, scene: WildScene) -> tuple[np.ndarray, np.ndarray, Any]:
        """(level [N], variant int64 [N], geometry): the level that hides each sequence's amount."""
        geometry = self.geometry(scene)
        level = search_levels(scene.hidden_of(geometry, np.arange(scene.shape[0])), scene.amount, scene.total)
        return level, scene.variant, geometry

    def draw(self, rng: np.random.Generator, amount: float, ranges: Ranges, *, pool: OccluderPool | None,
             subject: str | None) -> Occlusion:
        return self.draw_from(amount, [float(x) for x in rng.random(DRAWS)], pool, subject)

    def draw_batch(self, amount: torch.Tensor, u: torch.Tensor, extra: np.ndarray | None, ranges: Ranges, *,
                   pool: OccluderPool | None, subjects: Sequence[str] | None) -> dict[str, Any]:
        who = [None] * len(amount) if subjects is None else subjects
        drawn = [self.draw_from(float(a), [float(x) for x in e], pool, subject)
                 for a, e, subject in zip(amount.tolist(), extra, who, strict=True)]
        return {name: [getattr(o, name) for o in drawn]
                for name in ("speed", "reverse", "variant", "offset", "phase", "source")}

    def occlude(self, frames: np.ndarray, occ: Occlusion, pool: OccluderPool | None = None) -> np.ndarray:
        return occlude_wild(frames, occ, pool)

    def occlude_batch(self, sils: torch.Tensor, occ: BatchOcclusion, lengths: np.ndarray,
                      pool: OccluderPool | None) -> tuple[torch.Tensor, np.ndarray]:
        part = _run(_TorchPixels(sils), np.asarray(lengths, np.int64), self, occ.to_list(), pool, DROP_ABOVE)
        return part.frames, part.kept


def centred_at(u: list[float]) -> float:
    """When a passing occluder is centred on the walker, a fraction of the sequence, from draw 3."""
    return 0.25 + 0.5 * u[3]


@dataclass(frozen=True)
class WildScene:
    """What a wild kind sees of a request of N sequences of S frames when it places its occluders.

    `field`: the draws' fields (`Occlusion` names) as arrays [N]; `variant` int64 [N] (as drawn);
    `amount` float64 [N]; `total` [N] walker pixels over valid frames; `rows_any` [N, S, H] bool and
    `col_mass` [N, S, W] (walker pixels per row and column); `hidden_of(geometry, ids)` -> a function of
    the levels [len(ids)] giving the walker pixels hidden [len(ids)].
    """

    shape: tuple[int, int, int, int]
    lengths: np.ndarray
    field: dict[str, np.ndarray]
    variant: np.ndarray
    amount: np.ndarray
    total: np.ndarray
    rows_any: np.ndarray
    col_mass: np.ndarray
    hidden_of: Callable[[Any, np.ndarray], Callable[[np.ndarray], np.ndarray]]
    pool: OccluderPool | None

    def boxes(self) -> np.ndarray:
        """int64 [N, S, 4] (y0, y1, x0, x1): the walker's inclusive box in each frame; junk where empty."""
        return _boxes(self.rows_any, self.col_mass > 0)


@dataclass(frozen=True)
class WildResult:
    """What a wild occlusion did to a request of N sequences of S frames.

    `frames`: each sequence's kept, re-aligned frames first, zeros after (NumPy or torch, [N, S, H, W]);
    `kept` int64 [N]; `keep` bool [N, S] (which input frames survived); `cover` [N, S, H, W], nonzero
    where the occluder is, before re-alignment (same array type as `frames`); `hidden_fraction` float64 [N]
    (walker pixels hidden / walker pixels, over valid frames); `variant` int64 [N] (the object
    shape that stood there, see `object_shapes`; the drawn variant otherwise).
    """

    frames: Any
    kept: np.ndarray
    keep: np.ndarray
    cover: Any
    hidden_fraction: np.ndarray
    variant: np.ndarray


class _NumpyPixels:
    """The pixel work on NumPy arrays."""

    integral, count = staticmethod(rk.integral_np), staticmethod(rk.count_np)
    remap = staticmethod(remap_np)

    def __init__(self, frames: np.ndarray) -> None:
        self.frames = frames

    def walker(self, valid: np.ndarray) -> np.ndarray:
        return (self.frames != 0) & valid[:, :, None, None]

    def profiles(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.count_nonzero(mask, axis=3), np.count_nonzero(mask, axis=2)  # [N, S, H], [N, S, W]

    def paint_bands(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return rows[:, :, None] & cols[:, None, :]  # [F, H, W]

    def paint(self, rects: rk.Rects, frames: int, height: int, width: int) -> np.ndarray:
        return rk.paint_np(rects, frames, height, width)

    def hide(self, cover: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Columns lo:hi of the frames, zero under `cover` [N*S, H, hi - lo]."""
        part = self.frames[..., lo:hi]
        return np.where(cover.reshape(part.shape), np.zeros((), part.dtype), part)

    def uncrop(self, part: np.ndarray, width: int, lo: int, hi: int) -> np.ndarray:
        out = np.zeros((*part.shape[:-1], width), dtype=bool)
        out[..., lo:hi] = part
        return out

    def take(self, frames: np.ndarray, source: np.ndarray) -> np.ndarray:
        out = frames[np.maximum(source, 0)]
        out[source < 0] = 0
        return out


class _TorchPixels(_NumpyPixels):
    """The pixel work on torch tensors, on their device; profiles come back to the CPU. Masks are
    uint8 0/1 (bool tensors are slow to reduce and combine on the CPU)."""

    integral = staticmethod(rk.integral_torch)
    count = staticmethod(rk.count_torch)
    remap = staticmethod(remap_torch)

    def walker(self, valid: np.ndarray) -> torch.Tensor:
        mask = self.frames.ne(0).view(torch.uint8)  # [N, S, H, W] 0/1
        if not valid.all():
            seq, t = np.nonzero(~valid)
            mask[torch.from_numpy(seq).to(mask.device), torch.from_numpy(t).to(mask.device)] = 0
        return mask

    def profiles(self, mask: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        m16 = mask.to(torch.int16)  # counts per row or column fit: H, W < 2**15
        rows, cols = m16.sum(3, dtype=torch.int16), m16.sum(2, dtype=torch.int16)
        return rows.cpu().numpy().astype(np.int64), cols.cpu().numpy().astype(np.int64)

    def paint_bands(self, rows: np.ndarray, cols: np.ndarray) -> torch.Tensor:
        dev = self.frames.device
        r, c = (torch.from_numpy(a.view(np.uint8)).to(dev) for a in (rows, cols))
        return r[:, :, None] * c[:, None, :]  # [F, H, W] 0/1

    def paint(self, rects: rk.Rects, frames: int, height: int, width: int) -> torch.Tensor:
        return rk.paint_torch(rects, frames, height, width, self.frames.device)

    def hide(self, cover: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
        part = self.frames[..., lo:hi]
        return keep_where(part, (1 - cover).view(part.shape))

    def uncrop(self, part: torch.Tensor, width: int, lo: int, hi: int) -> torch.Tensor:
        out = torch.zeros((*part.shape[:-1], width), dtype=torch.bool, device=part.device)
        out[..., lo:hi] = part.bool()
        return out

    def take(self, frames: torch.Tensor, source: np.ndarray) -> torch.Tensor:
        out = frames.index_select(0, torch.from_numpy(np.maximum(source, 0)).to(frames.device))
        blank = np.flatnonzero(source < 0)
        if len(blank):
            out[torch.from_numpy(blank).to(frames.device)] = 0
        return out


def keep_where(frames: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """`frames` where the 0/1 uint8 `keep` (broadcastable) is 1, else 0; any dtype, fast on the CPU."""
    if frames.dtype == torch.bool:
        return frames & keep.bool()
    return frames * keep.to(frames.dtype)


def _boxes(rows_any: np.ndarray, cols_any: np.ndarray) -> np.ndarray:
    """[..., H], [..., W] bool -> [..., 4] int64 inclusive boxes (y0, y1, x0, x1); junk where empty."""
    h, w = rows_any.shape[-1], cols_any.shape[-1]
    return np.stack([rows_any.argmax(-1), h - 1 - rows_any[..., ::-1].argmax(-1),
                     cols_any.argmax(-1), w - 1 - cols_any[..., ::-1].argmax(-1)], axis=-1)


def search_levels(count, amount: np.ndarray, total: np.ndarray, steps: int = SEARCH_STEPS,
                  grid: int = SEARCH_GRID) -> np.ndarray:
    """The level [N] in [0, 1] at which `count(level)` (walker pixels hidden [N]) is closest to
    `amount * total`.

    Hiding need not grow with the level (a walker can pass between a bench's legs or inside a wheel
    once they are large), so a grid of `grid + 1` levels first brackets the first crossing of the
    goal; bisection then narrows it, and the closer end wins (ties keep the lower level). Without a
    crossing, the grid level closest to the goal is kept.
    """
    goal = amount * total  # [N]
    n = len(goal)
    levels = np.linspace(0.0, 1.0, grid + 1)  # [G]
    counts = np.stack([count(np.full(n, level)) for level in levels])  # [G, N]
    reached = counts >= goal[None, :]  # [G, N]
    crossing = reached.any(0)
    first = reached.argmax(0)  # [N] first grid level at or past the goal
    nearest = np.abs(counts - goal[None, :]).argmin(0)
    hi_index = np.where(crossing, first, nearest)
    lo_index = np.where(crossing, np.maximum(first - 1, 0), nearest)
    rows = np.arange(n)
    lo, hi = levels[lo_index], levels[hi_index]
    at_lo, at_hi = counts[lo_index, rows], counts[hi_index, rows]
    for _ in range(steps):
        narrowing = hi > lo
        if not narrowing.any():
            break
        mid = (lo + hi) / 2
        at_mid = count(mid)
        below = (at_mid < goal) & narrowing
        above = ~below & narrowing
        lo, at_lo = np.where(below, mid, lo), np.where(below, at_mid, at_lo)
        hi, at_hi = np.where(above, mid, hi), np.where(above, at_mid, at_hi)
    return np.where(np.abs(at_hi - goal) < np.abs(at_lo - goal), hi, lo)


def _run(px: _NumpyPixels, lengths: np.ndarray, kind: WildKind, occs: list[Occlusion],
         pool: OccluderPool | None, drop_above: float) -> WildResult:
    """One kind over a request of N sequences `[N, S, H, W]` (see the module docstring)."""
    n, s, h, w = px.frames.shape
    valid = np.arange(s)[None, :] < lengths[:, None]  # [N, S]
    walker = px.walker(valid)  # [N, S, H, W] bool
    row_mass, col_mass = px.profiles(walker)  # [N, S, H], [N, S, W] walker pixels per row, column
    rows_any = row_mass > 0
    # Pixel work runs on the columns the walker ever occupies (lo:hi): outside them nothing is hidden.
    used = np.flatnonzero(col_mass.reshape(-1, w).any(0))
    lo, hi = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, min(w, 1))
    wc = hi - lo
    per_frame = col_mass.sum(2)  # [N, S] walker pixels
    total = per_frame.sum(1)  # [N]
    field = {name: np.array([getattr(o, name) for o in occs]) for name in
             ("amount", "speed", "reverse", "variant", "offset", "phase", "source")}
    amount = field["amount"].astype(np.float64)
    variant = field["variant"].astype(np.int64)
    if kind.bands:  # one band per frame: running sums of the row and column profiles suffice
        row_prefix = np.zeros((n * s, h + 1), np.int64)
        col_prefix = np.zeros((n * s, w + 1), np.int64)
        np.cumsum(row_mass.reshape(n * s, h), axis=1, out=row_prefix[:, 1:])
        np.cumsum(col_mass.reshape(n * s, w), axis=1, out=col_prefix[:, 1:])

        def count(rects: rk.Rects) -> np.ndarray:
            return rk.count_bands(rects, row_prefix, col_prefix)

        def paint(rects: rk.Rects):
            rows, cols = rk.band_masks(rects, n * s, h, w)
            return px.paint_bands(rows, np.ascontiguousarray(cols[:, lo:hi]))
    else:
        integral = px.integral(walker.reshape(n * s, h, w)[:, :, lo:hi])  # [N*S, H+1, wc+1]

        def count(rects: rk.Rects) -> np.ndarray:  # rectangles in columns lo:hi
            return px.count(integral, rects)

        def paint(rects: rk.Rects):
            return px.paint(rects, n * s, h, wc)

    def hidden_of(geometry, ids: np.ndarray):
        """Walker pixels hidden per sequence of `ids` at their levels (one level per id)."""
        def hidden(level: np.ndarray) -> np.ndarray:
            full = np.zeros(n)
            full[ids] = level
            return count(geometry.rects(full, lo, hi)).reshape(n, s).sum(1)[ids]
        return hidden

    scene = WildScene((n, s, h, w), lengths, field, variant, amount, total, rows_any, col_mass, hidden_of,
                      pool)
    level, variant, geometry = kind.place(scene)
    rects = geometry.rects(level, lo, hi)
    hidden = count(rects).reshape(n, s)  # [N, S]
    cover = paint(rects)  # [N*S, H, W]
    visible = px.hide(cover, lo, hi)  # [N, S, H, wc] frames without the hidden pixels (columns lo:hi)
    left = per_frame - hidden  # [N, S]
    keep = valid & (left > 0) & ~(hidden > drop_above * per_frame)
    for i in np.flatnonzero(~keep.any(1) & (lengths > 0)):  # keep the best frame of a lost walker
        keep[i, np.where(valid[i], left[i], -1).argmax()] = True
    v_rows, v_mass = px.profiles(visible != 0)
    mass = np.zeros((n * s, w), np.int64)
    mass[:, lo:hi] = v_mass.reshape(n * s, wc)
    rowmap, colmap = realign_maps(v_rows.reshape(n * s, h) > 0, mass)
    colmap = np.where(colmap >= 0, colmap - lo, -1)  # visible pixels lie in lo:hi
    aligned = px.remap(visible.reshape(n * s, h, wc), rowmap, colmap)  # [N*S, H, W]
    kept = keep.sum(1)
    source = np.full((n, s), -1, dtype=np.int64)  # kept frames first, in order
    seq, t = np.nonzero(keep)
    source[seq, np.arange(len(seq)) - np.repeat(np.cumsum(kept) - kept, kept)] = seq * s + t
    out = px.take(aligned, source.reshape(-1)).reshape(n, s, h, w)
    fraction = np.where(total > 0, hidden.sum(1) / np.maximum(total, 1), 0.0)
    cover = px.uncrop(cover.reshape(n, s, h, wc), w, lo, hi)
    return WildResult(out, kept.astype(np.int64), keep, cover, fraction, variant)


def occlude_wild_many(frames: np.ndarray, occs: list[Occlusion], lengths: np.ndarray,
                      pool: OccluderPool | None = None, drop_above: float = DROP_ABOVE) -> WildResult:
    """NumPy: wild occlusions `occs` (all one kind) of sequences `[N, S, H, W]` with `lengths` [N]."""
    return _run(_NumpyPixels(np.asarray(frames)), np.asarray(lengths, np.int64), get_kind(occs[0].kind), occs,
                pool, drop_above)


def occlude_wild(frames: np.ndarray, occ: Occlusion, pool: OccluderPool | None = None,
                 drop_above: float = DROP_ABOVE) -> np.ndarray:
    """NumPy: one sequence `[T, H, W]` under a wild occlusion -> its kept, re-aligned frames `[T', H, W]`."""
    frames = np.asarray(frames)
    result = occlude_wild_many(frames[None], [occ], np.array([len(frames)]), pool, drop_above)
    return result.frames[0, : result.kept[0]]


def occlude_wild_batch(sils: torch.Tensor, occs: list[Occlusion], lengths: np.ndarray,
                       pool: OccluderPool | None = None, drop_above: float = DROP_ABOVE) -> WildResult:
    """torch: `occlude_wild_many` for a batch `[N, S, H, W]` on its device (`occs` all one kind, as
    in `occlude_wild_many`)."""
    return _run(_TorchPixels(sils), np.asarray(lengths, np.int64), get_kind(occs[0].kind), occs, pool,
                drop_above)


def refill(frames: torch.Tensor, kept: np.ndarray, lengths: np.ndarray) -> torch.Tensor:
    """Fill each sequence's dropped frames by repeating its kept ones in order, so a training batch
    keeps its shape and lengths: `[N, S, H, W]` with kept frames first -> the same, cyclic to length."""
    n, s = frames.shape[:2]
    slot = np.arange(s)[None, :]  # [1, S]
    source = np.where(slot < lengths[:, None], slot % np.maximum(kept, 1)[:, None], -1)  # [N, S]
    source = np.where((source >= 0) & (kept[:, None] > 0), np.arange(n)[:, None] * s + source, -1)
    flat = frames.reshape(n * s, *frames.shape[2:])
    index = torch.from_numpy(np.maximum(source, 0).reshape(-1)).to(frames.device)
    out = flat.index_select(0, index)
    out.masked_fill_(torch.from_numpy(source.reshape(-1) < 0).to(frames.device)[:, None, None], 0)
    return out.view_as(frames)
