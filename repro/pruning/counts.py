"""Count rules: how many surviving weights each scope unit loses at a pruning event.

A rule is a dataclass registered under ``repro.registry`` kind ``count``; its fields are config keys read
from the pruner's config by name. It is called with the masks, the scope, the schedule's target sparsity
(``needs_target`` rules only) and the step's context, and returns counts shaped as
:data:`repro.pruning.update.Counts` for :func:`~repro.pruning.update.prune_smallest`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import ClassVar, Protocol

import torch

from repro.masks import Masks
from repro.metrics.pqi import scope_pqi
from repro.pruning.base import PruneContext
from repro.pruning.schemas import SAPConfig
from repro.pruning.update import Counts, map_counts, remaining_per_unit, total_per_unit
from repro.registry import register


class Count(Protocol):
    # True: prunes to the schedule's target (None: nothing this step); False: the rule alone decides.
    needs_target: ClassVar[bool]
    # Probes the loop must measure into ctx.measurements first.
    needs: ClassVar[frozenset[str]]

    def __call__(self, masks: Masks, scope: str, target: float | None, ctx: PruneContext) -> Counts: ...


# --------------------------------------------------------------------------- target and fixed rate


def counts_for_fraction(masks: Masks, scope: str, fraction: float) -> Counts:
    """Remove ``fraction`` of each unit's remaining weights, rounded to the nearest count.

    Rounding (not ceiling) keeps small units alive: a neuron with one or two weights left keeps them at a 20 %
    rate instead of losing its last weight, as a per-unit quantile threshold would.
    """
    return map_counts(remaining_per_unit(masks, scope), lambda r: torch.floor(r * fraction + 0.5))


def counts_for_target(masks: Masks, scope: str, sparsity: float) -> Counts:
    """Remove what is needed for each unit to reach ``sparsity`` of its total (never regrows)."""
    total = total_per_unit(masks, scope)
    remaining = remaining_per_unit(masks, scope)
    if isinstance(total, int):
        assert isinstance(remaining, int)
        return max(0, remaining - (total - math.floor(sparsity * total + 0.5)))
    out: dict = {}
    for n in total:
        t = torch.as_tensor(total[n], dtype=torch.float64)
        keep = t - torch.floor(sparsity * t + 0.5)
        c = (torch.as_tensor(remaining[n], dtype=torch.float64) - keep).clamp(min=0)
        out[n] = int(c.item()) if isinstance(total[n], int) else c.long()
    return out


@register("count", "target")
@dataclass(frozen=True)
class Target:
    """Each unit down to the schedule's target sparsity of its total (one-shot, OS, gradual)."""

    needs_target: ClassVar[bool] = True
    needs: ClassVar[frozenset[str]] = frozenset()

    def __call__(self, masks: Masks, scope: str, target: float | None, ctx: PruneContext) -> Counts:
        assert target is not None
        return counts_for_target(masks, scope, target)


@register("count", "rate")
@dataclass(frozen=True)
class FixedRate:
    """``rate`` of each unit's remaining weights per step (lottery ticket, IMP)."""

    rate: float
    needs_target: ClassVar[bool] = False
    needs: ClassVar[frozenset[str]] = frozenset()

    def __call__(self, masks: Masks, scope: str, target: float | None, ctx: PruneContext) -> Counts:
        return counts_for_fraction(masks, scope, self.rate)


# --------------------------------------------------------------------------- SAP


def sap_count(
    d: torch.Tensor | float,
    index: torch.Tensor | float,
    p: float,
    q: float,
    eta: float,
    gamma: float,
    beta: float,
) -> torch.Tensor:
    """The number of weights SAP prunes from units with ``d`` survivors and PQ Index ``index`` (long tensor).

    r = ceil(d (1 + eta)^(-q/(q-p)) (1 - I)^(qp/(q-p))) (the official code rounds r up), then
    c = floor(d clamp(gamma (1 - r/d), 0, beta)). Element-wise over tensors; d = 0 gives 0. A relative
    1e-9 slack absorbs float error before each rounding (an exact integer product stays that integer).
    """
    d = torch.as_tensor(d, dtype=torch.float64)
    index = torch.as_tensor(index, dtype=torch.float64, device=d.device).clamp(0.0, 1.0)
    bound = d * (1.0 + eta) ** (-q / (q - p)) * (1.0 - index) ** (q * p / (q - p))
    r = torch.ceil(bound - 1e-9 * d.clamp_min(1.0))
    ratio = (gamma * (1.0 - r / d.clamp_min(1.0))).clamp(0.0, beta)
    c = torch.floor(d * ratio + 1e-9 * d.clamp_min(1.0))
    return torch.where(d > 0, c, torch.zeros_like(c)).long()


