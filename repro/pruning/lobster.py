"""LOBSTER (Tartaglione et al.): sensitivity-driven shrinkage plus magnitude thresholding at loss plateaus.

After every optimizer step each weight w of a prunable layer (and its bias, as the group's code does) moves
by ``w <- w - lmbda * w * ReLU(1 - |dL/dw|)``: weights the loss is insensitive to decay towards zero. At
every check (each epoch, or every ``check_every`` optimizer steps) the validation loss feeds a plateau
detector (a plateau: ``patience`` checks in a row whose loss is at least ``(1 + plateau_delta)`` times the
best since the last pruning); at a plateau the weights go back to that best checkpoint (``restore_best``)
and the largest global magnitude threshold T whose validation loss stays within ``(1 + tolerance)`` times
the current one is found by bisection and applied (weights with |w| < T are pruned for good).

As in the group's code (EIDOSLAB/LOBSTER, ``src/config.py`` LAYERS, ``src/utilities/pruning/``):
- the bisection returns the midpoint of its last bracket (``midpoint: true``), or its lower end when the
  bracket stops moving; ``midpoint: false`` always applies the lower end, the largest threshold whose loss
  was verified within the tolerance (it may stop at the smallest weight and prune nothing);
- BatchNorm weights and biases are shrunk and thresholded like the weights (``batchnorm: true``; their
  weights count in the search's bracket) and stay zero once thresholded; they do not count in the sparsity.

Choices that differ from the group's code, all documented options:
- the original prunes without a target; here the threshold is capped so the sparsity never exceeds
  ``sparsity``; ``force_at`` (null by default: never) prunes whatever the target still lacks after that
  fraction of the step's iterations by magnitude, so one-shot, gradual and LOBSTER end at the same sparsity
  when the step is too short for the plateaus to get there;
- conv/linear biases are shrunk but never thresholded (masks cover weights only);
- ``shrink_after_target: false`` stops the shrinkage once the target is reached, so the rest of the step
  fine-tunes as one-shot's and gradual's do (the group's code, having no target, shrinks to the end).

Parts shared with the composed methods: the plateau schedule (:class:`~repro.pruning.schedules.Plateau`),
the target count rule (the cap and the forced rest), the magnitude score and the mask update.
"""

from __future__ import annotations

import math
from fnmatch import fnmatch

import torch
import torch.nn.functional as F
from torch import nn

from repro.errors import bad_value
from repro.masks import Masks
from repro.pruning.base import PruneContext, Pruner, TrainHook, TrainState
from repro.pruning.counts import counts_for_target
from repro.pruning.schedules import Cubic, Plateau
from repro.pruning.scores import magnitude_scores
from repro.pruning.update import prune_smallest


@torch.no_grad()
def sensitivity_step(modules: dict[str, nn.Module], lmbda: float, bias: bool = True) -> None:
    """``p <- p - lmbda * p * ReLU(1 - |grad|)`` for each weight (and bias) that has a gradient."""
    for module in modules.values():
        params = [module.weight] + (
            [module.bias] if bias and getattr(module, "bias", None) is not None else []
        )
        for p in params:
            if p.grad is not None:
                p.sub_(lmbda * p * torch.relu(1.0 - p.grad.abs()))


def norm_modules(model: nn.Module, exclude: tuple[str, ...] = ()) -> dict[str, nn.Module]:
    """BatchNorm modules with affine parameters, by name, outside the ``exclude`` patterns."""
    return {
        name: m
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        and m.affine
        and not any(fnmatch(name, pattern) for pattern in exclude)
    }


