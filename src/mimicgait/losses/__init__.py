"""Losses: part-wise triplet, BNNeck cross-entropy, MiCKD, L2 KD and the VEN loss."""

from mimicgait.losses.cross_entropy import BNNeckCrossEntropy, part_accuracy
from mimicgait.losses.mickd import DISTILLATION_LOSSES, L2KDLoss, MiCKDLoss, register_distillation
from mimicgait.losses.triplet import PartTripletLoss
from mimicgait.losses.ven import VENLoss

__all__ = ["DISTILLATION_LOSSES", "BNNeckCrossEntropy", "L2KDLoss", "MiCKDLoss", "PartTripletLoss", "VENLoss",
           "part_accuracy", "register_distillation"]
