"""The segmenter hook: a person-segmentation model of the user's own instead of a background model.

`--segmenter module:function` (or `path/to/file.py:function`) names a callable taking uint8 RGB
frames `[T, H, W, 3]` and returning masks `[T, H, W]`: bool, 0/1, probabilities in [0, 1]
(thresholded at 0.5) or 0..255 (thresholded at 128). The masks then go through the same clean-up,
person tracking and pretreatment as background subtraction's. Nothing is downloaded: the function
brings its own model. It is called once per batch of frames (`batch` in `extract`). A plugin that
fails to import or raises on a batch is reported in one line naming it (`-v`: its traceback).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mimicgait.errors import UserError
from mimicgait.video.foreground import ForegroundSettings, clean_masks, foreground_masks

Segmenter = Callable[[np.ndarray], np.ndarray]


def load_segmenter(spec: str) -> Segmenter:
    """Import `module:function` or `file.py:function` and return the callable."""
    module_name, sep, function = spec.rpartition(":")
    if not sep or not module_name or not function:
        raise UserError(f"--segmenter {spec!r}: give it as module:function or path/to/file.py:function")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise UserError(f"--segmenter {spec!r}: {path} does not exist")
            loader_spec = importlib.util.spec_from_file_location(path.stem, path)
            if loader_spec is None or loader_spec.loader is None:
                raise UserError(f"--segmenter {spec!r}: cannot load {path} as a Python module")
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except UserError:
        raise
    except ImportError as err:
        raise UserError(f"--segmenter {spec!r}: cannot import {module_name} ({err}); check the name and "
                        "that it is on PYTHONPATH") from err
    except Exception as err:  # the plugin's own code failed as it was imported (syntax, its imports, ...)
        raise UserError(f"--segmenter {spec!r}: importing {module_name} failed with {_said(err)}; fix the "
                        "plugin (mimicgait -v shows its traceback)") from err
    fn = getattr(module, function, None)
    if not callable(fn):
        raise UserError(f"--segmenter {spec!r}: {module_name} has no function {function!r}")
    return fn


def run_segmenter(segmenter: Segmenter, frames: np.ndarray) -> np.ndarray:
    """Masks uint8 0/1 `[B, H, W]` from the segmenter on `[B, H, W, 3]`; bad output is a UserError."""
    name = getattr(segmenter, "__name__", repr(segmenter))
    module = getattr(segmenter, "__module__", None)
    name = f"{module}:{name}" if module else name  # the plugin as --segmenter names it
    try:
        masks = np.asarray(segmenter(frames))
    except Exception as err:  # the plugin failed on these frames: its error, in one line, naming it
        raise UserError(f"segmenter {name} failed on frames {frames.shape} with {_said(err)}; fix the "
                        "plugin (mimicgait -v shows its traceback)") from err
    if masks.shape != frames.shape[:3]:
        raise UserError(f"segmenter {name} returned shape {masks.shape} for frames {frames.shape}; it must "
                        f"return masks {frames.shape[:3]}")
    if masks.dtype == np.bool_:
        return masks.view(np.uint8)
    if masks.dtype.kind not in "uif":
        raise UserError(f"segmenter {name} returned {masks.dtype} masks; return bool, 0/1 or 0..255")
    if masks.dtype.kind == "f" and not np.isfinite(masks).all():
        raise UserError(f"segmenter {name} returned NaN or infinite values")
    high = masks.max(initial=0)
    cut = 0.5 if high <= 1 else 128
    return (masks >= cut).astype(np.uint8)


def _said(err: BaseException) -> str:
    """`Type: message` of a plugin's exception, on one line (a SyntaxError with its file and line)."""
    if isinstance(err, SyntaxError):
        return f"SyntaxError: {err.msg} ({err.filename}, line {err.lineno})"
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def frame_masks(frames: np.ndarray, background: np.ndarray | None, segmenter: Segmenter | None,
                settings: ForegroundSettings) -> np.ndarray:
    """Cleaned person masks uint8 0/1 `[B, H, W]` of RGB frames `[B, H, W, 3]`: from `segmenter` when
    given, else by background subtraction against `background` `[H, W, 3]`."""
    if segmenter is not None:
        return clean_masks(run_segmenter(segmenter, frames), settings)
    return foreground_masks(frames, background, settings)
