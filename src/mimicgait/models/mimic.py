"""The mimic composition of MimicGait: a trainable student guided by a frozen VEN, distilled from a
frozen teacher.

Eq. 1 of the paper: gamma_m = T(F_m(O) (+) V(O)), with (+) the concatenation of the 64-d VEN feature
to every part and T a per-part linear map [P, C + D, C] (the mixer) whose sizes follow from the
student and the VEN; T starts as the identity on the student's channels (see `identity_mixer`).
The teacher and the VEN are held outside the module tree: they are absent from `parameters()` and
`state_dict()` (the student checkpoint holds only student + mixer), stay frozen and in eval mode
whatever `.train()` is called, and still follow `.to()` / `.cuda()` / `.half()`.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from mimicgait.models.blocks import FramePacker, SeparateFCs, is_dense
from mimicgait.models.encoder import GaitEncoder
from mimicgait.models.fold import fold_batchnorm
from mimicgait.models.ven import VisibilityEstimator, fuse

INFERENCE_MODES = ("guided", "student", "routed")


def _freeze(module: nn.Module) -> nn.Module:
    module.eval()
    for param in module.parameters():
        param.requires_grad_(False)
    return module


def identity_mixer(parts: int, channels: int, feature_dim: int) -> SeparateFCs:
    """T of Eq. 1, [P, C + D, C], initialised to pass the student's embedding through unchanged and
    to ignore the VEN feature: the guided network starts as its student, so a student initialised
    from the teacher starts at the teacher's embedding instead of a random projection of it (the
    weights on the VEN feature still get gradients and are learnt)."""
    mixer = SeparateFCs(parts, channels + feature_dim, channels)
    with torch.no_grad():
        mixer.weight.zero_()
        mixer.weight[:, :channels, :] = torch.eye(channels)
    return mixer


def _embed(module: nn.Module, sils: Tensor, lengths: Tensor | None) -> Tensor:
    """Embedding [n, c, p] from an encoder or from a recogniser exposing `embed`."""
    embed = getattr(module, "embed", None)
    return embed(sils, lengths) if callable(embed) else module(sils, lengths)


class MimicNet(nn.Module):
    """Student encoder + mixer (trainable), with frozen teacher and VEN kept out of the checkpoint.

    `guidance=False` drops the VEN (ablation "no VEN"): the student embedding is used as is.
    `inference` selects what `embed` returns: 'guided' (the paper: student + VEN + mixer),
    'student' (what the public code evaluates) or 'routed' (deployment: the VEN decides per sequence;
    a sequence it finds unoccluded gets the teacher's embedding, any other the guided one, so the
    model keeps the teacher's holistic accuracy; needs the teacher and `none_class`, the index of
    'none' among the VEN's classes).
    """

    def __init__(
        self,
        student: GaitEncoder,
        teacher: nn.Module | None = None,
        ven: VisibilityEstimator | None = None,
        mixer: nn.Module | None = None,
        guidance: bool = True,
        inference: str = "guided",
        none_class: int | None = None,
    ) -> None:
        super().__init__()
        if guidance and ven is None:
            raise ValueError("MimicNet: guidance=True needs a VEN; pass ven=... or set guidance=False")
        self.student = student
        self.guidance = guidance
        if guidance and mixer is None:
            assert ven is not None
            mixer = identity_mixer(student.parts, student.out_channels, ven.feature_dim)
        self.mixer = mixer if guidance else None
        # A tuple is not an nn.Module, so these are neither registered children nor saved.
        self._frozen: tuple[nn.Module | None, nn.Module | None] = (
            _freeze(teacher) if teacher is not None else None,
            _freeze(ven) if ven is not None else None,
        )
        self._folded_teacher: tuple[tuple, nn.Module] | None = None
        self.none_class = none_class
        self.inference = "guided"
        self.set_inference(inference if guidance or inference == "routed" else "student")

    @property
    def teacher(self) -> nn.Module | None:
        return self._frozen[0]

    @property
    def ven(self) -> VisibilityEstimator | None:
        return self._frozen[1]  # type: ignore[return-value]

    def set_inference(self, mode: str) -> MimicNet:
        """Choose what `embed` returns: 'guided', 'student' or 'routed'."""
        if mode not in INFERENCE_MODES:
            raise ValueError(f"inference mode must be one of {INFERENCE_MODES}, got {mode!r}")
        if mode == "guided" and not self.guidance:
            raise ValueError("inference 'guided' needs guidance=True (a VEN and a mixer)")
        if mode == "routed" and (self.teacher is None or self.ven is None or self.none_class is None):
            raise ValueError("inference 'routed' needs the teacher, the VEN and none_class (the index of "
                             "'none' among the VEN's classes)")
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
            with torch.no_grad():
                out["teacher"] = _embed(self._fast_teacher(), holistic, lengths)
        return out

    def _fast_teacher(self) -> nn.Module:
        """The frozen teacher with its BatchNorms folded into its convolutions (models.fold: the same
        function, faster), rebuilt whenever the teacher's tensors change (`.to()`, a load)."""
        teacher = self.teacher
        assert teacher is not None
        if is_dense():  # tracing for export: the exporter folds the teacher beforehand
            return teacher
        key = tuple((t.data_ptr(), t._version, t.dtype, t.device)
                    for t in itertools.chain(teacher.parameters(), teacher.buffers()))
        if self._folded_teacher is None or self._folded_teacher[0] != key:
            self._folded_teacher = (key, fold_batchnorm(teacher))
        return self._folded_teacher[1]

    def unoccluded(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Bool [n]: the VEN's verdict that a sequence is unoccluded (mean P('none') over its valid
        frames above one half)."""
        packer = FramePacker(sils, lengths)
        with torch.no_grad():
            _, logits, _ = self.ven(packer.pack(sils))  # [M, K]
            p_none = packer.mean(logits.float().softmax(-1)[:, self.none_class : self.none_class + 1])
        return p_none[:, 0] > 0.5  # [n]

    def _routed(self, sils: Tensor, lengths: Tensor | None) -> Tensor:
        holistic = self.unoccluded(sils, lengths)  # [n]
        if is_dense():  # a traced graph cannot split the batch by a value: embed both ways, select
            teacher = self._teacher_embed(sils, lengths)  # [n, c, p]
            occluded = self._occluded_embed(sils, lengths)
            return torch.where(holistic[:, None, None], teacher.to(occluded.dtype), occluded)
        out: Tensor | None = None
        for chosen, embed in ((holistic, self._teacher_embed), (~holistic, self._occluded_embed)):
            if not bool(chosen.any()):
                continue
            part = embed(sils[chosen], None if lengths is None else lengths[chosen])  # [k, c, p]
            if out is None:
                out = part.new_empty((sils.shape[0], *part.shape[1:]))
            out[chosen] = part
        assert out is not None
        return out

    def _teacher_embed(self, sils: Tensor, lengths: Tensor | None) -> Tensor:
        with torch.no_grad():
            return _embed(self._fast_teacher(), sils, lengths)

    def _occluded_embed(self, sils: Tensor, lengths: Tensor | None) -> Tensor:
        return self._guided(sils, lengths) if self.guidance else self.student(sils, lengths)

    def embed(self, sils: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Evaluation embedding [n, c, p] in the selected inference mode."""
        if self.inference == "guided":
            return self._guided(sils, lengths)
        if self.inference == "routed":
            return self._routed(sils, lengths)
        return self.student(sils, lengths)
