"""Registries filled by discovery: a decorator registers an entry, the package imports its own modules.

There is no hand-kept list anywhere: a new probe, score or report is one module with one decorator, and
``names()`` imports every module of the registry's package before answering, so an entry can never be
silently absent. Each kind names its package as a string, so this module imports no implementation.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# kind -> package whose modules register entries of that kind
PACKAGES: dict[str, str] = {
    "probe": "repro.metrics",
    "hook": "repro.loop.hooks",
    "measure": "repro.loop.hooks",
    "score": "repro.pruning",
    "count": "repro.pruning",
    "schedule": "repro.pruning",
    "model": "repro.models",
    "report": "repro.reports",
    "dashboard": "repro.reports",
}


def import_all(package: str) -> None:
    """Import every module below ``package`` (registration happens at import)."""
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        importlib.import_module(info.name)


class Registry:
    """Named entries of one kind."""

    def __init__(self, kind: str, package: str) -> None:
        self.kind = kind
        self.package = package
        self.entries: dict[str, Any] = {}
        self._discovered = False

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self.entries and self.entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self.entries[name] = obj
            return obj

        return deco

    def discover(self) -> None:
        if not self._discovered:
            self._discovered = True
            import_all(self.package)

    def names(self) -> list[str]:
        self.discover()
        return sorted(self.entries)

    def __getitem__(self, name: str) -> Any:
        self.discover()
        if name not in self.entries:
            from repro.errors import check_choice

            check_choice(self.kind, name, self.names())
        return self.entries[name]

    def __contains__(self, name: str) -> bool:
        self.discover()
        return name in self.entries


_REGISTRIES: dict[str, Registry] = {}


def get(kind: str) -> Registry:
    """The registry of ``kind`` (one of :data:`PACKAGES`)."""
    if kind not in _REGISTRIES:
        _REGISTRIES[kind] = Registry(kind, PACKAGES[kind])
    return _REGISTRIES[kind]


def register(kind: str, name: str) -> Callable[[T], T]:
    """Decorator: register the decorated object as ``name`` in the registry of ``kind``."""
    return get(kind).register(name)
