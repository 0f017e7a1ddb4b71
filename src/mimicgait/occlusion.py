"""Synthetic occlusions: the public import path (`from mimicgait.occlusion import apply_occlusion`).

The implementation lives in the `mimicgait.data.occlusion` package; see its docstring for the
kinds, the exact-resize rule and the pixel rounding. This module exports the same names.
"""

from mimicgait.data.occlusion import *  # noqa: F403
from mimicgait.data.occlusion import __all__  # noqa: F401
