"""A pruner composed of parts: a score, a count rule, a schedule, and which weights it scores.

Most methods are this class with other parts (each YAML names them; the schemas hold the defaults):

================  ==========  ======  ==========  ======  ======
method (YAML)     score       count   schedule    source  rewind
================  ==========  ======  ==========  ======  ======
one-shot          magnitude   target  oneshot     live    none
LT (lottery)      magnitude   rate    geometric   live    init
IMP (imp)         magnitude   rate    geometric   live    none
OS                magnitude   target  geometric   dense   init
SAP(p,q)          magnitude   pqi     (none)      live    init
gradual           magnitude   target  cubic       live    none
random            random      target  oneshot     live    none
random-iterative  random      rate    geometric   live    none
================  ==========  ======  ==========  ======  ======

EGP (``repro.pruning.egp``) adds its from-scratch step to this class; LOBSTER (``repro.pruning.lobster``)
prunes by its own threshold search. At an event the count rule says how many weights each scope unit loses,
the score which ones (:func:`~repro.pruning.update.prune_smallest`); the loop re-applies the masks.
"""

from __future__ import annotations

import inspect
from typing import Any

from repro.errors import bad_value
from repro.masks import Masks
from repro.pruning.base import PruneContext, Pruner, TrainHook, TrainState
from repro.pruning.counts import Count
from repro.pruning.schedules import Schedule
from repro.pruning.schemas import check_parts, part_keys
from repro.pruning.scores import Score
from repro.pruning.update import prune_smallest
from repro.registry import get

BASE_KEYS = tuple(p for p in inspect.signature(Pruner.__init__).parameters if p != "self")


def make(kind: str, name: str, values: dict[str, Any], used: set[str]) -> Any:
    """The part ``name`` of registry ``kind``, built from the config ``values`` its fields name."""
    cls = get(kind)[name]
    keys = part_keys(cls)
    used.update(keys)
    return cls(**{k: values[k] for k in keys})


class ComposedPruner(Pruner):
    """``score`` + ``count`` + ``schedule`` (registry names) + ``source`` (live or dense weights).

    The other keyword arguments are the parts' settings (``rate``, ``sparsity``, ``p``, ...) and the shared
    ones of :class:`~repro.pruning.base.Pruner`; a setting no part reads is an error.
    """

    def __init__(self, *, score: str, count: str, schedule: str | None, source: str, **values: Any) -> None:
        super().__init__(**{k: values.pop(k) for k in BASE_KEYS})
        self.parts = {"score": score, "count": count, "schedule": schedule}
        check_parts("pruner", self.parts, values)
        used: set[str] = set()
        self.score: Score = make("score", score, values, used)
        self.count: Count = make("count", count, values, used)
        self.schedule: Schedule | None = make("schedule", schedule, values, used) if schedule else None
        self.source = source
        for key in values.keys() - used:
            raise bad_value(f"pruner.{key}", values[key], f"no part reads it ({score}, {count}, {schedule})")
        self.events: list[tuple[int, float]] = []  # (iteration, sparsity) of pruning during training

    def needs(self) -> set[str]:
        return set(self.count.needs)

    def nominal_sparsity(self, step: int) -> float | None:
        return self.schedule.nominal(step) if self.schedule is not None else None

    def prune_to(self, masks: Masks, target: float | None, ctx: PruneContext) -> None:
        """One event: the count rule's counts of the score's lowest surviving weights go."""
        counts = self.count(masks, self.scope, target, ctx)
        prune_smallest(masks, self.score(masks, ctx), self.scope, counts)

    def prune(self, masks: Masks, ctx: PruneContext) -> None:
        """Before step ``ctx.step``'s training; a target rule prunes nothing where the schedule sets none."""
        if self.source == "dense":
            # As the SAP code does, the dense weights are loaded (normalisation running statistics too): the
            # step's "pruned" evaluation is the dense model under the new mask.
            if ctx.dense_state is None:
                raise RuntimeError("source=dense needs the step-0 dense weights (ctx.dense_state)")
            ctx.model.load_state_dict(ctx.dense_state)
        target = None
        if self.count.needs_target:
            assert self.schedule is not None
            target = self.schedule.target(ctx.step)
            if target is None:
                return
        self.prune_to(masks, target, ctx)

    def training_hook(self, masks: Masks, ctx: PruneContext) -> TrainHook | None:
        at = self.schedule.during(ctx.step) if self.schedule is not None else None
        if at is None:
            return None
        self.events = []

        def hook(state: TrainState) -> None:
            target = at(state)
            if target is not None:
                self.prune_to(state.masks, target, ctx)
                state.masks.apply()
                self.events.append((state.iteration, state.masks.sparsity()))

        return hook

    def derived_label(self) -> str:
        """The method's usual name, from its parts (a YAML's ``label`` overrides it)."""
        count, schedule, score = self.parts["count"], self.parts["schedule"], self.parts["score"]
        name = getattr(self.count, "label", None)  # a rule that defines a method: SAP(p,q), EGP
        if name is None:
            if schedule == "cubic":
                name = "gradual"
            elif self.source == "dense":
                name = "OS"
            elif count == "rate":
                name = "LT" if self.rewind == "init" else "IMP"
            elif (count, schedule) == ("target", "oneshot"):
                name = "one-shot"
            else:
                name = f"{count}/{schedule}"
        return name if score == "magnitude" else f"{name} ({score} scores)"
