"""Magnitude pruners: one-shot to a target sparsity, and fixed-rate iterative (lottery ticket, IMP)."""

from __future__ import annotations

import torch

from repro.masks import Masks
from repro.pruning.base import PruneContext, Pruner
from repro.pruning.scopes import counts_for_fraction, counts_for_target, prune_smallest


def magnitude_scores(masks: Masks, state: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """|w| of every prunable weight, from the live model or from a saved state dict."""
    if state is None:
        return {n: masks.weight(n).detach().abs() for n in masks}
    return {n: state[f"{n}.weight"].to(masks[n].device).abs() for n in masks}


class OneShotPruner(Pruner):
    """Prune to ``sparsity`` by magnitude in one step from the trained dense model, then fine-tune."""

    def __init__(self, *, sparsity: float = 0.9, **kw) -> None:
        super().__init__(**kw)
        self.sparsity = sparsity

    def prune(self, masks: Masks, ctx: PruneContext) -> None:
        counts = counts_for_target(masks, self.scope, self.sparsity)
        prune_smallest(masks, magnitude_scores(masks), self.scope, counts)

    def nominal_sparsity(self, step: int) -> float | None:
        return self.sparsity if step >= 1 else 0.0


class RatePruner(Pruner):
    """Remove ``rate`` of the remaining weights per step by magnitude.

    With ``rewind=init`` this is the lottery-ticket procedure (rate 0.2); with ``rewind=none`` it is vanilla
    iterative magnitude pruning (IMP, rate 0.5, the EGP paper's baseline).
    """

    def __init__(self, *, rate: float = 0.2, **kw) -> None:
        super().__init__(**kw)
        self.rate = rate

    def prune(self, masks: Masks, ctx: PruneContext) -> None:
        prune_smallest(
            masks, magnitude_scores(masks), self.scope, counts_for_fraction(masks, self.scope, self.rate)
        )

    def nominal_sparsity(self, step: int) -> float | None:
        return 1.0 - (1.0 - self.rate) ** step
