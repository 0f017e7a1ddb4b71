"""Losses: part-wise triplet, BNNeck cross-entropy, MiCKD, L2 KD and the occlusion losses, all returning
`(loss, logs)`; `weighted_sum` adds a stage's weighted terms and names their logs."""

from mimicgait.losses.cross_entropy import BNNeckCrossEntropy, class_accuracy, part_accuracy
from mimicgait.losses.mickd import DISTILLATION_LOSSES, L2KDLoss, MiCKDLoss, register_distillation
from mimicgait.losses.triplet import PartTripletLoss
from mimicgait.losses.ven import OcclusionAmountLoss, OcclusionTypeLoss, ven_loss
from mimicgait.losses.weighted import Logs, LossOutput, WeightedLoss, loss_output, weighted_sum

__all__ = ["DISTILLATION_LOSSES", "BNNeckCrossEntropy", "L2KDLoss", "Logs", "LossOutput", "MiCKDLoss",
           "OcclusionAmountLoss", "OcclusionTypeLoss", "PartTripletLoss", "WeightedLoss", "class_accuracy",
           "loss_output", "part_accuracy", "register_distillation", "ven_loss", "weighted_sum"]
