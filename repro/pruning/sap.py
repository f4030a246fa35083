"""Sparsity-informed Adaptive Pruning (SAP): the PQ Index of each scope unit decides how many weights go.

Per unit with d remaining weights and index I = I_{p,q} of its surviving weights:

    r = ceil(d (1 + eta)^(-q/(q-p)) (1 - I)^(qp/(q-p)))       (the official code rounds r up)
    c = floor(d * clamp(gamma (1 - r/d), 0, beta))

and the c smallest-magnitude surviving weights of the unit are pruned. With p = 0.5, q = 1, eta = 0 and
gamma = 1 this is c = floor(d min(I, beta)). The loop prunes from the step's best checkpoint
(``use_best: true`` in ``conf/pruner/sap.yaml``), as the official code does.
"""

from __future__ import annotations

import torch

from repro.errors import check_range
from repro.masks import Masks
from repro.metrics.pqi import scope_pqi
from repro.pruning.base import PruneContext, Pruner
from repro.pruning.magnitude import magnitude_scores
from repro.pruning.scopes import Counts, prune_smallest, remaining_per_unit


def check_sap_args(p: float, q: float, eta: float, gamma: float, beta: float, prefix: str = "pruner") -> None:
    """Fail with a ConfigError naming the key unless 0 < p < q, eta >= 0, gamma > 0 and 0 < beta <= 1."""
    check_range(f"{prefix}.p", p, 0.0, low_open=True)
    check_range(f"{prefix}.q", q, p, low_open=True)
    check_range(f"{prefix}.eta", eta, 0.0)
    check_range(f"{prefix}.gamma", gamma, 0.0, low_open=True)
    check_range(f"{prefix}.beta", beta, 0.0, 1.0, low_open=True)


def sap_count(
    d: torch.Tensor | float,
    index: torch.Tensor | float,
    p: float = 0.5,
    q: float = 1.0,
    eta: float = 0.0,
    gamma: float = 1.0,
    beta: float = 0.9,
) -> torch.Tensor:
    """The number of weights SAP prunes from units with ``d`` survivors and PQ Index ``index`` (long tensor).

    Element-wise over tensors; d = 0 gives 0. A relative 1e-9 slack absorbs float error before each rounding
    (so an exact integer product is not pushed to the next integer).
    """
    d = torch.as_tensor(d, dtype=torch.float64)
    index = torch.as_tensor(index, dtype=torch.float64, device=d.device).clamp(0.0, 1.0)
    bound = d * (1.0 + eta) ** (-q / (q - p)) * (1.0 - index) ** (q * p / (q - p))
    r = torch.ceil(bound - 1e-9 * d.clamp_min(1.0))
    ratio = (gamma * (1.0 - r / d.clamp_min(1.0))).clamp(0.0, beta)
    c = torch.floor(d * ratio + 1e-9 * d.clamp_min(1.0))
    return torch.where(d > 0, c, torch.zeros_like(c)).long()


class SAPPruner(Pruner):
    """SAP with ``p``, ``q``, ``eta``, ``gamma`` and ``beta`` per scope unit (global, layer, neuron)."""

    def __init__(
        self,
        *,
        p: float = 0.5,
        q: float = 1.0,
        eta: float = 0.0,
        gamma: float = 1.0,
        beta: float = 0.9,
        **kw,
    ) -> None:
        super().__init__(**kw)
        check_sap_args(p, q, eta, gamma, beta)
        self.p, self.q, self.eta, self.gamma, self.beta = p, q, eta, gamma, beta

    def counts(self, masks: Masks) -> Counts:
        """How many weights each unit of the scope loses, from the live (masked) weights."""
        index = scope_pqi(masks, self.scope, self.p, self.q)
        remaining = remaining_per_unit(masks, self.scope)
        args = (self.p, self.q, self.eta, self.gamma, self.beta)
        if isinstance(remaining, int):
            return int(sap_count(remaining, index, *args))  # type: ignore[arg-type]
        assert isinstance(index, dict)
        out: dict = {}
        for n, d in remaining.items():
            c = sap_count(torch.as_tensor(d).double().cpu(), torch.as_tensor(index[n]).cpu(), *args)
            out[n] = int(c) if isinstance(d, int) else c.to(masks[n].device)
        return out

    def prune(self, masks: Masks, ctx: PruneContext) -> None:
        prune_smallest(masks, magnitude_scores(masks), self.scope, self.counts(masks))
