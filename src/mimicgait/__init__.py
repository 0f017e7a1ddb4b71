"""MimicGait: model-agnostic occluded gait recognition by correlational knowledge distillation."""

__version__ = "0.1.0"
