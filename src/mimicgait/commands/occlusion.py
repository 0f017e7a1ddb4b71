"""`mimicgait occlusion show|list`: draw real sequences under every occlusion kind, to check them by eye;
name the registered kinds.

A PNG shows, for a few sequences and every kind, several frames across the sequence, each as a
holistic | occluded pair; a GIF animates all kinds side by side, frame by frame. Occluded panels
paint the region an occluder covers (band, patch, pole) dark red, so its size and motion are
visible even where the silhouette is absent. Draws are seeded per (seed, sequence, kind).

The wild kinds (`--kinds crowd,object,cut`) are shown as a person segmenter sees them, before the
re-alignment: the walker's visible pixels in white, the other walker, object or missed side in red;
a frame the detector would drop is left blank but for its occluder, and the label counts them. A
crowd's other walkers come from the same directory (never the walker's own subject).

The kinds, their flags and descriptions come from the registry (`mimicgait.data.occlusion.registry`),
read when an action runs: building the parser imports no occlusion code (nor torch).
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from mimicgait.errors import UserError
from mimicgait.io import check_not_an_input, check_output_file, make_output_dir, write_atomic

log = logging.getLogger(__name__)

_FOREGROUND = np.array([255, 255, 255], np.uint8)
_HOLISTIC = np.array([170, 170, 170], np.uint8)
_REGION = np.array([110, 0, 0], np.uint8)
_GAP = 3
_LABEL_W = 150
_GIF_TOP = 14  # pixel rows above a GIF's first sequence, for the column names
_GIF_STEPS = 100  # most frames in a GIF
#: Largest image (RGB bytes, all GIF frames together) drawn; `--scale` past it is refused up front.
MAX_IMAGE_BYTES = 512 * 2**20


def __getattr__(name: str):
    """`SHOWN_KINDS`: the kinds `show` draws by default, a live view of the registry (read on first use)."""
    if name == "SHOWN_KINDS":
        from mimicgait.data.occlusion.registry import SHOWN_KINDS

        return SHOWN_KINDS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `occlusion` sub-command (with its `show` and `list` actions)."""
    parser = subparsers.add_parser(
        "occlusion",
        help="inspect the synthetic occlusions",
        description="Inspect the occlusion kinds: the synthetic ones and the ones seen in the wild "
        "(`mimicgait occlusion list` names them).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list",
        help="name every occlusion kind, its class index and what it hides",
        description="Print every registered occlusion kind: class index, name, flags (wild: may drop "
        "frames; pool: draws other walkers of the split) and what it hides.",
    )
    listing.set_defaults(func=run_list)
    show = actions.add_parser(
        "show",
        help="draw a few sequences under every occlusion kind (PNG grid or animated GIF)",
        description="Draw a few sequences of DIR under every occlusion kind, holistic beside occluded. "
        "OUT ending in .png gives a grid of frames across each sequence; .gif an animation.",
    )
    show.add_argument(
        "--data", required=True, help="data directory (npz archives, OpenGait pkl tree or PNGs)"
    )
    show.add_argument("--out", required=True, help="output image, .png or .gif")
    show.add_argument("--sequences", type=int, default=3, help="number of sequences to draw (default 3)")
    show.add_argument("--frames", type=int, default=6, help="frames per sequence in a PNG (default 6)")
    show.add_argument("--seed", type=int, default=0, help="seed of the occlusion draws")
    show.add_argument("--amount", type=float, default=None, help="fixed amount instead of drawing from R")
    show.add_argument("--kinds", nargs="+", default=None,
                      help="kinds to show, space- or comma-separated (default every kind that keeps all "
                      "frames and hides something; `mimicgait occlusion list` names them all)")
    show.add_argument("--scale", type=int, default=1,
                      help="pixel magnification (default 1; refused when the image would pass 512 MiB)")
    show.add_argument("--force", action="store_true", help="overwrite an existing OUT")
    show.set_defaults(func=run_show)


def run_list(args: argparse.Namespace) -> int:
    """Print the registered kinds; returns the exit code."""
    print(list_kinds())
    return 0


