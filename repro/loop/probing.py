"""One probe pass per step serves the record and the next prune.

The activation probes (:mod:`repro.metrics.registry`) run in one pass over a split. When the record's probes
run on the training data, the pruner of the next step needs the same numbers from the same weights: the
pass is kept and reused, unless other weights were loaded since (``use_best``) or the run resumed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn

from repro.metrics.registry import measure


class Prober:
    """Runs probes on a model and remembers the last pass on the training data."""

    def __init__(self, model: nn.Module, num_classes: int, **options: Any) -> None:
        self.model = model
        self.num_classes = num_classes
        self.options = options
        self._last: tuple[int, dict[str, dict[str, Any]]] | None = None

    def measure(self, names: list[str], batches: Iterable) -> dict[str, dict[str, Any]]:
        return measure(names, self.model, batches, self.num_classes, **self.options)

    def forget(self) -> None:
        self._last = None

    def remember(self, step: int, results: dict[str, dict[str, Any]]) -> None:
        """Keep a pass made on the training data with the weights of ``step``."""
        self._last = (step, results)

    def for_pruner(self, step: int, names: list[str], reloaded: bool, batches: Iterable) -> dict[str, Any]:
        """What the pruner needs, measured with the weights of ``step`` on the augmented training data."""
        if not names:
            return {}
        last = self._last
        if not reloaded and last is not None and last[0] == step and set(names) <= set(last[1]):
            return {n: last[1][n] for n in names}
        return self.measure(names, batches)
