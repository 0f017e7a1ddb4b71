"""Losses: part-wise triplet, BNNeck cross-entropy, MiCKD, L2 KD and the VEN loss."""

from mimicgait.losses.cross_entropy import BNNeckCrossEntropy, part_accuracy
from mimicgait.losses.mickd import L2KDLoss, MiCKDLoss
from mimicgait.losses.triplet import PartTripletLoss
from mimicgait.losses.ven import VENLoss

__all__ = ["BNNeckCrossEntropy", "L2KDLoss", "MiCKDLoss", "PartTripletLoss", "VENLoss", "part_accuracy"]
