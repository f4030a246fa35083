"""Step hooks: what is measured after each step, each in its own module, found by discovery.

A hook is a class registered with ``@register("hook", name)``. Its ``from_config(cfg, pruner)`` returns an
instance when the config asks for it (or None), and the instance, called with a
:class:`~repro.loop.context.StepContext`, writes its artifacts through ``ctx.store`` and returns scalars for
the step's record. Hooks run in ascending ``order``, so a later one sees an earlier one's scalars in
``ctx.record``.
"""

from __future__ import annotations

from typing import Any, Protocol

from omegaconf import DictConfig

from repro.loop.context import StepContext
from repro.registry import get


class StepHook(Protocol):
    order: int

    def __call__(self, ctx: StepContext) -> dict[str, Any]: ...


def build_hooks(cfg: DictConfig, pruner: Any) -> list[StepHook]:
    """The hooks ``cfg`` asks for, in their order."""
    registry = get("hook")
    hooks = []
    for name in registry.names():
        hook = registry[name].from_config(cfg, pruner)
        if hook is not None:
            hooks.append(hook)
    return sorted(hooks, key=lambda h: h.order)
