"""Gait encoders (any backbone behind one contract), heads, the VEN and the mimic composition."""

from mimicgait.models import deepgaitv2, gaitbase, gaitgl, gaitpart, gaitset  # noqa: F401  (registration)
from mimicgait.models.encoder import (
    GaitEncoder,
    count_parameters,
    create_encoder,
    encoder_kwargs,
    flops_per_frame,
    list_encoders,
    register_encoder,
)
from mimicgait.models.heads import BNNeckHead
from mimicgait.models.mimic import MimicNet
from mimicgait.models.occ_aware import OcclusionAwareNet
from mimicgait.models.recognizer import GaitRecognizer
from mimicgait.models.ven import OcclusionDetector, VisibilityEstimator

__all__ = [
    "BNNeckHead",
    "GaitEncoder",
    "GaitRecognizer",
    "MimicNet",
    "OcclusionAwareNet",
    "OcclusionDetector",
    "VisibilityEstimator",
    "count_parameters",
    "create_encoder",
    "encoder_kwargs",
    "flops_per_frame",
    "list_encoders",
    "register_encoder",
]