def list_kinds() -> str:
    """One line per registered kind: class index, name, flags and what it hides (the docstring's summary)."""
    from mimicgait.data.occlusion import ALL_KINDS, get_kind

    kinds = [get_kind(name) for name in ALL_KINDS]
    width = max(len(k.name) for k in kinds)
    lines = []
    for kind in kinds:
        flags = ",".join(f for f, on in (("wild", kind.wild), ("pool", kind.needs_pool)) if on) or "-"
        lines.append(f"{kind.index:>2}  {kind.name:<{width}}  {flags:<9}  {kind.summary()}")
    return "\n".join(lines)


def run_show(args: argparse.Namespace) -> int:
    """Render the requested image; returns the exit code."""
    show_occlusions(args.data, args.out, sequences=args.sequences, frames=args.frames, seed=args.seed,
                    amount=args.amount, kinds=args.kinds, scale=args.scale, force=args.force)
    return 0


def show_occlusions(data: str | Path, out: str | Path, sequences: int = 3, frames: int = 6, seed: int = 0,
                    amount: float | None = None, kinds: Sequence[str] | None = None, scale: int = 1,
                    force: bool = False) -> Path:
    """Draw `sequences` sequences of `data` holistic beside every occlusion kind of `kinds` (default
    `SHOWN_KINDS`) into `out` (.png: a grid of `frames` frames per sequence; .gif: an animation);
    returns `out`."""
    from mimicgait.data.occlusion import check_kind, kinds_need_pool
    from mimicgait.data.occlusion.registry import SHOWN_KINDS

    out = Path(out)
    if out.suffix.lower() not in (".png", ".gif"):
        raise UserError(f"--out {out}: use a file name ending in .png or .gif")
    for name, value in (("--sequences", sequences), ("--frames", frames), ("--scale", scale)):
        if value < 1:
            raise UserError(f"{name} must be at least 1, got {value}")
    if amount is not None and not 0.0 <= amount < 1.0:
        raise UserError(f"--amount must lie in [0, 1), got {amount}")
    kinds = tuple(check_kind(k) for k in _split_kinds(SHOWN_KINDS if kinds is None else kinds))
    check_not_an_input(out, "--out", [("--data", data)])
    check_output_file(out, force=force, what="--out")
    records = _pick_records(str(data), sequences)
    _check_image_size(records, kinds, frames, scale, out.suffix.lower() == ".gif")
    pool = _directory_pool(str(data)) if kinds_need_pool(kinds) else None
    shown = [_occlusions(r, kinds, seed, amount, pool) for r in records]
    make_output_dir(out.parent, "--out")
    if out.suffix.lower() == ".png":
        image = _png_grid(records, shown, kinds, frames)
        pictures = [_to_pil(image, scale)]
        save = {"optimize": True}
    else:
        pictures = [_to_pil(f, scale) for f in _gif_frames(records, shown, kinds)]
        save = {"save_all": True, "append_images": pictures[1:], "duration": 80, "loop": 0, "optimize": True}
    fmt = out.suffix.lower().lstrip(".").upper()
    write_atomic(out, lambda f: pictures[0].save(f, format=fmt, **save))
    log.info("wrote %s (%d sequences x %d kinds)", out, len(records), len(kinds))
    return out


def _split_kinds(kinds: Sequence[str]) -> list[str]:
    """`['crowd,object', 'cut']` -> `['crowd', 'object', 'cut']`; refuses an empty list."""
    out = [k.strip() for item in kinds for k in str(item).split(",") if k.strip()]
    if not out:
        raise UserError("--kinds is empty; name one or more kinds, e.g. --kinds top,crowd")
    return out


def _directory_pool(data: str):
    """Every sequence of the directory as a crowd's possible other walker, read when drawn."""
    from mimicgait.data.occlusion import OccluderPool
    from mimicgait.data.sources import open_dataset

    source = open_dataset(data, errors="skip")
    keys = source.list_keys()

    def load(i: int) -> np.ndarray:
        record = source.try_read(keys[i])
        if record is None or len(record.frames) == 0:
            raise UserError(f"{data}: sequence {'/'.join(keys[i])} cannot be read as a crowd's walker")
        return record.frames

    return OccluderPool([k[0] for k in keys], load)


