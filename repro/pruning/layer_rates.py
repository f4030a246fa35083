"""Per-layer pruning rates: the lottery-ticket paper prunes its output layer at half the hidden layers' rate.

``layer_rates`` maps fnmatch patterns of layer names to rates; a layer no pattern matches uses ``rate``.
``layer_rate`` removes that fraction of each unit's remaining weights per step (the iterative ticket);
``layer_target`` prunes each layer to ``1 - (1 - rate_l)^t`` at step t (one-shot to the same sparsities,
with ``source: dense``), so both reach the same per-layer fractions at every step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import ClassVar

import torch

from repro.masks import Masks
from repro.pruning.base import PruneContext
from repro.pruning.counts import counts_for_fraction, counts_for_target
from repro.pruning.update import Counts
from repro.registry import register


def rate_of(name: str, rate: float, layer_rates: Mapping[str, float]) -> float:
    """The rate of layer ``name``: the first matching pattern's, else ``rate``."""
    return next((float(r) for pattern, r in layer_rates.items() if fnmatch(name, pattern)), float(rate))


def per_layer(masks: Masks, scope: str, fraction_of: dict[str, float], fn) -> Counts:
    """Counts of each layer (or each neuron of it) from a rule applied with the layer's own fraction."""
    if scope not in ("layer", "neuron"):
        raise ValueError("per-layer rates need scope=layer or scope=neuron")
    out: dict[str, int | torch.Tensor] = {}
    for name in masks:
        single = Masks({name: masks.modules[name]}, {name: masks[name]})
        out[name] = fn(single, scope, fraction_of[name])[name]  # type: ignore[index]
    return out  # type: ignore[return-value]


@register("count", "layer_rate")
@dataclass(frozen=True)
class LayerRate:
    """Each layer loses its own rate of its remaining weights per step (rounded to the nearest count)."""

    rate: float
    layer_rates: Mapping[str, float]
    needs_target: ClassVar[bool] = False
    needs: ClassVar[frozenset[str]] = frozenset()

    def __call__(self, masks: Masks, scope: str, target: float | None, ctx: PruneContext) -> Counts:
        rates = {n: rate_of(n, self.rate, self.layer_rates) for n in masks}
        return per_layer(masks, scope, rates, counts_for_fraction)


@register("count", "layer_target")
@dataclass(frozen=True)
class LayerTarget:
    """Each layer pruned to ``1 - (1 - rate_l)^t`` of its total at step t (never regrows)."""

    rate: float
    layer_rates: Mapping[str, float]
    needs_target: ClassVar[bool] = False
    needs: ClassVar[frozenset[str]] = frozenset()

    def __call__(self, masks: Masks, scope: str, target: float | None, ctx: PruneContext) -> Counts:
        sparsity = {n: 1.0 - (1.0 - rate_of(n, self.rate, self.layer_rates)) ** ctx.step for n in masks}
        return per_layer(masks, scope, sparsity, counts_for_target)
