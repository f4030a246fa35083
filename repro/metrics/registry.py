"""Registry of the activation metrics an ``entropy`` config can select.

Each metric is a *streaming* probe: it attaches forward hooks, accumulates counts per batch and never keeps
activations, so several metrics share one pass over the data (:func:`measure`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import torch
from torch import nn

from repro import registry
from repro.errors import check_choice


class Probe(Protocol):
    """A metric accumulating statistics over batches through forward hooks."""

    def attach(self, model: nn.Module) -> None: ...

    def update(self, labels: torch.Tensor) -> None:
        """Called after each forward with the batch's labels (hooks have already seen the activations)."""

    def detach(self) -> None: ...

    def result(self) -> dict[str, Any]:
        """Scalars (logged and recorded) under plain keys; arrays under keys starting with ``_``."""
        ...


ProbeFactory = Callable[..., Probe]


def register(name: str) -> Callable[[ProbeFactory], ProbeFactory]:
    """Register a probe factory under ``name`` (the name ``entropy.names`` selects it by)."""
    return registry.register("probe", name)


def available() -> list[str]:
    """Every registered probe (the modules of :mod:`repro.metrics` are imported first)."""
    return registry.get("probe").names()


@torch.no_grad()
def measure(
    names: Iterable[str], model: nn.Module, batches: Iterable, num_classes: int, **options: Any
) -> dict[str, dict[str, Any]]:
    """Run every named probe in one pass over ``batches`` (model in eval mode) and return their results."""
    names = list(names)
    if not names:
        return {}
    allowed = available()
    for i, name in enumerate(names):
        check_choice(f"entropy.names[{i}]", name, allowed)
    probes = {name: registry.get("probe")[name](num_classes=num_classes, **options) for name in names}
    was_training = model.training
    model.eval()
    for p in probes.values():
        p.attach(model)
    try:
        for x, y in batches:
            model(x)
            for p in probes.values():
                p.update(y)
    finally:
        for p in probes.values():
            p.detach()
        model.train(was_training)
    return {name: p.result() for name, p in probes.items()}
