"""Keep oneDNN from holding a primitive for every input shape the process has seen.

oneDNN, which runs PyTorch's convolutions on a CPU, caches the primitives it built for the last
1024 input shapes, each with its buffers (megabytes apiece). Training has a few shapes; evaluation
batches sequences of every length, so nearly every batch adds one, and one pass over CASIA-B's
5000 sequences held gigabytes (`benchmarks/eval_memory.py`). With the cache off a primitive is
rebuilt per batch, which costs no measurable time next to the batch itself, in evaluation or in a
training step (`benchmarks/step_time.py` with and without `ONEDNN_PRIMITIVE_CACHE_CAPACITY=0`).

oneDNN reads the setting when it builds its first primitive, so only entry points call this, before
any convolution: the `mimicgait` command does (Python callers of evaluation may do it themselves).
A capacity the user set in the environment is kept.
"""

from __future__ import annotations

import os

CAPACITY_VARIABLE = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"


def limit_onednn_cache(capacity: int = 0) -> None:
    """Set oneDNN's primitive cache to `capacity` entries (0: off) unless the environment sets it."""
    os.environ.setdefault(CAPACITY_VARIABLE, str(capacity))
