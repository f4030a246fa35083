"""What a step hook receives: everything it may read about the step, and where it may write.

The loop never hands itself to a hook; a hook sees this context, writes its artifacts through ``store`` and
returns the scalars for the step's record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from repro.loggers import NullLogger
from repro.loop.batches import Batches
from repro.loop.probing import Prober
from repro.masks import Masks
from repro.store import OutPaths, RunStore


@dataclass(frozen=True)
class StepContext:
    """The state after a step's training and evaluation."""

    step: int
    steps: int  # the run's last step
    model: nn.Module
    masks: Masks
    device: torch.device
    batches: Batches
    prober: Prober
    store: RunStore
    out: OutPaths
    logger: NullLogger
    # identity of the run and of its dense start (runs pruned from one dense model share ``dense_key``)
    run: str
    pruner: str
    dense_key: str
    # the record so far (read-only): sparsity, accuracies, earlier hooks' scalars
    record: Mapping[str, Any]

    @property
    def final(self) -> bool:
        return self.step == self.steps

    @property
    def num_classes(self) -> int:
        return self.batches.num_classes