class LobsterPruner(Pruner):
    """LOBSTER during step ``prune_step``'s training (1: from the shared dense start); see the module doc."""

    def __init__(
        self,
        *,
        sparsity: float,
        lmbda: float,
        tolerance: float,
        patience: int,
        check_every: int,
        plateau_delta: float,
        bisection_delta: float,
        midpoint: bool,
        batchnorm: bool,
        shrink_after_target: bool,
        regularize_bias: bool,
        restore_best: bool,
        force_at: float | None,
        val_batch_size: int,
        prune_step: int,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.sparsity = sparsity
        self.lmbda = lmbda
        self.tolerance = tolerance
        self.patience = patience
        self.check_every = check_every
        self.plateau_delta = plateau_delta
        self.bisection_delta = bisection_delta
        self.midpoint = midpoint
        self.batchnorm = batchnorm
        self.shrink_after_target = shrink_after_target
        self.regularize_bias = regularize_bias
        self.restore_best = restore_best
        self.force_at = force_at
        self.val_batch_size = val_batch_size
        self.prune_step = prune_step
        self.events: list[dict[str, float]] = []
        self.last_search: dict[str, float] = {}
        # BatchNorm modules LOBSTER shrinks and thresholds (batchnorm: true) and their keep-masks by
        # parameter name ("bn1.weight"): filled by track_norm.
        self.norm: dict[str, nn.Module] = {}
        self.norm_params: dict[str, torch.Tensor] = {}
        self.norm_keep: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ BatchNorm parameters

    def track_norm(self, model: nn.Module) -> None:
        """Start tracking ``model``'s BatchNorm parameters (none unless ``batchnorm``); all survive."""
        self.norm = norm_modules(model, self.exclude) if self.batchnorm else {}
        pairs = [(n, m, k) for n, m in self.norm.items() for k in ("weight", "bias")]
        self.norm_params = {f"{n}.{k}": getattr(m, k) for n, m, k in pairs}
        self.norm_keep = {k: torch.ones_like(p, dtype=torch.bool) for k, p in self.norm_params.items()}

    @torch.no_grad()
    def apply_norm(self) -> None:
        for key, p in self.norm_params.items():
            p.mul_(self.norm_keep[key])

    def norm_sparsity(self) -> float:
        total = sum(k.numel() for k in self.norm_keep.values())
        return 1.0 - sum(int(k.sum()) for k in self.norm_keep.values()) / total if total else 0.0

    # ------------------------------------------------------------------ validation loss

    @torch.no_grad()
    def val_loss(self, model: nn.Module, data) -> float:
        was_training = model.training
        model.eval()
        total, n = 0.0, 0
        for x, y in data.loader("val", self.val_batch_size, train=False):
            total += float(F.cross_entropy(model(x).float(), y, reduction="sum"))
            n += y.numel()
        model.train(was_training)
        return total / max(n, 1)

    @torch.no_grad()
    def loss_below(self, model: nn.Module, masks: Masks, data, threshold: float) -> float:
        """Validation loss with every weight (and tracked BatchNorm parameter) of magnitude < ``threshold``
        zeroed; the model is restored."""
        params = [masks.weight(n) for n in masks] + list(self.norm_params.values())
        saved = [p.detach().clone() for p in params]
        for p in params:
            p.masked_fill_(p.abs() < threshold, 0.0)
        try:
            return self.val_loss(model, data)
        finally:
            for p, s in zip(params, saved):
                p.copy_(s)

    # ------------------------------------------------------------------ the threshold search

    def _surviving_abs(self, masks: Masks, norm: bool = True) -> list[torch.Tensor]:
        """|w| of the surviving weights per layer, and of the BatchNorm weights (as the group's bracket)."""
        out = [masks.weight(n).detach().abs()[masks[n]] for n in masks if masks[n].any()]
        if norm:
            keys = [k for k in self.norm_keep if k.endswith(".weight") and self.norm_keep[k].any()]
            out += [self.norm_params[k].detach().abs()[self.norm_keep[k]] for k in keys]
        return out

    def find_threshold(self, model: nn.Module, masks: Masks, data) -> float:
        """Largest global magnitude threshold whose validation loss stays within the tolerance (bisection).

        ``self.last_search`` keeps the base loss, the bound and the loss at the bracket's lower end.
        """
        alive = self._surviving_abs(masks)
        base = self.val_loss(model, data)
        bound = base * (1.0 + self.tolerance)
        mean_t = float(torch.stack([a.mean() for a in alive]).mean())
        loss_mean = self.loss_below(model, masks, data, mean_t)
        if loss_mean < bound:
            a, loss_a, b, loss_b = mean_t, loss_mean, max(float(x.max()) for x in alive), math.inf
        else:
            a, loss_a, b, loss_b = min(float(x.min()) for x in alive), base, mean_t, loss_mean
        previous, stalled = math.inf, False
        while not abs(loss_a - loss_b) < bound * self.bisection_delta:
            center = (a + b) / 2
            if abs(previous - center) <= 1e-10:
                stalled = True  # the group's code returns the lower end here
                break
            previous = center
            loss_c = self.loss_below(model, masks, data, center)
            if loss_c <= bound:
                a, loss_a = center, loss_c
            else:
                b, loss_b = center, loss_c
        self.last_search = {"base_loss": base, "bound": bound, "loss_lower": loss_a}
        return (a + b) / 2 if self.midpoint and not stalled else a

    @torch.no_grad()
    def apply_threshold(self, masks: Masks, threshold: float) -> None:
        """Prune surviving weights with |w| < threshold, never beyond the target sparsity; tracked BatchNorm
        parameters below the threshold actually applied (lower where the cap bit) are zeroed for good."""
        below = sum(int((masks.weight(n).abs()[masks[n]] < threshold).sum()) for n in masks)
        count = min(below, counts_for_target(masks, "global", self.sparsity))
        prune_smallest(masks, magnitude_scores(masks), "global", count)
        masks.apply()
        if self.norm_keep:
            cut = min([threshold] + [float(a.min()) for a in self._surviving_abs(masks, norm=False)])
            for key, p in self.norm_params.items():
                self.norm_keep[key] &= p.abs() >= cut
            self.apply_norm()

    # ------------------------------------------------------------------ the loop's interface

    def prune(self, masks: Masks, ctx: PruneContext) -> None:
        """Nothing before training: LOBSTER prunes while it trains."""

    def reached(self, masks: Masks) -> bool:
        return counts_for_target(masks, "global", self.sparsity) == 0

    def force(self, state: TrainState) -> None:
        """Prune what the target still lacks by magnitude (``force_at``)."""
        reached = state.masks.sparsity()
        counts = counts_for_target(state.masks, self.scope, self.sparsity)
        prune_smallest(state.masks, magnitude_scores(state.masks), self.scope, counts)
        state.masks.apply()
        self.events.append({"iteration": state.iteration, "sparsity": state.masks.sparsity(), "forced": 1.0})
        print(
            f"[repro] lobster: thresholding reached sparsity {reached:.4f} by iteration "
            f"{state.iteration}; the rest up to {self.sparsity} pruned there by magnitude",
            flush=True,
        )

    def threshold(self, state: TrainState, data) -> None:
        """One plateau event: search the threshold, apply it, record and log it."""
        threshold = self.find_threshold(state.model, state.masks, data)
        self.apply_threshold(state.masks, threshold)
        event = {"iteration": state.iteration, "sparsity": state.masks.sparsity(), "threshold": threshold}
        event.update(self.last_search, loss=self.val_loss(state.model, data))
        if self.norm_keep:
            event["norm_sparsity"] = self.norm_sparsity()
        self.events.append(event)
        print(
            f"[repro] lobster: iteration {state.iteration}: threshold {threshold:.3g}, sparsity "
            f"{event['sparsity']:.4f}, val loss {event['base_loss']:.4f} -> {event['loss']:.4f}",
            flush=True,
        )

    def training_hook(self, masks: Masks, ctx: PruneContext) -> TrainHook | None:
        if ctx.step != self.prune_step:
            return None
        data = ctx.data
        if data is None or getattr(data, "val", None) is None:
            raise bad_value("dataset.val_size", 0, "pruner=lobster needs a validation split (val_size > 0)")
        self.events = []
        self.track_norm(ctx.model)
        plateau = Plateau(self.patience, self.plateau_delta)

        def hook(state: TrainState) -> None:
            reached = self.reached(state.masks)
            if self.shrink_after_target or not reached:
                sensitivity_step(state.masks.modules, self.lmbda, self.regularize_bias)
                state.masks.apply()
                if self.norm:
                    sensitivity_step(self.norm, self.lmbda)
                    self.apply_norm()
            if reached:
                return
            every = self.check_every or max(state.iterations_per_epoch, 1)
            if self.force_at is not None and state.iteration == max(
                1, round(self.force_at * state.total_iterations)
            ):
                self.force(state)
                return
            if state.iteration % every:
                return
            if not plateau.step(self.val_loss(state.model, data), state.model):
                return
            if self.restore_best and plateau.best_state is not None:
                state.model.load_state_dict(plateau.best_state)
            plateau.reset()
            self.threshold(state, data)

        return hook

    def nominal_sparsity(self, step: int) -> float | None:
        """Seen step by step, LOBSTER is one-shot at ``prune_step``."""
        return Cubic(0.0, self.sparsity, self.prune_step, self.prune_step).target(step)

    def derived_label(self) -> str:
        return "LOBSTER"
