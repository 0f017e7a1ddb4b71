"""The mimic composition of MimicGait: a trainable student guided by a frozen VEN, distilled from a
frozen teacher.

Eq. 1 of the paper: gamma_m = T(F_m(O) (+) V(O)), with (+) the concatenation of the 64-d VEN feature
to every part and T a per-part linear map [P, C + D, C] (the mixer) whose sizes follow from the
student and the VEN. The teacher and the VEN are held outside the module tree: they are absent from
`parameters()` and `state_dict()` (the student checkpoint holds only student + mixer), stay frozen
and in eval mode whatever `.train()` is called, and still follow `.to()` / `.cuda()` / `.half()`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mimicgait.models.blocks import SeparateFCs
from mimicgait.models.encoder import GaitEncoder
from mimicgait.models.ven import VisibilityEstimator, fuse

INFERENCE_MODES = ("guided", "student")


def _freeze(module: nn.Module) -> nn.Module:
    module.eval()
    for param in module.parameters():
        param.requires_grad_(False)
    return module


def _embed(module: nn.Module, sils: Tensor, lengths: Tensor | None) -> Tensor:
    """Embedding [n, c, p] from an encoder or from a recogniser exposing `embed`."""
    embed = getattr(module, "embed", None)
    return embed(sils, lengths) if callable(embed) else module(sils, lengths)


class MimicNet(nn.Module):
    """Student encoder + mixer (trainable), with frozen teacher and VEN kept out of the checkpoint.

    `guidance=False` drops the VEN (ablation "no VEN"): the student embedding is used as is.
    `inference` selects what `embed` returns: 'guided' (the paper: student + VEN + mixer) or
    'student' (what the public code evaluates).
    """

    def __init__(
        self,
        student: GaitEncoder,
        teacher: nn.Module | None = None,
        ven: VisibilityEstimator | None = None,
        mixer: nn.Module | None = None,
        guidance: bool = True,
        inference: str = "guided",
    ) -> None:
        super().__init__()
        if guidance and ven is None:
            raise ValueError("MimicNet: guidance=True needs a VEN; pass ven=... or set guidance=False")
        self.student = student
        self.guidance = guidance
        if guidance and mixer is None:
            assert ven is not None
            mixer = SeparateFCs(student.parts, student.out_channels + ven.feature_dim, student.out_channels)
        self.mixer = mixer if guidance else None
        # A tuple is not an nn.Module, so these are neither registered children nor saved.
        self._frozen: tuple[nn.Module | None, nn.Module | None] = (
            _freeze(teacher) if teacher is not None else None,
            _freeze(ven) if ven is not None else None,
        )
        self.inference = "guided"
        self.set_inference(inference if guidance else "student")

    @property
    def teacher(self) -> nn.Module | None:
        return self._frozen[0]

    @property
    def ven(self) -> VisibilityEstimator | None:
        return self._frozen[1]  # type: ignore[return-value]

    def set_inference(self, mode: str) -> MimicNet:
        """Choose what `embed` returns: 'guided' or 'student'."""
        if mode not in INFERENCE_MODES:
            raise ValueError(f"inference mode must be one of {INFERENCE_MODES}, got {mode!r}")
        if mode == "guided" and not self.guidance:
            raise ValueError("inference 'guided' needs guidance=True (a VEN and a mixer)")
        self.inference = mode
        return self

    def train(self, mode: bool = True) -> MimicNet:
        super().train(mode)
        for frozen in self._frozen:
            if frozen is not None:
                frozen.eval()
        return self

    def _apply(self, fn, recurse: bool = True):  # keeps .to()/.cuda()/.half() moving the frozen parts
        super()._apply(fn, recurse)
        for frozen in self._frozen:
            if frozen is not None:
                frozen._apply(fn, recurse)
        return self

    def _guided(self, sils: Tensor, lengths: Tensor | None) -> Tensor:
        embeddings = self.student(sils, lengths)  # [n, c, p]
        with torch.no_grad():
            visibility = self.ven.features(sils, lengths)  # [n, D]
        return self.mixer(fuse(embeddings, visibility))  # [n, c, p]

    def forward(
        self, occluded: Tensor, lengths: Tensor | None = None, holistic: Tensor | None = None
    ) -> dict[str, Tensor]:
        """-> {'student': gamma_m [n, c, p] (guided when guidance is on), 'teacher': gamma_t [n, c, p]
        (no grad; only when `holistic`, the unoccluded version of the batch, is given)}."""
        out = {
            "student": self._guided(occluded, lengths) if self.guidance else self.student(occluded, lengths)
        }
        if holistic is not None:
            if self.teacher is None:
                raise ValueError("MimicNet: a holistic batch was given but no teacher was set")
            if self.teacher.training:
                self.teacher.eval()
            with torch.no_grad():
                out["teacher"] = _embed(self.teacher, holistic, lengths)
        return out

    def embed(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Evaluation embedding [n, c, p] in the selected inference mode."""
        if self.inference == "guided":
            return self._guided(sils, lengths)
        return self.student(sils, lengths)
