"""Seeds derived from the run's seed: every step and every epoch draws from its own generator.

A resumed run therefore repeats exactly what an uninterrupted one does, and no result depends on what drew
from the global generator before.
"""

from __future__ import annotations

import torch


def step_seed(seed: int, step: int) -> int:
    """The seed of pruning step ``step`` of a run seeded ``seed``."""
    return seed * 1_000_003 + step


def epoch_seed(seed: int, step: int, epoch: int) -> int:
    """The seed of the data order of ``epoch`` within ``step``."""
    return step_seed(seed, step) * 1000 + epoch


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