@register("count", "pqi")
@dataclass(frozen=True)
class PQIRule:
    """SAP's rule (PAPERS.md section 2): the PQ Index of each unit's surviving weights sets its count.

    With p = 0.5, q = 1, eta = 0 and gamma = 1 this is c = floor(d min(I, beta)).
    """

    p: float
    q: float
    eta: float
    gamma: float
    beta: float
    needs_target: ClassVar[bool] = False
    needs: ClassVar[frozenset[str]] = frozenset()

    def __call__(self, masks: Masks, scope: str, target: float | None, ctx: PruneContext) -> Counts:
        index = scope_pqi(masks, scope, self.p, self.q)
        remaining = remaining_per_unit(masks, scope)
        args = (self.p, self.q, self.eta, self.gamma, self.beta)
        if isinstance(remaining, int):
            return int(sap_count(remaining, index, *args))  # type: ignore[arg-type]
        assert isinstance(index, dict)
        out: dict = {}
        for n, d in remaining.items():
            c = sap_count(torch.as_tensor(d).double().cpu(), torch.as_tensor(index[n]).cpu(), *args)
            out[n] = int(c) if isinstance(d, int) else c.to(masks[n].device)
        return out

    @property
    def label(self) -> str:
        """SAP(p,q), with eta, gamma and beta where they differ from the schema's defaults (as the paper's
        ablations are named)."""
        defaults = {f.name: f.default for f in fields(SAPConfig)}
        extra = "".join(
            f",{k}={getattr(self, k):g}" for k in ("eta", "gamma", "beta") if getattr(self, k) != defaults[k]
        )
        return f"SAP({self.p:g},{self.q:g}{extra})"


# --------------------------------------------------------------------------- EGP

ESTIMATORS = {"batch": "_entropy", "pass": "_entropy_pass"}


def allocate(
    entropy: Mapping[str, float],
    mean_abs: Mapping[str, float],
    remaining: Mapping[str, int],
    rate: float,
) -> dict[str, int]:
    """The weights each layer loses at one EGP step (see :class:`EGPAllocation`); non-candidates get 0."""
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


@register("count", "egp")
@dataclass
class EGPAllocation:
    """EGP's allocation per layer (PAPERS.md section 1), from the ``egp`` probe's layer entropies H_l.

    1. candidates C: rectified layers with H_l > 0 and at least one surviving weight;
    2. irrelevance I_l = H_l x mean |w| over the surviving weights; relevance R_l = (sum_C I) / I_l;
    3. budget P = rate x (surviving weights in C);
    4. a_l = P x softmax(R)_l; a layer whose a_l exceeds its surviving weights is fully pruned, leaves C, its
       weights leave P (and its I the sum), and the softmax is recomputed until nothing is capped;
    5. each layer loses floor(a_l) weights (the score picks which: magnitude, layer-wise L1).

    The softmax is very peaked on purpose: nearly the whole budget goes to the layer of lowest irrelevance.
    Layers the probe does not report (shortcuts, the classifier, attention) lose nothing. "Surviving" means
    kept by the mask (the official code tests ``w != 0``, the same set once masks are applied).
    """

    rate: float
    estimator: str
    needs_target: ClassVar[bool] = False
    needs: ClassVar[frozenset[str]] = frozenset({"egp"})
    # The last step's allocation, for inspection and tests.
    last: dict[str, int] = field(default_factory=dict, init=False)
    label: ClassVar[str] = "EGP"

    def __call__(self, masks: Masks, scope: str, target: float | None, ctx: PruneContext) -> Counts:
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
        self.last = allocate(entropy, mean_abs, remaining, self.rate)
        return {n: self.last.get(n, 0) for n in masks}
