"""Entropy-Guided Pruning (EGP): spend each step's budget on the low-entropy rectified layers first.

Per step (PAPERS.md section 1), from the ``egp`` probe's layer entropies H_l measured on the augmented
training data just before pruning:

1. candidates C: rectified layers with H_l > 0 and at least one surviving weight;
2. irrelevance I_l = H_l x mean |w| over the surviving weights; relevance R_l = (sum_C I) / I_l;
3. budget P = rate x (surviving weights in C);
4. a_l = P x softmax(R)_l; a layer whose a_l exceeds its surviving weights is fully pruned, leaves C, its
   weights leave P (and its I the sum), and the softmax is recomputed until nothing is capped;
5. each layer loses its floor(a_l) smallest-magnitude surviving weights (layer-wise unstructured L1).

The softmax is very peaked on purpose: nearly the whole budget goes to the layer of lowest irrelevance,
which collapses to zero entropy and stops being a candidate. Layers EGP does not
rectify (shortcut projections, the classifier, attention) are never pruned. "Surviving" means kept by the
mask (the official code tests ``w != 0``, the same set once masks are applied).

``scratch=true`` adds the paper's ablation as one extra step after the last EGP step: fully pruned layers
stay frozen at zero, every other conv/linear is re-initialised densely (see :func:`reinitialise`),
normalisation layers are reset, and the same schedule retrains it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from repro.errors import check_choice
from repro.masks import Masks
from repro.metrics.dataflow import LAYERS, NORMS
from repro.pruning.base import PruneContext, Pruner
from repro.pruning.scopes import prune_smallest

ESTIMATORS = {"batch": "_entropy", "pass": "_entropy_pass"}


def allocate(
    entropy: Mapping[str, float],
    mean_abs: Mapping[str, float],
    remaining: Mapping[str, int],
    rate: float,
) -> dict[str, int]:
    """How many weights each layer loses at one EGP step (steps 1-4 above); non-candidates get 0."""
    candidates = [n for n in entropy if entropy[n] > 0 and remaining[n] > 0]
    irrelevance = {n: entropy[n] * mean_abs[n] for n in candidates}
    budget = rate * sum(remaining[n] for n in candidates)
    total = sum(irrelevance.values())
    counts = dict.fromkeys(entropy, 0)
    active = list(candidates)
    while active:
        relevance = {n: total / irrelevance[n] for n in active}
        top = max(relevance.values())
        weights = {n: math.exp(relevance[n] - top) for n in active}
        norm = sum(weights.values())
        share = {n: budget * weights[n] / norm for n in active}
        capped = [n for n in active if share[n] > remaining[n]]
        if not capped:
            counts.update({n: int(share[n]) for n in active})
            break
        for n in capped:
            counts[n] = remaining[n]
            budget -= remaining[n]
            total -= irrelevance[n]
            active.remove(n)
    return counts


class EGPPruner(Pruner):
    """EGP at ``rate`` of the candidates' surviving weights per step (see the module docstring)."""

    def __init__(self, *, rate: float = 0.5, estimator: str = "batch", scratch: bool = False, **kw) -> None:
        super().__init__(**kw)
        check_choice("pruner.estimator", estimator, sorted(ESTIMATORS))
        self.rate = rate
        self.estimator = estimator
        self.scratch = scratch
        self.prune_steps = self.steps
        if scratch:
            self.steps += 1  # the re-initialised retraining runs as one more step of the same loop
        self.last_allocation: dict[str, int] = {}

    def needs(self) -> set[str]:
        return {"egp"}

    def nominal_sparsity(self, step: int) -> float | None:
        if step > self.prune_steps:
            return None
        return 1.0 - (1.0 - self.rate) ** step

    def prune(self, masks: Masks, ctx: PruneContext) -> None:
        if self.scratch and ctx.step > self.prune_steps:
            reinitialise(ctx.model, masks)
            return
        probe = ctx.measurements.get("egp")
        if probe is None:
            raise RuntimeError("EGP prunes from the egp probe's entropies: measurements['egp'] is missing")
        entropy = {k: float(v) for k, v in probe[ESTIMATORS[self.estimator]].items() if k in masks}
        remaining, mean_abs = {}, {}
        for n in entropy:
            keep = masks[n]
            remaining[n] = int(keep.sum())
            w = masks.weight(n).detach()[keep]
            mean_abs[n] = float(w.abs().double().mean()) if remaining[n] else 0.0
        self.last_allocation = allocate(entropy, mean_abs, remaining, self.rate)
        counts = {n: self.last_allocation.get(n, 0) for n in masks}
        scores = {n: masks.weight(n).detach().abs() for n in masks}
        prune_smallest(masks, scores, "layer", counts)


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
