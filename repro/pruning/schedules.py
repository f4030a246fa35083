"""Schedules: the sparsity a method aims at, per pruning step and, for gradual methods, per iteration.

One interface (:class:`Schedule`), as jaxpruner's ``sparsity_schedules.py`` puts one-shot, periodic and
polynomial schedules behind one: ``target(step)`` is the sparsity to prune to before a step's training (None:
no target, the count rule alone decides or nothing is pruned), ``nominal(step)`` the step's sparsity label,
and ``during(step)`` the per-iteration targets of a step's training (None: no pruning while training).
A registered schedule is a dataclass whose fields are config keys, read from the pruner's config by name.

One-shot is not a separate mechanism: it is the :class:`Cubic` ramp whose start equals its end.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from repro.errors import bad_value
from repro.pruning.base import TrainState
from repro.registry import register

# A step's per-iteration targets: the sparsity to prune to after this optimizer step, or None.
InTraining = Callable[[TrainState], float | None]


class Schedule:
    """Defaults: the label is the target, and nothing is pruned during training."""

    def target(self, step: int) -> float | None:
        raise NotImplementedError

    def nominal(self, step: int) -> float | None:
        return self.target(step)

    def during(self, step: int) -> InTraining | None:
        return None


def cubic_sparsity(progress: float, initial: float, final: float) -> float:
    """Zhu & Gupta's sparsity at ``progress`` in [0, 1] of the window (clamped outside it)."""
    progress = min(max(progress, 0.0), 1.0)
    return final + (initial - final) * (1.0 - progress) ** 3


@dataclass(frozen=True)
class Cubic(Schedule):
    """``initial`` up to ``start``, Zhu & Gupta's cubic ramp, ``final`` from ``end`` on; t: step or iteration.

    ``start == end`` is one-shot: ``final`` from ``end`` on (jaxpruner's polynomial schedule also jumps to its
    target when its end equals its start).
    """

    initial: float
    final: float
    start: int
    end: int

    def target(self, step: int) -> float:
        if self.end <= self.start:
            return self.final if step >= self.end else self.initial
        return cubic_sparsity((step - self.start) / (self.end - self.start), self.initial, self.final)


@register("schedule", "oneshot")
@dataclass(frozen=True)
class OneShot(Schedule):
    """``sparsity`` at step 1 and after (0 before): the cubic ramp with start = end = 1."""

    sparsity: float

    def target(self, step: int) -> float:
        return Cubic(0.0, self.sparsity, 1, 1).target(step)


@register("schedule", "geometric")
@dataclass(frozen=True)
class Geometric(Schedule):
    """``1 - (1 - rate)^step``: ``rate`` of the remaining weights per step (LT, IMP, OS, EGP)."""

    rate: float

    def target(self, step: int) -> float:
        return 1.0 - (1.0 - self.rate) ** step


@register("schedule", "cubic")
@dataclass(frozen=True)
class GradualCubic(Schedule):
    """Zhu & Gupta (2017) during step ``prune_step``'s training, re-pruning every ``frequency`` iterations.

    The window runs from the end of ``start_epoch`` to the end of ``end_epoch`` (None: ``end_fraction`` of the
    step's iterations, rounded, so presets need not know ``trainer.epochs``); its last iteration always
    prunes, so ``sparsity`` is reached there exactly (to one weight per unit). Before the step's training only
    ``initial_sparsity`` is applied; after the window the mask is fine-tuned. The step's label is
    ``sparsity``: seen step by step this is one-shot at ``prune_step``.
    """

    sparsity: float
    initial_sparsity: float
    start_epoch: int
    end_epoch: int | None
    end_fraction: float
    frequency: int
    prune_step: int

    def target(self, step: int) -> float | None:
        return self.initial_sparsity if step == self.prune_step and self.initial_sparsity > 0 else None

    def nominal(self, step: int) -> float:
        return Cubic(0.0, self.sparsity, self.prune_step, self.prune_step).target(step)

    def window(self, iterations_per_epoch: int, total_iterations: int) -> tuple[int, int]:
        """First and last iteration (1-based counts of optimizer steps) of the pruning window."""
        t0 = self.start_epoch * iterations_per_epoch
        if self.end_epoch is not None:
            t1 = self.end_epoch * iterations_per_epoch
        else:
            t1 = max(t0 + 1, round(self.end_fraction * total_iterations))
        return t0, max(t1, t0 + 1)

    def during(self, step: int) -> InTraining | None:
        if step != self.prune_step:
            return None  # dense training (step 0) stays hook-free, so its result is shared with one-shot

        def at(state: TrainState) -> float | None:
            t0, t1 = self.window(state.iterations_per_epoch, state.total_iterations)
            if t1 > state.total_iterations:
                raise bad_value(
                    "pruner.end_epoch",
                    self.end_epoch,
                    f"the pruning window ends after iteration {t1}, the step trains {state.total_iterations}",
                )
            it = state.iteration
            if t0 < it <= t1 and ((it - t0) % self.frequency == 0 or it == t1):
                return Cubic(self.initial_sparsity, self.sparsity, t0, t1).target(it)
            return None

        return at


class Plateau:
    """LOBSTER's schedule: prune when a loss has stayed at least ``delta`` (relative) above its best for
    ``patience`` checks in a row (the group's plateau test; a check within ``delta`` of the best resets
    the count); keeps the best weights seen since the last reset (LOBSTER restores them first)."""

    def __init__(self, patience: int, delta: float) -> None:
        self.patience = patience
        self.delta = delta
        self.reset()

    def reset(self) -> None:
        self.best = math.inf
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad = 0

    def step(self, loss: float, model: nn.Module) -> bool:
        if loss < self.best * (1.0 + self.delta):
            self.bad = 0
            if loss < self.best:
                self.best = loss
                self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.bad += 1
        return self.bad >= self.patience
