"""Sequences to embed, enrol or identify, from a data directory (or, through `mimicgait.video`, from
camera footage), and embedding them with a recogniser, optionally occluded as `mimicgait eval` does.

A probe occluded here is occluded exactly as the same sequence is in `mimicgait eval` (the occlusion
is a pure function of seed, sequence and role), so `identify` reproduces `eval --protocol rank`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from torch import Tensor

from mimicgait.deploy.recognizer import Recognizer
from mimicgait.errors import UserError
from mimicgait.eval.extract import extract_embeddings

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # (subject, condition, view)


@dataclass
class SequenceSet:
    """Sequences with their keys: `load(i)` -> uint8 {0, 1} [T, H, W] at the model's frame size."""

    keys: list[Key]
    lengths: np.ndarray  # [n]
    load: Callable[[int], np.ndarray]
    sources: list[str]
    notes: list[str] = field(default_factory=list)
    tracks: list[dict] = field(default_factory=list)  # footage: per sequence its video, track, frames, hidden
    videos: list = field(default_factory=list)  # footage tracked for several people: VideoPeople per video

    def __len__(self) -> int:
        return len(self.keys)

    def subset(self, positions: Sequence[int]) -> SequenceSet:
        positions = [int(p) for p in positions]
        return SequenceSet([self.keys[p] for p in positions], self.lengths[positions],
                           lambda i: self.load(positions[i]), [self.sources[p] for p in positions],
                           self.notes, [self.tracks[p] for p in positions] if self.tracks else [],
                           self.videos)


def from_data(
    data: str,
    frame_size: Sequence[int],
    partition: str | None = None,
    subjects: Sequence[str] | None = None,
    types: Sequence[str] | None = None,
    views: Sequence[str] | None = None,
) -> SequenceSet:
    """The sequences of a data directory (every layout the data layer reads), filtered by subject ids,
    condition prefixes (`nm-05`, `bg`) and views."""
    from mimicgait.data.sources import open_dataset
    from mimicgait.data.store import SequenceStore
    from mimicgait.eval.evaluate import check_input_size
    from mimicgait.eval.protocols import Selector

    source = open_dataset(data, partition=partition)
    present = set(source.subjects())
    if subjects is not None:
        absent = sorted(set(subjects) - present)
        if absent and len(absent) == len(set(subjects)):
            raise UserError(f"--subjects: none of {', '.join(absent[:5])} is in {data}")
        subjects = [s for s in subjects if s in present]
    store = SequenceStore.from_dataset(source, subjects=subjects, packed=True, min_frames=1)
    check_input_size(list(frame_size), store.frame_size, "--model")
    keep = np.ones(len(store), dtype=bool)
    if types:
        keep &= Selector(prefixes=tuple(types)).mask(store.keys)
    if views:
        keep &= np.isin(np.asarray(store.views, dtype=str), list(views))
    positions = np.flatnonzero(keep)
    if len(positions) == 0:
        raise UserError(f"--data {data}: no sequence matches the chosen subjects, types and views")
    keys = [tuple(store.keys[p]) for p in positions]
    sources = [f"{data}:{'/'.join(k)}" for k in keys]

    def load(i: int) -> np.ndarray:
        frames = store.frames(int(positions[i]))  # [T, H, W]
        if not frames.any():  # the input contract: an embedding of nothing would still rank someone
            raise UserError(f"{sources[i]}: every frame is blank (no foreground); nothing to recognise. "
                            "Re-extract its silhouettes or leave it out (--subjects, --types, --views)")
        return frames

    return SequenceSet(keys, np.asarray(store.lengths)[positions], load, sources)


def embed_set(
    recognizer: Recognizer,
    sequences: SequenceSet,
    batch_size: int = 8,
    occlusion: str | Sequence[str] | None = None,
    seed: int = 0,
    role: str = "probe",
    progress: bool = False,
) -> tuple[Tensor, list[str]]:
    """(embeddings [n, C, P], occlusion kind drawn per sequence). With `occlusion` (kinds, e.g.
    'top,bottom'), each sequence is occluded as `mimicgait eval` occludes it in `role`. A `crowd`
    draws its other walkers from these sequences (so it matches `eval` only when they are the whole
    evaluated set)."""
    from mimicgait.eval.evaluate import default_occluder, parse_kinds

    kinds = parse_kinds(occlusion)
    drawn = ["none"] * len(sequences)
    transform = None
    if kinds:
        from mimicgait.data.occlusion import OccluderPool, kinds_need_pool

        crowd = kinds_need_pool(kinds)
        pool = OccluderPool([key[0] for key in sequences.keys], sequences.load) if crowd else None
        occluder = default_occluder(kinds, seed, pool=pool)

        def transform(frames: np.ndarray, pos: int) -> np.ndarray:
            out, kind, _amount = occluder(frames, sequences.keys[pos], role)
            drawn[pos] = kind
            return out

    feats = extract_embeddings(recognizer.embed_padded, sequences.load, sequences.lengths, batch_size,
                               transform, progress=progress)
    return feats, drawn


def from_footage(
    path: str,
    frame_size: Sequence[int],
    is_video: bool = True,
    background: str | None = "auto",
    subject: str | None = None,
    people: int | None = 1,
) -> SequenceSet:
    """Sequences made from camera footage (a video, a folder of videos, or with `is_video=False` a
    folder of frames): keys from `<sid>-<cond>-<nn>-<view>` names or `subject` (the same form,
    `--id`); an unnamed video is keyed by its file name.

    `people=1` follows the one person of each video (`mimicgait.video.extract`); otherwise every
    person is tracked (`mimicgait.video.people.extract_people`, at most `people` of them, None:
    all), each track one sequence: the video's own key when it holds one track, else
    `<video>-t<k>`, with source `<path>#t<k>`. `tracks` then says per sequence its video, track,
    kept frames and mean hidden share, and `videos` holds each video's tracking (for annotation).
    """
    from mimicgait.video import extract, parse_id_option, parse_sequence_name, require_cv2
    from mimicgait.video.decode import input_paths
    from mimicgait.video.people import extract_people

    require_cv2()
    paths = input_paths(path if is_video else None, None if is_video else path)
    given = parse_id_option(subject) if subject else None
    if given is not None and len(paths) > 1:
        raise UserError(f"--id names one sequence, but --video {path} holds {len(paths)} videos")
    keys: list[Key] = []
    frames: list[np.ndarray] = []
    sources: list[str] = []
    notes: list[str] = []
    tracks: list[dict] = []
    videos: list = []
    for p in paths:
        named = given or parse_sequence_name(p)
        if people == 1:
            result = extract(p, background=background, sequence=named, size=tuple(frame_size))
            found = [result]
        else:
            tracked = extract_people(p, background=background, sequence=named, size=tuple(frame_size),
                                     people=people)
            videos.append(tracked)
            found = tracked.tracks
        for item in found:
            several = len(found) > 1
            notes.append(item.quality.line(f"{p.name}#t{item.track}" if several else p.name))
            ident = item.sequence
            keys.append(ident.key if ident else (p.stem, "video", "-"))
            frames.append(item.frames)
            sources.append(f"{p}#t{item.track}" if several else str(p))
            hidden = getattr(item, "hidden", None)
            tracks.append({"video": str(p), "track": getattr(item, "track", 1), "frames": len(item.frames),
                           "hidden": round(float(np.mean(hidden)), 3) if hidden is not None and len(hidden)
                           else 0.0})
    for note in notes:
        log.info("%s", note)
    return SequenceSet(keys, np.array([len(f) for f in frames]), frames.__getitem__, sources, notes,
                       tracks, videos)
