"""Embedding whole sequences of any length in batches of similar length.

Evaluation uses every frame of every sequence. Sequences are sorted by length and cut into batches
of at most `batch_size` sequences (and, optionally, at most `max_frames` padded frames), so padding
stays small; each batch is zero-padded to its longest member and the true lengths are passed to the
model, which must ignore the padding (the encoder contract: `(sils, lengths) -> [N, C, P]`).

Memory: nearly every batch has a shape of its own, which oneDNN's primitive cache would keep
(`mimicgait.onednn.limit_onednn_cache`, which the `mimicgait` command calls).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from tqdm import tqdm

from mimicgait.errors import UserError

#: (silhouettes float [N, S, H, W] in [0, 1], lengths long [N]) -> embeddings [N, C, P]
EmbedFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: (frames [T, H, W] uint8, position in the request) -> frames [T', H, W] uint8
FrameTransform = Callable[[np.ndarray, int], np.ndarray]


def length_batches(
    lengths: Sequence[int], batch_size: int, max_frames: int | None = None
) -> Iterator[np.ndarray]:
    """Positions grouped into batches of similar length (ascending), each batch as an index array."""
    if batch_size < 1:
        raise UserError(f"batch size must be at least 1, got {batch_size}")
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        stop = min(len(order), start + batch_size)
        if max_frames is not None:
            # Sorted ascending, so the last member sets the padded length.
            while stop - start > 1 and (stop - start) * lengths[order[stop - 1]] > max_frames:
                stop -= 1
        yield order[start:stop]
        start = stop


def pad_batch(sequences: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack [T_i, H, W] uint8 sequences into float [N, S, H, W] (zero-padded) and lengths [N]."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    h, w = sequences[0].shape[1:]
    out = torch.zeros(len(sequences), int(lengths.max()), h, w)  # [N, S, H, W]
    for i, seq in enumerate(sequences):
        out[i, : len(seq)] = torch.from_numpy(np.ascontiguousarray(seq))
    return out, lengths


def extract_embeddings(
    embed_fn: EmbedFn,
    load: Callable[[int], np.ndarray],
    lengths: Sequence[int],
    batch_size: int = 8,
    transform: FrameTransform | None = None,
    max_frames: int | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Embed sequences 0..n-1 (frames from `load(i)`, optionally transformed) -> float32 [n, C, P].

    `lengths[i]` is sequence i's frame count, used only to group similar lengths; the frames
    actually returned by `load`/`transform` set the lengths passed to the model.
    """
    n = len(lengths)
    if n == 0:
        raise UserError("no sequences to embed: the probe or gallery set is empty")
    out: torch.Tensor | None = None
    bar = tqdm(total=n, desc="embedding", unit="seq", disable=not progress)
    with torch.inference_mode():
        for batch in length_batches(lengths, batch_size, max_frames):
            seqs = []
            for pos in batch.tolist():
                frames = load(pos)
                if transform is not None:
                    frames = transform(frames, pos)
                if len(frames) == 0:
                    raise UserError(f"sequence {pos} has no frames; rebuild the store with min_frames >= 1")
                seqs.append(frames)
            sils, lens = pad_batch(seqs)
            emb = embed_fn(sils, lens)
            if emb.ndim != 3 or emb.shape[0] != len(batch):
                raise ValueError(f"embed_fn must return [N, C, P]; got shape {tuple(emb.shape)}")
            emb = emb.detach().to("cpu", torch.float32)
            if out is None:
                out = torch.empty(n, *emb.shape[1:])
            out[torch.from_numpy(batch)] = emb
            bar.update(len(batch))
    bar.close()
    assert out is not None
    return out
