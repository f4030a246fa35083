"""Sharpness of a (pruned) solution, measured in the subspace of its surviving weights.

Every perturbation is zero on pruned entries, so a sparse network is compared with the neighbours it could
actually reach. With ``params="weights"`` only the surviving entries of the prunable (conv/linear) weights
move, as Li et al. (2018) leave biases and normalisation out; ``params="all"`` also moves every other
parameter. All losses are the mean cross-entropy over a fixed list of batches (the cost bound), model in
eval mode, and the weights are restored afterwards.

- :func:`filter_normalized_direction`: Li et al.'s random direction, each filter (output row) rescaled to
  the norm of the same filter of the weights.
- :func:`loss_curve` / :func:`loss_surface`: loss along one or two such directions.
- :func:`top_hessian_eigenvalue`: power iteration on Hessian-vector products (double backward) of the
  Hessian restricted to the surviving weights.
- :func:`epsilon_sharpness`: Keskar et al. (2017): the largest loss increase within the box
  |dw_i| <= eps (|w_i| + 1), found by projected sign-gradient ascent, as 100 (L_max - L) / (1 + L).
- :func:`interpolate`: loss along (1 - t) theta_a + t theta_b between two solutions (every float tensor of
  the state, normalisation statistics included).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from repro.masks import Masks

Batches = Sequence[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class Free:
    """One parameter that may move, and where (``keep`` None: every entry)."""

    name: str
    param: nn.Parameter
    keep: torch.Tensor | None


def free_parameters(model: nn.Module, masks: Masks, params: str = "weights") -> list[Free]:
    """The prunable weights (masked), plus every other trainable parameter when ``params == "all"``."""
    by_param = {id(masks.weight(n)): n for n in masks}
    out = []
    for name, p in model.named_parameters():
        if id(p) in by_param:
            out.append(Free(name, p, masks[by_param[id(p)]]))
        elif params == "all" and p.requires_grad:
            out.append(Free(name, p, None))
    return out


def _mask(t: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    return t if keep is None else t * keep


def filter_normalized_direction(free: Sequence[Free], generator: torch.Generator) -> list[torch.Tensor]:
    """A Gaussian direction, zero on pruned entries, each filter scaled to its weight filter's norm.

    Filters are the rows of a weight viewed as [out, -1] (a conv filter, a linear neuron's fan-in). A
    one-dimensional parameter (bias, normalisation) gets the parameter itself, as Li et al. do when they
    include them.
    """
    dirs = []
    for f in free:
        w = f.param.detach()
        if w.dim() <= 1:
            dirs.append(w.clone())
            continue
        d = torch.randn(w.shape, generator=generator, dtype=w.dtype).to(w.device)
        d = _mask(d, f.keep)
        rows, wrows = d.reshape(d.shape[0], -1), w.reshape(w.shape[0], -1)
        scale = wrows.norm(dim=1, keepdim=True) / rows.norm(dim=1, keepdim=True).clamp(min=1e-12)
        dirs.append((rows * scale).reshape_as(w))
    return dirs


@torch.no_grad()
def evaluate_loss(model: nn.Module, batches: Batches) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over ``batches`` (eval mode)."""
    was = model.training
    model.eval()
    total, correct, n = 0.0, 0, 0
    for x, y in batches:
        out = model(x).float()
        total += float(F.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
        n += y.numel()
    model.train(was)
    return total / max(n, 1), correct / max(n, 1)


class Perturbed:
    """Context that remembers the free parameters and puts them back on exit."""

    def __init__(self, free: Sequence[Free]) -> None:
        self.free = free
        self.base = [f.param.detach().clone() for f in free]

    def __enter__(self) -> Perturbed:
        return self

    @torch.no_grad()
    def set(self, dirs: Sequence[Sequence[torch.Tensor]], coeffs: Sequence[float]) -> None:
        for i, f in enumerate(self.free):
            value = self.base[i].clone()
            for d, c in zip(dirs, coeffs):
                value.add_(d[i], alpha=c)
            f.param.copy_(_mask(value, f.keep))

    @torch.no_grad()
    def __exit__(self, *exc: object) -> None:
        for f, b in zip(self.free, self.base):
            f.param.copy_(b)


def loss_curve(
    model: nn.Module,
    free: Sequence[Free],
    batches: Batches,
    direction: list[torch.Tensor],
    alphas: Iterable[float],
) -> dict[str, list[float]]:
    """Loss and accuracy at theta + alpha d for each alpha."""
    out: dict[str, list[float]] = {"alpha": [], "loss": [], "acc": []}
    with Perturbed(free) as pert:
        for a in alphas:
            pert.set([direction], [a])
            loss, acc = evaluate_loss(model, batches)
            out["alpha"].append(float(a))
            out["loss"].append(loss)
            out["acc"].append(acc)
    return out


def loss_surface(
    model: nn.Module,
    free: Sequence[Free],
    batches: Batches,
    d1: list[torch.Tensor],
    d2: list[torch.Tensor],
    alphas: Sequence[float],
    betas: Sequence[float],
) -> dict[str, list]:
    """Loss on the grid theta + alpha d1 + beta d2: ``loss[i][j]`` at (alphas[i], betas[j])."""
    grid = []
    with Perturbed(free) as pert:
        for a in alphas:
            row = []
            for b in betas:
                pert.set([d1, d2], [a, b])
                row.append(evaluate_loss(model, batches)[0])
            grid.append(row)
    return {"alpha": [float(a) for a in alphas], "beta": [float(b) for b in betas], "loss": grid}


# --------------------------------------------------------------------------- Hessian


LossTerms = Callable[[], Iterable[tuple[torch.Tensor, float]]]


def batch_loss_terms(model: nn.Module, batches: Batches) -> LossTerms:
    """Per-batch mean losses with their weight in the mean over all samples (for HVPs and gradients)."""
    n = sum(int(y.numel()) for _, y in batches)

    def terms() -> Iterable[tuple[torch.Tensor, float]]:
        for x, y in batches:
            yield F.cross_entropy(model(x).float(), y), y.numel() / n

    return terms


def hessian_vector_product(
    terms: LossTerms, params: Sequence[torch.Tensor], vector: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    """H v of the weighted sum of ``terms()`` by double backward."""
    out = [torch.zeros_like(p) for p in params]
    for loss, weight in terms():
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        dot = sum((g * v).sum() for g, v in zip(grads, vector) if g is not None)
        if not torch.is_tensor(dot) or not dot.requires_grad:
            continue
        hv = torch.autograd.grad(dot, params, allow_unused=True)
        for o, h in zip(out, hv):
            if h is not None:
                o.add_(h.detach(), alpha=weight)
    return out


def top_hessian_eigenvalue(
    terms: LossTerms,
    params: Sequence[torch.Tensor],
    keeps: Sequence[torch.Tensor | None],
    iters: int = 20,
    tol: float = 1e-3,
    generator: torch.Generator | None = None,
) -> tuple[float, int]:
    """Largest-magnitude eigenvalue of P H P (P: the surviving entries) by power iteration.

    Stops when two successive Rayleigh quotients differ by less than ``tol`` relative; returns the value and
    the number of Hessian-vector products used.
    """
    v = [_mask(torch.randn(p.shape, generator=generator).to(p), k) for p, k in zip(params, keeps)]
    norm = math.sqrt(sum(float((x * x).sum()) for x in v)) or 1.0
    v = [x / norm for x in v]
    eig = float("nan")
    for i in range(1, iters + 1):
        hv = [_mask(h, k) for h, k in zip(hessian_vector_product(terms, params, v), keeps)]
        new = sum(float((h * x).sum()) for h, x in zip(hv, v))
        norm = math.sqrt(sum(float((h * h).sum()) for h in hv))
        if norm == 0.0:
            return 0.0, i
        v = [h / norm for h in hv]
        if math.isfinite(eig) and abs(new - eig) <= tol * max(abs(eig), 1e-12):
            return new, i
        eig = new
    return eig, iters


# --------------------------------------------------------------------------- epsilon-sharpness


def epsilon_sharpness(
    model: nn.Module, free: Sequence[Free], batches: Batches, epsilon: float = 1e-3, steps: int = 10
) -> dict[str, float]:
    """Keskar et al.'s sharpness in the box |dw_i| <= epsilon (|w_i| + 1) of the surviving weights.

    Projected sign-gradient ascent from the centre, ``steps`` steps of 2 box / steps; the largest loss seen
    counts. Returns ``sharpness`` (100 (L_max - L) / (1 + L)), ``increase`` (L_max - L) and ``loss`` (L).
    """
    params = [f.param for f in free]
    base_loss = evaluate_loss(model, batches)[0]
    best = base_loss
    terms = batch_loss_terms(model, batches)
    was = model.training
    model.eval()
    with Perturbed(free) as pert:
        box = [_mask(epsilon * (b.abs() + 1.0), f.keep) for b, f in zip(pert.base, free)]
        offset = [torch.zeros_like(b) for b in pert.base]
        for _ in range(steps):
            grads = [torch.zeros_like(p) for p in params]
            for loss, weight in terms():
                for g, gi in zip(grads, torch.autograd.grad(loss, params, allow_unused=True)):
                    if gi is not None:
                        g.add_(gi, alpha=weight)
            with torch.no_grad():
                for o, g, b in zip(offset, grads, box):
                    o.add_(g.sign() * b * (2.0 / steps))
                    o.copy_(torch.maximum(torch.minimum(o, b), -b))
            pert.set([offset], [1.0])
            best = max(best, evaluate_loss(model, batches)[0])
    model.train(was)
    increase = best - base_loss
    return {"sharpness": 100.0 * increase / (1.0 + base_loss), "increase": increase, "loss": base_loss}


# --------------------------------------------------------------------------- interpolation


@torch.no_grad()
def interpolate(
    model: nn.Module,
    state_a: dict[str, torch.Tensor],
    state_b: dict[str, torch.Tensor],
    batches: Batches,
    ts: Iterable[float],
) -> dict[str, list[float]]:
    """Loss and accuracy at (1 - t) a + t b; integer buffers come from ``a``. The model is restored."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out: dict[str, list[float]] = {"t": [], "loss": [], "acc": []}
    try:
        for t in ts:
            mixed = {
                k: (1.0 - t) * a.float() + t * state_b[k].to(a.device).float() if a.is_floating_point() else a
                for k, a in state_a.items()
            }
            model.load_state_dict({k: v.to(saved[k].device, saved[k].dtype) for k, v in mixed.items()})
            loss, acc = evaluate_loss(model, batches)
            out["t"].append(float(t))
            out["loss"].append(loss)
            out["acc"].append(acc)
    finally:
        model.load_state_dict(saved)
    return out


def barrier(curve: dict[str, list[float]]) -> float:
    """Height of the loss barrier on the segment: max over t in [0, 1] of L(t) minus the endpoints' line."""
    ts, losses = curve["t"], curve["loss"]
    inside = [(t, loss) for t, loss in zip(ts, losses) if 0.0 <= t <= 1.0]
    if len(inside) < 2:
        return float("nan")
    (t0, l0), (t1, l1) = inside[0], inside[-1]
    return max(loss - (l0 + (t - t0) / (t1 - t0) * (l1 - l0)) for t, loss in inside)
