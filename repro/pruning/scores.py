"""Scores: how a pruner ranks the surviving weights of a scope unit; the lowest-scoring go first.

As in jaxpruner's ``algorithms/pruners.py``, a method that prunes differently often only scores differently:
the random baseline is the magnitude method with :class:`Random` in place of :class:`Magnitude`. A score is
a dataclass registered under ``repro.registry`` kind ``score``; its fields (none so far) are read from the
pruner's config by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from repro.masks import Masks
from repro.pruning.base import PruneContext
from repro.registry import register


class Score(Protocol):
    def __call__(self, masks: Masks, ctx: PruneContext) -> dict[str, torch.Tensor]:
        """A score per prunable weight, shaped like each mask (surviving entries are the ones that count)."""
        ...


def magnitude_scores(masks: Masks, state: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """|w| of every prunable weight, from the live model or from a saved state dict."""
    if state is None:
        return {n: masks.weight(n).detach().abs() for n in masks}
    return {n: state[f"{n}.weight"].to(masks[n].device).abs() for n in masks}


@register("score", "magnitude")
@dataclass(frozen=True)
class Magnitude:
    """|w| of the model's current weights (the pruner loads other weights first where its source says so)."""

    def __call__(self, masks: Masks, ctx: PruneContext) -> dict[str, torch.Tensor]:
        return magnitude_scores(masks)


@register("score", "random")
@dataclass(frozen=True)
class Random:
    """Uniform draws from ``ctx.generator`` (seeded by the loop per run and step), never the global one.

    Drawn on the CPU in mask order, so a seed gives the same mask on every device.
    """

    def __call__(self, masks: Masks, ctx: PruneContext) -> dict[str, torch.Tensor]:
        return {n: torch.rand(masks[n].shape, generator=ctx.generator).to(masks[n].device) for n in masks}
