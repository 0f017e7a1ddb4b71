"""The "Occlusion-Aware" baseline (Gupta & Chellappa, WACV 2024) on top of any encoder.

An occlusion-type detector (the VEN's CNN with a classification head only) yields a per-sequence
feature (mean frame delta, [n, D]). It is fused at the backbone's late FC layer: appended to every
part of the encoder's output (after its separate FCs) and mapped back to C by one more per-part
linear map [P, C + D, C]. The fused embedding feeds the triplet loss and the BNNeck; the detector is
trained jointly through both the recognition losses and its own type cross-entropy.
"""

from __future__ import annotations

from torch import Tensor, nn

from mimicgait.models.blocks import SeparateFCs
from mimicgait.models.encoder import GaitEncoder
from mimicgait.models.heads import BNNeckHead
from mimicgait.models.ven import OcclusionDetector, fuse


class OcclusionAwareNet(nn.Module):
    """forward(sils, lengths) -> {'embeddings' [n,c,p], 'logits' [n,k,p], 'occlusion_logits' [n,K]}."""

    def __init__(self, encoder: GaitEncoder, detector: OcclusionDetector, num_classes: int) -> None:
        super().__init__()
        self.encoder, self.detector = encoder, detector
        c, p = encoder.out_channels, encoder.parts
        self.fusion = SeparateFCs(p, c + detector.feature_dim, c)
        self.head = BNNeckHead(c, p, num_classes)

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> dict[str, Tensor]:
        occ = self.detector.features(sils, lengths)  # [n, D]
        embeddings = self.fusion(fuse(self.encoder(sils, lengths), occ))  # [n, c, p]
        return {
            "embeddings": embeddings,
            "logits": self.head(embeddings),
            "occlusion_logits": self.detector.type_head(occ),
        }

    def embed(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Evaluation embedding [n, c, p] (fused, before the BNNeck)."""
        return self.fusion(fuse(self.encoder(sils, lengths), self.detector.features(sils, lengths)))
