"""Entropy-Guided Pruning (EGP, PAPERS.md section 1) and its retrain-from-scratch ablation.

EGP is a composition (``conf/pruner/egp.yaml``): the magnitude score, EGP's allocation as count rule
(:class:`repro.pruning.counts.EGPAllocation`, from the ``egp`` probe measured just before each step), layer
scope, and the geometric schedule for the step's nominal sparsity 1 - (1 - rate)^t (the real one is lower:
zero-entropy layers are left alone). This module adds the ablation: ``scratch=true`` runs one extra step after
the last EGP step, where fully pruned layers stay frozen at zero, every other conv/linear is re-initialised
densely (:func:`reinitialise`), normalisation layers are reset, and the same schedule retrains it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from repro.masks import Masks
from repro.metrics.dataflow import LAYERS, NORMS
from repro.pruning.base import PruneContext
from repro.pruning.counts import EGPAllocation
from repro.pruning.method import ComposedPruner


class EGPPruner(ComposedPruner):
    """EGP's composition plus, with ``scratch``, the ablation as step ``steps + 1`` (labelled EGP-scratch)."""

    def __init__(self, *, scratch: bool, **settings: Any) -> None:
        super().__init__(**settings)
        self.scratch = scratch
        self.prune_steps = self.steps
        if scratch:
            self.steps += 1  # the re-initialised retraining runs as one more step of the same loop

    def is_scratch(self, step: int) -> bool:
        return self.scratch and step > self.prune_steps

    @property
    def last_allocation(self) -> dict[str, int]:
        """The weights each layer lost at the last EGP step."""
        return self.count.last if isinstance(self.count, EGPAllocation) else {}

    def label_at(self, step: int) -> str:
        return f"{self.label}-scratch" if self.is_scratch(step) else self.label

    def nominal_sparsity(self, step: int) -> float | None:
        return None if step > self.prune_steps else super().nominal_sparsity(step)

    def prune(self, masks: Masks, ctx: PruneContext) -> None:
        if self.is_scratch(ctx.step):
            reinitialise(ctx.model, masks)
        else:
            super().prune(masks, ctx)


@torch.no_grad()
def reinitialise(model: nn.Module, masks: Masks) -> dict[str, Any]:
    """The retrain-from-scratch ablation's starting point, in place; returns the frozen layers' names.

    Fully pruned conv/linear layers are zeroed (bias too) and frozen (``requires_grad=False``, so the
    optimizer never moves them); every other one gets an all-keep mask and fresh dense weights: convolutions
    Kaiming-normal (fan_out, zero bias) as the official code and the models do, linear layers PyTorch's
    default (the official fan_out rule on a 784-wide input multiplies the forward scale by ~5.6 per layer,
    and a deep MLP then does not train); norms get weight 1, bias 0 and fresh running statistics.
    """
    frozen = [n for n in masks if not bool(masks[n].any())]
    for name, m in model.named_modules():
        if isinstance(m, LAYERS):
            if name in frozen:
                for p in m.parameters(recurse=False):
                    p.zero_()
                    p.requires_grad_(False)
                continue
            if isinstance(m, nn.Linear):
                m.reset_parameters()
            else:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            if name in masks.masks:
                masks[name] = torch.ones_like(masks[name])
        elif isinstance(m, NORMS):
            m.reset_parameters()
    return {"frozen": frozen}
