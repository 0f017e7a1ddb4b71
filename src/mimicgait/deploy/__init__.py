"""Using a trained model: one-file export, `load`, the input contract, galleries and search, ONNX.

    import mimicgait
    model = mimicgait.load("model.pt")      # or a run directory / checkpoint
    embeddings = model.embed(sequences)     # [N, C, P]
"""

from mimicgait.data.contract import silhouette_problem
from mimicgait.deploy.contract import as_silhouettes
from mimicgait.deploy.modelfile import MODEL_FORMAT, model_payload, read_model_file
from mimicgait.deploy.recognizer import Recognizer, load, resolve_device

__all__ = [
    "MODEL_FORMAT",
    "Recognizer",
    "as_silhouettes",
    "load",
    "model_payload",
    "read_model_file",
    "resolve_device",
    "silhouette_problem",
]
