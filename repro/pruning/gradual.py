"""Gradual magnitude pruning on the cubic schedule of Zhu and Gupta (2017), inside one training run.

The dense model is trained at step 0 like every other pruner's (so one-shot and gradual share that dense
start); during step 1's training the sparsity follows

    s(t) = s_f + (s_i - s_f) * (1 - (t - t0) / (t1 - t0))^3,   t0 <= t <= t1,

re-pruned by magnitude every ``frequency`` optimizer steps, and equals ``s_f`` exactly at ``t1`` (the end of
``end_epoch``). Training after ``t1`` fine-tunes the final mask. Pruned weights never come back: the masks
only shrink and the loop re-applies them after every optimizer step.
"""

from __future__ import annotations

from repro.masks import Masks
from repro.pruning.base import PruneContext, Pruner, TrainHook, TrainState
from repro.pruning.magnitude import magnitude_scores
from repro.pruning.scopes import counts_for_target, prune_smallest


def cubic_sparsity(progress: float, initial: float, final: float) -> float:
    """Zhu & Gupta's sparsity at ``progress`` in [0, 1] of the pruning window (clamped outside it)."""
    progress = min(max(progress, 0.0), 1.0)
    return final + (initial - final) * (1.0 - progress) ** 3


class GradualPruner(Pruner):
    """Cubic-schedule magnitude pruning during the training of step ``prune_step`` (1 by default).

    ``start_epoch``/``end_epoch`` bound the pruning window in epochs of that step's training (``end_epoch``
    None: ``end_fraction`` of the step's iterations, rounded, so presets need not know ``trainer.epochs``).
    ``frequency``: optimizer steps between two pruning events; the window's last iteration always prunes, so
    the target is reached there exactly (to one weight per scope unit).
    """

    def __init__(
        self,
        *,
        sparsity: float = 0.9,
        initial_sparsity: float = 0.0,
        start_epoch: int = 0,
        end_epoch: int | None = None,
        end_fraction: float = 0.75,
        frequency: int = 100,
        prune_step: int = 1,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.sparsity = sparsity
        self.initial_sparsity = initial_sparsity
        self.start_epoch = start_epoch
        self.end_epoch = end_epoch
        self.end_fraction = end_fraction
        self.frequency = frequency
        self.prune_step = prune_step
        self.events: list[tuple[int, float]] = []  # (iteration, sparsity reached), for inspection and tests

    # ------------------------------------------------------------------ the schedule

    def window(self, iterations_per_epoch: int, total_iterations: int) -> tuple[int, int]:
        """First and last iteration (1-based counts of optimizer steps) of the pruning window."""
        t0 = self.start_epoch * iterations_per_epoch
        if self.end_epoch is not None:
            t1 = self.end_epoch * iterations_per_epoch
        else:
            t1 = max(t0 + 1, round(self.end_fraction * total_iterations))
        return t0, max(t1, t0 + 1)

    def target_at(self, iteration: int, t0: int, t1: int) -> float:
        return cubic_sparsity((iteration - t0) / (t1 - t0), self.initial_sparsity, self.sparsity)

    def is_event(self, iteration: int, t0: int, t1: int) -> bool:
        return t0 < iteration <= t1 and ((iteration - t0) % self.frequency == 0 or iteration == t1)

    def prune_to(self, masks: Masks, sparsity: float) -> None:
        counts = counts_for_target(masks, self.scope, sparsity)
        prune_smallest(masks, magnitude_scores(masks), self.scope, counts)
        masks.apply()

    # ------------------------------------------------------------------ the loop's interface

    def prune(self, masks: Masks, ctx: PruneContext) -> None:
        """Before the step's training: only the schedule's initial sparsity (0 by default) is applied."""
        if ctx.step == self.prune_step and self.initial_sparsity > 0:
            self.prune_to(masks, self.initial_sparsity)

    def training_hook(self, masks: Masks, ctx: PruneContext) -> TrainHook | None:
        if ctx.step != self.prune_step:
            return None  # dense training (step 0) stays hook-free, so its result is shared with one-shot
        self.events = []

        def hook(state: TrainState) -> None:
            t0, t1 = self.window(state.iterations_per_epoch, state.total_iterations)
            if t1 > state.total_iterations:
                from repro.errors import bad_value

                raise bad_value(
                    "pruner.end_epoch",
                    self.end_epoch,
                    f"the pruning window ends after iteration {t1}, the step trains {state.total_iterations}",
                )
            if self.is_event(state.iteration, t0, t1):
                self.prune_to(state.masks, self.target_at(state.iteration, t0, t1))
                self.events.append((state.iteration, state.masks.sparsity()))

        return hook

    def nominal_sparsity(self, step: int) -> float | None:
        return self.sparsity if step >= self.prune_step else 0.0
