"""Model factories by ``conf/model`` option name, filled as :mod:`repro.models` imports its modules.

A factory registers itself where it is defined (``@register_model("resnet18")``), so adding a model touches
only its module and its YAML; the option list and the check that each YAML has its factory follow from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

ModelFactory = Callable[..., nn.Module]
F = TypeVar("F", bound=Callable[..., Any])

MODEL_REGISTRY: dict[str, ModelFactory] = {}


def _qualname(factory: Callable[..., Any]) -> str:
    return f"{factory.__module__}.{factory.__qualname__}"


def register_model(name: str) -> Callable[[F], F]:
    """Register the decorated factory (a function or an ``nn.Module`` class) as option ``name``.

    A name claimed by two different factories is a programming error and raises at import time; the same
    factory registering again (a module reloaded) is accepted.
    """

    def deco(factory: F) -> F:
        known = MODEL_REGISTRY.get(name)
        if known is not None and _qualname(known) != _qualname(factory):
            raise ValueError(
                f"model {name!r} is registered twice: {_qualname(known)} and {_qualname(factory)}"
            )
        MODEL_REGISTRY[name] = factory
        return factory

    return deco
