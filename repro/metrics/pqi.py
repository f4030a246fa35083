"""PQ Index (PQI) and Gini index of weights, per scope unit: global, per layer, per neuron.

``I_{p,q}(w) = 1 - M_p(|w|) / M_q(|w|)`` with the power mean ``M_e(a) = (mean a^e)^(1/e)`` over the
*unmasked* entries (d = their count); this equals ``1 - d^(1/q-1/p) ||w||_p / ||w||_q``. It is 0 when every
entry has the same magnitude, reaches ``1 - d^(1/q-1/p)`` on a one-hot vector, and is scale invariant; larger
means sparser. A unit with d = 0 (or only zero survivors) gets 0.

Every scope comes from one batched pass per layer and exponent: the weight is viewed as ``[rows, -1]`` (one
row per output neuron, a whole filter for a convolution) and each row's power sums of ``|w| / rowmax`` are
taken at once; a layer's and the global sums are the rows' sums rescaled by ``(rowmax / max)^e`` (exact, a
few numbers per row). Dividing by the maximum keeps small p (0.1) and large q from under- or overflowing;
sums run in float64. A (p, q) grid costs one pass per distinct exponent, not one per pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from repro.masks import Masks

# The official grid of the heat maps: p in 0.1..1.0, q in 1.0..2.0, step 0.1.
P_GRID: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(1, 11))
Q_GRID: tuple[float, ...] = tuple(round(1.0 + 0.1 * i, 1) for i in range(11))
TINY = torch.finfo(torch.float64).tiny


def _rows(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1) if t.dim() > 1 else t.reshape(1, -1)


def _exponents(ps: Iterable[float], qs: Iterable[float]) -> tuple[list[float], list[float], list[float]]:
    ps, qs = [float(p) for p in ps], [float(q) for q in qs]
    for e in ps + qs:
        if not e > 0:
            raise ValueError(f"PQI exponents must be > 0, got {e}")
    return ps, qs, sorted(set(ps + qs))


@dataclass
class PowerSums:
    """``sums[e, u] = sum_j (|w_uj| / scale_u)^e`` over the survivors of unit u; ``d`` counts them."""

    exps: list[float]
    sums: torch.Tensor  # [E, units] float64
    scale: torch.Tensor  # [units] float64
    d: torch.Tensor  # [units] float64

    @classmethod
    def of_rows(
        cls,
        w: torch.Tensor,
        mask: torch.Tensor | None,
        exps: list[float],
        dtype: torch.dtype = torch.float64,
    ) -> PowerSums:
        """Power sums of every row of ``w`` (unmasked entries only); ``dtype`` is the powering precision."""
        a = _rows(w.detach()).abs().to(dtype)
        if mask is not None:
            a = a * _rows(mask.to(a.device)).to(dtype)
            d = _rows(mask).sum(dim=1).to(device=a.device, dtype=torch.float64)
        else:
            d = torch.full((a.shape[0],), float(a.shape[1]), device=a.device, dtype=torch.float64)
        scale = a.amax(dim=1)
        x = a / scale.clamp_min(torch.finfo(dtype).tiny)[:, None]
        sums = torch.stack([x.pow(e).sum(dim=1, dtype=torch.float64) for e in exps])
        return cls(list(exps), sums, scale.double(), d)

    @classmethod
    def cat(cls, parts: Sequence[PowerSums]) -> PowerSums:
        return cls(
            parts[0].exps,
            torch.cat([p.sums for p in parts], dim=1),
            torch.cat([p.scale for p in parts]),
            torch.cat([p.d for p in parts]),
        )

    def merged(self) -> PowerSums:
        """All units as one: rescale each unit's sums to the common maximum and add them up (exact)."""
        top = self.scale.amax()
        ratio = (self.scale / top.clamp_min(TINY)).clamp(0.0, 1.0)
        e = torch.tensor(self.exps, dtype=torch.float64, device=self.sums.device)[:, None]
        sums = (self.sums * ratio[None, :] ** e).sum(dim=1, keepdim=True)
        return PowerSums(self.exps, sums, top.reshape(1), self.d.sum().reshape(1))

    def index(self, ps: Sequence[float], qs: Sequence[float]) -> torch.Tensor:
        """PQI ``[P, Q, units]`` (0 where a unit has no survivors or only zero ones)."""
        e = torch.tensor(self.exps, dtype=torch.float64, device=self.sums.device)[:, None]
        means = (self.sums / self.d.clamp_min(1.0)).clamp_min(0.0) ** (1.0 / e)
        mp = means[[self.exps.index(p) for p in ps]]
        mq = means[[self.exps.index(q) for q in qs]]
        out = 1.0 - mp[:, None, :] / mq[None, :, :].clamp_min(TINY)
        valid = (self.d > 0)[None, None, :] & (mq > 0)[None, :, :]
        return torch.where(valid, out, torch.zeros_like(out))


