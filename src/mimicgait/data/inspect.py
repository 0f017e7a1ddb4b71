"""A dataset's shape and its problems, found before any training starts.

`describe(source)` loads every sequence once (with `errors='skip'` sources, unreadable files become
problems instead of stopping) and reports counts, frame statistics, views and conditions, plus
what would hurt later: sequences too short for a frame sampler, holes in the subject x condition x
view grid, unreadable files, partition entries that name absent subjects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from mimicgait.data.partition import missing_subjects
from mimicgait.data.sources import SequenceSource
from mimicgait.data.store import SequenceStore


@dataclass
class DataReport:
    """Summary of one data directory; `problems` are human-readable lines."""

    root: str
    format: str
    partition: str | None
    subjects: int
    sequences: int
    frames_min: int
    frames_median: float
    frames_max: int
    frames_total: int
    frame_size: tuple[int, int]
    views: list[str]
    conditions: list[str]
    short_sequences: list[tuple[str, int]] = field(default_factory=list)  # ("sid/type/view", frames)
    missing_sequences: list[str] = field(default_factory=list)
    blank_sequences: list[str] = field(default_factory=list)  # "sid/type/view" without a foreground pixel
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # facts worth knowing that are not problems

    def to_dict(self) -> dict:
        return asdict(self)


def describe(source: SequenceSource, short: int = 10) -> DataReport:
    """Load and summarise a source; sequences with fewer than `short` frames are named as problems."""
    store = SequenceStore.from_dataset(source, min_frames=0)
    lengths = store.lengths
    problems = [reason for _, reason in store.dropped]
    short_seqs = [("/".join(k), int(n)) for k, n in zip(store.keys, lengths, strict=True) if n < short]
    if short_seqs:
        problems.append(f"{len(short_seqs)} sequence(s) shorter than {short} frames: "
                        + ", ".join(f"{name} ({n})" for name, n in short_seqs))
    blank = [
        "/".join(key)
        for i, key in enumerate(store.keys)
        if lengths[i] > 0 and not store._buffer[store._offsets[i] : store._offsets[i] + lengths[i]].any()
    ]
    if blank:
        problems.append(f"{len(blank)} sequence(s) are blank (no foreground pixel in any frame; "
                        "silhouette extraction failed): " + _short(blank, 20))
    notes: list[str] = []
    conditions = sorted(set(store.conditions.tolist()))
    views = sorted(set(store.views.tolist()))
    present = set(store.keys) | {k for k, _ in store.dropped}
    missing = [f"{s}/{c}/{v}" for s in store.label_names for c in conditions for v in views
               if (s, c, v) not in present]
    if missing:
        problems.append(f"{len(missing)} of {len(store.label_names) * len(conditions) * len(views)} "
                        f"subject x condition x view sequences are missing: " + _short(missing, 40))
    if source.partition is not None:
        existing = store.label_names.tolist()
        for split, absent in missing_subjects(source.partition, existing).items():
            if absent and len(absent) == len(source.partition[split]):
                # a copy of one split only (e.g. the training subjects): information, not a fault
                notes.append(f"partition {split}: none of its {len(absent)} subjects is in this data "
                             "(a copy of the other split?)")
            elif absent:
                problems.append(f"partition {split}: {len(absent)} of {len(source.partition[split])} "
                                f"subjects are absent from the data: {_short(absent, 10)}")
        named = set(source.partition["TRAIN_SET"]) | set(source.partition["TEST_SET"])
        unlisted = [s for s in existing if s not in named]
        if unlisted:
            problems.append(f"{len(unlisted)} subject(s) are in no partition split: {_short(unlisted, 10)}")
    return DataReport(
        root=str(source.root),
        format=source.format,
        partition=str(source.partition_path) if source.partition_path else None,
        subjects=len(store.label_names),
        sequences=len(store),
        frames_min=int(lengths.min()),
        frames_median=float(np.median(lengths)),
        frames_max=int(lengths.max()),
        frames_total=int(lengths.sum()),
        frame_size=store.frame_size,
        views=views,
        conditions=conditions,
        short_sequences=short_seqs,
        missing_sequences=missing,
        blank_sequences=blank,
        notes=notes,
        problems=[f"unreadable: {reason}" for _, reason in source.problems
                  if reason not in problems] + problems,
    )


def format_report(report: DataReport) -> str:
    """The report as the text `mimicgait data info` prints."""
    h, w = report.frame_size
    lines = [
        f"data:       {report.root} ({report.format})",
        f"partition:  {report.partition or 'none found'}",
        f"subjects:   {report.subjects}",
        f"sequences:  {report.sequences}",
        f"frames:     min {report.frames_min}, median {report.frames_median:g}, max {report.frames_max}, "
        f"total {report.frames_total}",
        f"frame size: {h}x{w}",
        f"views:      {len(report.views)}: {' '.join(report.views)}",
        f"conditions: {len(report.conditions)}: {' '.join(report.conditions)}",
        f"problems:   {len(report.problems) or 'none'}",
    ]
    lines += [f"  - {p}" for p in report.problems]
    if report.notes:
        lines.append("notes:")
        lines += [f"  - {n}" for n in report.notes]
    return "\n".join(lines)


def _short(items: list[str], limit: int) -> str:
    return ", ".join(items[:limit]) + (f", ... ({len(items)} in all)" if len(items) > limit else "")
