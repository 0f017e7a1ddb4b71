"""Evaluation: retrieval metrics, protocols as data, occluded evaluation, reports and comparisons.

Import-light on purpose: nothing here needs the data or model modules until a checkpoint or a
dataset is actually evaluated.
"""

from mimicgait.eval.metrics import rank_metrics

__all__ = ["rank_metrics"]
