"""Fold eval-mode BatchNorm into the convolution that feeds it, for networks that only run forward.

A frozen teacher (and any model at evaluation) applies BatchNorm with fixed statistics, an affine map
per channel that can be merged into the preceding convolution's weight and bias: the same function
with one pass over the activations fewer. Pairs are
found where they are unambiguous: a convolution directly followed by its BatchNorm inside an
`nn.Sequential`, and the `(conv, bn)` attribute names a block lists in `conv_bn_pairs`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.utils import fuse_conv_bn_eval

_MATCHING = ((nn.Conv2d, nn.BatchNorm2d), (nn.Conv3d, nn.BatchNorm3d), (nn.Conv1d, nn.BatchNorm1d))


def _matches(conv: nn.Module, bn: nn.Module) -> bool:
    return any(type(conv) is c and type(bn) is b for c, b in _MATCHING) and bn.track_running_stats


def _pairs(parent: nn.Module) -> Iterator[tuple[str, str]]:
    """(conv name, bn name) of `parent`'s direct children that may be folded."""
    if isinstance(parent, nn.Sequential):
        names = list(parent._modules)
        for a, b in zip(names[:-1], names[1:], strict=True):
            if _matches(parent._modules[a], parent._modules[b]):
                yield a, b
    for conv_name, bn_name in getattr(parent, "conv_bn_pairs", ()):
        if _matches(getattr(parent, conv_name), getattr(parent, bn_name)):
            yield conv_name, bn_name


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """A copy of `module` in eval mode with every foldable BatchNorm merged into its convolution (and
    replaced by `nn.Identity`); `module` itself is left untouched. Parameters of the copy do not
    require gradients: it is meant for inference only."""
    folded = copy.deepcopy(module).eval()
    with torch.no_grad():
        for parent in list(folded.modules()):
            for conv_name, bn_name in list(_pairs(parent)):
                conv, bn = getattr(parent, conv_name), getattr(parent, bn_name)
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(parent, bn_name, nn.Identity())
    for param in folded.parameters():
        param.requires_grad_(False)
    return folded
