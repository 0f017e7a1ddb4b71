"""A gait recogniser = an encoder plus an optional BNNeck head: the teacher and Baseline-2 model."""

from __future__ import annotations

from torch import Tensor, nn

from mimicgait.models.encoder import GaitEncoder
from mimicgait.models.heads import BNNeckHead


class GaitRecognizer(nn.Module):
    """Composition used by the teacher and baseline stages (triplet on embeddings, CE on logits)."""

    def __init__(self, encoder: GaitEncoder, head: BNNeckHead | None = None) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> dict[str, Tensor | None]:
        """-> {'embeddings': [n, c, p], 'logits': [n, k, p] or None}"""
        embeddings = self.encoder(sils, lengths)
        logits = self.head(embeddings) if self.head is not None else None
        return {"embeddings": embeddings, "logits": logits}

    def embed(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Evaluation embedding [n, c, p] (the pre-BNNeck features, as OpenGait's GaitBase uses)."""
        return self.encoder(sils, lengths)
