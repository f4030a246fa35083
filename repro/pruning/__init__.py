"""Masks, scopes, scores and one module per pruning method."""

from repro.pruning.base import PruneContext, Pruner, TrainState
from repro.pruning.masks import Masks, prunable_modules

__all__ = ["Masks", "PruneContext", "Pruner", "TrainState", "prunable_modules"]
