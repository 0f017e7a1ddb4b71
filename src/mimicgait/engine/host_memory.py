"""Keep freed host memory in the process for reuse instead of handing it back to the OS.

PyTorch allocates CPU tensors with the C library's malloc. glibc serves large requests (activations
of a frame-level CNN are tens to hundreds of MB) with a fresh `mmap` each time and unmaps them on
free, so every training step faults its working set in again, page by page, and the kernel zeroes
each page (`benchmarks/step_time.py --malloc system` against `reuse` measures what that costs).
`reuse_freed_memory` tells glibc to
serve every request from its heap and never trim it: after the first step the same memory is
reused, the way PyTorch's CUDA caching allocator reuses device memory. The cost: the memory is not
returned to the OS until the process ends, and heap fragmentation raises the peak (docs/training.md's
step-time table).

It changes the whole process, so only entry points call it: the `mimicgait` command does (Python
callers of `engine.run.train` may call it themselves); `MIMICGAIT_MALLOC=system` in the environment
leaves malloc as it is. Only glibc (Linux) has these knobs; elsewhere this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

from mimicgait.errors import UserError

log = logging.getLogger(__name__)

# mallopt parameters, from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_NEVER_TRIM = 2**31 - 1  # mallopt takes an int; ~2 GiB of free heap top before any trim

ENV_VAR = "MIMICGAIT_MALLOC"  # 'reuse' (default) or 'system'

_applied = False


def reuse_freed_memory(force: bool = False) -> bool:
    """Make glibc malloc keep freed memory for reuse (no mmap per large tensor, no heap trimming).

    Idempotent and process-wide. Returns True when the setting is in effect; False when
    MIMICGAIT_MALLOC=system asks to leave malloc alone (unless `force`), or where the C library is
    not glibc (macOS, Windows, musl) or refuses it."""
    global _applied
    if _applied:
        return True
    choice = os.environ.get(ENV_VAR, "reuse").strip().lower()
    if choice not in ("reuse", "system"):
        raise UserError(f"{ENV_VAR}={choice!r}: use 'reuse' (the default) or 'system'")
    if choice == "system" and not force:
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        log.debug("reuse_freed_memory: not glibc, malloc left as it is")
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success, 0 on error
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
    return _applied
