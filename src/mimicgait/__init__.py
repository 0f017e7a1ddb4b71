"""MimicGait: model-agnostic occluded gait recognition by correlational knowledge distillation."""

from mimicgait.version import __version__

__all__ = ["__version__", "load"]


def load(path, inference=None, device="cpu"):
    """A trained model as a `mimicgait.deploy.Recognizer` (`.embed`, `.distance`, `.to`), from an
    exported model file, a checkpoint, a run directory or a shipped model's name (`mimicgait
    models`); see `mimicgait.deploy.load`."""
    from mimicgait.deploy import load as _load

    return _load(path, inference=inference, device=device)