# --------------------------------------------------------------------------- one tensor


def pqi_grid_rows(
    w: torch.Tensor, mask: torch.Tensor | None, ps: Iterable[float], qs: Iterable[float]
) -> torch.Tensor:
    """PQI of every row (output neuron) of ``w`` for every (p, q): ``[P, Q, rows]``, float64."""
    ps, qs, exps = _exponents(ps, qs)
    return PowerSums.of_rows(w, mask, exps).index(ps, qs)


def pqi_grid(
    w: torch.Tensor, mask: torch.Tensor | None, ps: Iterable[float], qs: Iterable[float]
) -> torch.Tensor:
    """PQI of the unmasked entries of the whole tensor for every (p, q): ``[P, Q]``, float64."""
    ps, qs, exps = _exponents(ps, qs)
    return PowerSums.of_rows(w, mask, exps).merged().index(ps, qs)[:, :, 0]


def pqi(w: torch.Tensor, mask: torch.Tensor | None = None, p: float = 0.5, q: float = 1.0) -> float:
    """PQ Index of the unmasked entries of ``w``."""
    return float(pqi_grid(w, mask, [p], [q])[0, 0])


def pqi_rows(
    w: torch.Tensor, mask: torch.Tensor | None = None, p: float = 0.5, q: float = 1.0
) -> torch.Tensor:
    """PQ Index of every row (neuron) of ``w``: ``[rows]``."""
    return pqi_grid_rows(w, mask, [p], [q])[0, 0]


def _sorted(values: torch.Tensor) -> torch.Tensor:
    """Ascending sort; NumPy's vectorised sort is about 10x faster than torch's on the CPU."""
    if values.device.type == "cpu":
        return torch.from_numpy(np.sort(values.numpy(), kind="quicksort"))
    return torch.sort(values).values