def _png_shape(records: list, kinds: tuple[str, ...], frames: int) -> tuple[int, int]:
    """(height, width) of the PNG grid: a row per (sequence, kind), `frames` pairs across."""
    _, h, w = records[0].frames.shape
    return len(records) * len(kinds) * (h + _GAP), _LABEL_W + frames * (2 * w + 1 + _GAP)


def _gif_shape(records: list, kinds: tuple[str, ...]) -> tuple[int, int, int]:
    """(steps, height, width) of the GIF: a row per sequence, columns holistic then every kind."""
    _, h, w = records[0].frames.shape
    steps = min(max(len(r.frames) for r in records), _GIF_STEPS)
    return steps, _GIF_TOP + len(records) * (h + _GAP), _LABEL_W + (len(kinds) + 1) * (w + _GAP)


def _check_image_size(records: list, kinds: tuple[str, ...], frames: int, scale: int, gif: bool) -> None:
    """Refuse, from the arithmetic, an image whose pixels would take more than `MAX_IMAGE_BYTES`
    (e.g. `--scale 100000`), naming the largest --scale that fits."""
    steps, height, width = _gif_shape(records, kinds) if gif else (1, *_png_shape(records, kinds, frames))
    unscaled = 3 * steps * height * width  # RGB bytes at --scale 1
    if unscaled * scale * scale <= MAX_IMAGE_BYTES:
        return
    fits = math.isqrt(MAX_IMAGE_BYTES // unscaled)
    option, fix = (f"--scale {scale}", f"use --scale {fits} or less") if fits >= 1 else (
        f"--frames {frames} --sequences {len(records)}", "draw fewer frames or sequences")
    raise UserError(f"{option}: the image would be {width * scale} x {height * scale} pixels"
                    f"{f' x {steps} frames' if gif else ''} ({unscaled * scale * scale / 2**30:,.1f} GiB), "
                    f"more than {MAX_IMAGE_BYTES // 2**20} MiB; {fix}")


def _pick_records(data: str, count: int) -> list:
    """`count` non-empty sequences spread evenly over the directory's sorted keys."""
    from mimicgait.data.sources import open_dataset

    source = open_dataset(data, errors="skip")
    keys = source.list_keys()
    if not keys:
        raise UserError(f"{data}: no sequences found; point --data at a silhouette directory")
    records = []
    for index in np.linspace(0, len(keys) - 1, min(4 * count, len(keys))).round().astype(int):
        record = source.try_read(keys[index])
        if record is not None and len(record.frames) > 1:
            records.append(record)
        if len(records) == count:
            break
    if not records:
        raise UserError(f"{data}: no readable sequence with more than one frame")
    return records


def _occlusions(record, kinds: tuple[str, ...], seed: int, amount: float | None, pool=None) -> list[tuple]:
    """Per kind: (occluded frames, occluder region [T, H, W] bool, drawn Occlusion, label note)."""
    from mimicgait.data.occlusion import AMOUNT_RANGE, POLE_RANGE, WILD_RANGE, eval_draw, get_kind, occlude
    from mimicgait.data.occlusion.wild import occlude_wild_many

    ranges = (AMOUNT_RANGE, POLE_RANGE) if amount is None else ((amount, amount), (amount, amount))
    wild_range = WILD_RANGE if amount is None else (amount, amount)
    ones = np.ones_like(record.frames)
    shown = []
    for kind in kinds:
        occ = eval_draw((kind,), seed, record.key, f"show-{kind}", *ranges, wild_range=wild_range, pool=pool)
        spec = get_kind(kind)
        if not spec.wild:
            detail = spec.describe(occ)
            shown.append((occlude(record.frames, occ), occlude(ones, occ) == 0, occ, detail and f" {detail}"))
            continue
        frames = record.frames
        result = occlude_wild_many(frames[None], [occ], np.array([len(frames)]), pool)
        cover, keep = result.cover[0], result.keep[0]  # [T, H, W], [T]
        seen = np.where(cover | ~keep[:, None, None], np.zeros((), frames.dtype), frames)
        hid, dropped = result.hidden_fraction[0], int((~keep).sum())
        stood = replace(occ, variant=int(result.variant[0]))  # an open object may give way to another
        note = f"\n{spec.describe(stood)}, hid {hid:.2f}\ndropped {dropped}/{len(keep)} frames"
        shown.append((seen, cover, occ, note))
    return shown


def _paint(frames: np.ndarray, colour: np.ndarray, region: np.ndarray | None = None) -> np.ndarray:
    """Binary frames [..., H, W] -> RGB [..., H, W, 3]: foreground in `colour`, region dark red."""
    rgb = np.where(frames[..., None] > 0, colour, np.uint8(0)).astype(np.uint8)
    if region is not None:
        rgb[region & (frames == 0)] = _REGION
    return rgb


def _label(canvas: np.ndarray, rows: list[tuple[int, str]], at_x: int = 0) -> np.ndarray:
    """Write text labels at the given pixel rows, from column `at_x` (the left margin by default)."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for y, text in rows:
        draw.multiline_text((at_x + 4, y + 4), text, fill=(255, 220, 120), spacing=2)
    return np.asarray(image)


def _describe(record, occ, note: str = "") -> str:
    """A panel's label: the sequence, the kind, its amount and the kind's own note (motion, variant)."""
    return f"{record.subject} {record.condition} {record.view}\n{occ.kind} x={occ.amount:.2f}{note}"


def _png_grid(records: list, shown: list, kinds: tuple[str, ...], frames: int) -> np.ndarray:
    """One row per (sequence, kind); `frames` holistic | occluded pairs across the sequence."""
    _, h, w = records[0].frames.shape
    pair_w = 2 * w + 1
    height, width = _png_shape(records, kinds, frames)
    canvas = np.full((height, width, 3), 40, np.uint8)
    labels = []
    for s, (record, per_kind) in enumerate(zip(records, shown, strict=True)):
        picks = np.linspace(0, len(record.frames) - 1, frames).round().astype(int)
        for k, (occluded, region, occ, note) in enumerate(per_kind):
            y = (s * len(kinds) + k) * (h + _GAP)
            labels.append((y, _describe(record, occ, note)))
            holistic = _paint(record.frames[picks], _HOLISTIC)  # [F, H, W, 3]
            hidden = _paint(occluded[picks], _FOREGROUND, region[picks])  # [F, H, W, 3]
            for f in range(frames):
                x = _LABEL_W + f * (pair_w + _GAP)
                canvas[y : y + h, x : x + w] = holistic[f]
                canvas[y : y + h, x + w + 1 : x + pair_w] = hidden[f]
    return _label(canvas, labels)


def _gif_frames(records: list, shown: list, kinds: tuple[str, ...]) -> list[np.ndarray]:
    """One image per time step: a row per sequence, columns holistic then every kind."""
    _, h, w = records[0].frames.shape
    steps, height, width = _gif_shape(records, kinds)
    top = _GIF_TOP
    base = np.full((height, width, 3), 40, np.uint8)
    labels = [(top + s * (h + _GAP), f"{r.subject} {r.condition} {r.view}") for s, r in enumerate(records)]
    base = _label(base, labels)
    for c, name in enumerate(("holistic", *kinds)):
        base = _label(base, [(-4, name)], at_x=_LABEL_W + c * (w + _GAP))
    images = []
    for t in range(steps):
        canvas = base.copy()
        for s, (record, per_kind) in enumerate(zip(records, shown, strict=True)):
            i = min(t, len(record.frames) - 1)
            y = top + s * (h + _GAP)
            canvas[y : y + h, _LABEL_W : _LABEL_W + w] = _paint(record.frames[i], _HOLISTIC)
            for k, (occluded, region, *_) in enumerate(per_kind):
                x = _LABEL_W + (k + 1) * (w + _GAP)
                canvas[y : y + h, x : x + w] = _paint(occluded[i], _FOREGROUND, region[i])
        images.append(canvas)
    return images


def _to_pil(image: np.ndarray, scale: int):
    from PIL import Image

    pil = Image.fromarray(image)
    return pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST) if scale > 1 else pil
