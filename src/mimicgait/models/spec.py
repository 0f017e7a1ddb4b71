"""Model specs: the plain dicts a checkpoint stores to rebuild its model without pickled modules.

Every stage's model is a composition of registered parts, so a spec names the parts and their
sizes: `{'kind': 'recognizer' | 'occ-aware' | 'ven' | 'mimic', 'encoder': encoder.spec(),
'num_classes': ..., 'classes': [occlusion classes], 'feature_dim': ..., 'guidance': ...,
'preprocess': {...}}`. Sizes that follow from others (the mixer's C + D input) are recomputed.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from mimicgait.errors import UserError
from mimicgait.models import (
    BNNeckHead,
    GaitRecognizer,
    MimicNet,
    OcclusionAwareNet,
    OcclusionDetector,
    VisibilityEstimator,
    create_encoder,
)

KINDS = ("recognizer", "occ-aware", "ven", "mimic")


def build_encoder(spec: dict[str, Any]) -> nn.Module:
    """Encoder from its `spec()` dict (lists turned back into tuples where the constructor wants them)."""
    spec = dict(spec)
    name = spec.pop("name")
    return create_encoder(name, **{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()})


def build_model(
    spec: dict[str, Any], ven: VisibilityEstimator | None = None, teacher: nn.Module | None = None
) -> nn.Module:
    """The module described by `spec` (for 'mimic': student + mixer, with the frozen parts given)."""
    kind = spec.get("kind")
    if kind == "recognizer":
        encoder = build_encoder(spec["encoder"])
        classes = int(spec["num_classes"])  # 0: embedding only (exported models drop the classifier)
        head = BNNeckHead(encoder.out_channels, encoder.parts, classes) if classes > 0 else None
        return GaitRecognizer(encoder, head)
    if kind == "occ-aware":
        encoder = build_encoder(spec["encoder"])
        detector = OcclusionDetector(len(spec["classes"]), int(spec["feature_dim"]))
        return OcclusionAwareNet(encoder, detector, int(spec["num_classes"]))
    if kind == "ven":
        return VisibilityEstimator(len(spec["classes"]), int(spec["feature_dim"]))
    if kind == "mimic":
        student = build_encoder(spec["encoder"])
        guidance = bool(spec["guidance"]) and ven is not None
        classes = list(spec.get("classes") or [])
        return MimicNet(
            student,
            teacher=teacher,
            ven=ven,
            guidance=guidance,
            inference="guided" if guidance else "student",
            none_class=classes.index("none") if "none" in classes else None,
        )
    raise UserError(f"unknown model kind {kind!r} in checkpoint spec; expected one of {KINDS}")