def gini(w: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Gini index of ``|w|`` over the unmasked entries: ``sum_i (2i - n - 1) a_(i) / (n sum a)``, a ascending.

    0 when all magnitudes are equal (or none survive), ``1 - 1/n`` for a one-hot vector.
    """
    a = w.detach().reshape(-1).abs()
    if mask is not None:
        a = a[mask.reshape(-1).to(a.device)]
    n = a.numel()
    if n == 0:
        return 0.0
    a = _sorted(a.float()).double()
    total = a.sum()
    if total <= 0:
        return 0.0
    i = torch.arange(1, n + 1, dtype=torch.float64, device=a.device)
    return float(((2 * i - n - 1) * a).sum() / (n * total))


# --------------------------------------------------------------------------- scopes of a model


def _weights(masks: Masks, state: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    if state is None:
        return {n: masks.weight(n).detach() for n in masks}
    return {n: state[f"{n}.weight"].to(masks[n].device) for n in masks}


def layer_power_sums(
    masks: Masks,
    exps: list[float],
    state: dict[str, torch.Tensor] | None = None,
    dtype: torch.dtype = torch.float64,
) -> dict[str, PowerSums]:
    """Per-row power sums of every prunable layer: the one pass every scope is built from."""
    weights = _weights(masks, state)
    return {n: PowerSums.of_rows(weights[n], masks[n], exps, dtype) for n in masks}


def scope_grid(
    rows: dict[str, PowerSums], scope: str, ps: Sequence[float], qs: Sequence[float]
) -> torch.Tensor | dict[str, torch.Tensor]:
    """PQI per unit: global ``[P, Q]``; layer ``{name: [P, Q]}``; neuron ``{name: [P, Q, out]}``."""
    if scope == "neuron":
        return {n: s.index(ps, qs) for n, s in rows.items()}
    layers = {n: s.merged() for n, s in rows.items()}
    if scope == "layer":
        return {n: s.index(ps, qs)[:, :, 0] for n, s in layers.items()}
    if scope != "global":
        raise ValueError(f"unknown scope {scope!r}")
    return PowerSums.cat(list(layers.values())).merged().index(ps, qs)[:, :, 0]


def scope_pqi_grid(
    masks: Masks,
    scope: str,
    ps: Iterable[float] = (0.5,),
    qs: Iterable[float] = (1.0,),
    state: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor | dict[str, torch.Tensor]:
    """PQI grid per unit of ``scope`` (see :func:`scope_grid`) from the live weights, or from ``state``."""
    ps, qs, exps = _exponents(ps, qs)
    return scope_grid(layer_power_sums(masks, exps, state), scope, ps, qs)


def scope_pqi(
    masks: Masks, scope: str, p: float = 0.5, q: float = 1.0, state: dict[str, torch.Tensor] | None = None
) -> float | dict[str, float] | dict[str, torch.Tensor]:
    """PQI per unit of ``scope``, shaped like the counts of ``repro.pruning.scopes``: float (global),
    ``{name: float}`` (layer), ``{name: Tensor[out]}`` (neuron)."""
    grid = scope_pqi_grid(masks, scope, [p], [q], state)
    if isinstance(grid, torch.Tensor):
        return float(grid[0, 0])
    if scope == "layer":
        return {n: float(g[0, 0]) for n, g in grid.items()}
    return {n: g[0, 0] for n, g in grid.items()}


def global_gini(masks: Masks, state: dict[str, torch.Tensor] | None = None) -> float:
    """Gini index of the surviving prunable weights taken together."""
    weights = _weights(masks, state)
    survivors = torch.cat([weights[n][masks[n]].reshape(-1) for n in masks])
    return gini(survivors)


# --------------------------------------------------------------------------- records


def weight_report(
    masks: Masks,
    grid: bool = False,
    p: float = 0.5,
    q: float = 1.0,
    ps: Sequence[float] = P_GRID,
    qs: Sequence[float] = Q_GRID,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The PQI fields of a step's record, and (``grid=True``) the (p, q) heat-map arrays to write beside it.

    Fields: ``pqi``/``gini`` global over every prunable weight; ``pqi_neuron`` the mean over neurons with
    survivors; ``layer_pqi`` and ``layer_remaining`` per prunable layer. Arrays: the global and per-layer PQI
    over ``ps`` x ``qs``. Cost: one float32 powering pass over the weights per exponent (2 without the grid,
    20 with it) and one sort.
    """
    grid_ps, grid_qs = (list(ps), list(qs)) if grid else ([], [])
    all_ps = grid_ps + ([p] if p not in grid_ps else [])
    all_qs = grid_qs + ([q] if q not in grid_qs else [])
    all_ps, all_qs, exps = _exponents(all_ps, all_qs)
    rows = layer_power_sums(masks, exps, dtype=torch.float32)
    glob, layer, neuron = (scope_grid(rows, s, all_ps, all_qs) for s in ("global", "layer", "neuron"))
    assert isinstance(glob, torch.Tensor) and isinstance(layer, dict) and isinstance(neuron, dict)
    ip, iq = all_ps.index(p), all_qs.index(q)
    per_neuron = torch.cat([neuron[n][ip, iq].cpu() for n in masks])
    alive = torch.cat([rows[n].d.cpu() > 0 for n in masks])
    fields = {
        "pqi": float(glob[ip, iq]),
        "gini": global_gini(masks),
        "pqi_neuron": float(per_neuron[alive].mean()) if bool(alive.any()) else 0.0,
        "layer_pqi": {n: float(g[ip, iq]) for n, g in layer.items()},
        "layer_remaining": {n: float(masks[n].float().mean()) for n in masks},
    }
    if not grid:
        return fields, None
    n_p, n_q = len(grid_ps), len(grid_qs)
    arrays = {
        "p": grid_ps,
        "q": grid_qs,
        "global": glob[:n_p, :n_q].cpu().tolist(),
        "layer": {n: g[:n_p, :n_q].cpu().tolist() for n, g in layer.items()},
    }
    return fields, arrays


def pruned_pqi(masks: Masks, p: float = 0.5, q: float = 1.0) -> float:
    """Global PQI of the live weights under ``masks`` (the "pruned" model, before retraining)."""
    value = scope_pqi(masks, "global", p, q)
    assert isinstance(value, float)
    return value
