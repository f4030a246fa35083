"""Config as data: ranges and choices declared on schema fields, checked by one walker.

A schema field says what it accepts where it is declared::

    lr: float = option(0.1, gt=0)
    scope: str = option("global", choices=("global", "layer", "neuron"))
    names: list[str] = option(list, registry="probe", each=True)

:func:`check` walks a composed config (a dataclass instance, nested ones included) and raises a
:class:`~repro.errors.ConfigError` naming the full key, its value and what is allowed. ``None`` is always
accepted for an optional field. Rules that relate several fields or groups are a schema's ``rules(prefix,
root)`` method, called by the walker after the fields; they are the only hand-written checks.

Registries are looked up by name through :mod:`repro.registry`, so a schema never imports an implementation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

from repro.errors import ConfigError, bad_value, check_choice, check_range

_MISSING = dataclasses.MISSING


def option(
    default: Any = _MISSING,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Iterable[Any] | None = None,
    registry: str | None = None,
    each: bool = False,
    nonempty: bool = False,
    was: Any = _MISSING,
) -> Any:
    """A dataclass field with its allowed values; a callable ``default`` (``list``, a lambda) is a factory.

    ``each``: the rule applies to every element of a list value. ``registry``: the value (or each element)
    must name an entry of that registry (:func:`repro.registry.get`). ``was``: the default this field had
    before it changed; run identities keep comparing against it, so a finished run keeps its name and a run
    with the new default gets a new one (:mod:`repro.store.identity`).
    """
    meta = {
        "ge": ge,
        "gt": gt,
        "le": le,
        "lt": lt,
        "choices": tuple(choices) if choices is not None else None,
        "registry": registry,
        "each": each,
        "nonempty": nonempty,
    }
    meta = {k: v for k, v in meta.items() if v is not None and v is not False}  # keep ge=0
    if was is not _MISSING:
        meta["was"] = was
    if callable(default) and not isinstance(default, type(None)):
        return dataclasses.field(default_factory=default, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# group -> option name -> schema dataclass; filled by @schema in each package's schemas module
SCHEMAS: dict[str, dict[str, type]] = {}


def schema(group: str, name: str) -> Callable[[type], type]:
    """Register a dataclass as the schema ``schema/<group>/<name>`` that YAML options extend."""

    def deco(cls: type) -> type:
        SCHEMAS.setdefault(group, {})[name] = cls
        return cls

    return deco


def _check_value(key: str, value: Any, meta: dict[str, Any]) -> None:
    if isinstance(value, bool):
        if "choices" in meta:
            check_choice(key, value, meta["choices"])
        return
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise bad_value(key, value, "must be a finite number")
        low = meta.get("gt", meta.get("ge"))
        high = meta.get("lt", meta.get("le"))
        if low is not None or high is not None:
            check_range(key, value, low, high, low_open="gt" in meta, high_open="lt" in meta)
    if "choices" in meta:
        check_choice(key, value, meta["choices"])
    if "registry" in meta:
        from repro.registry import get

        check_choice(key, value, get(meta["registry"]).names())


def check(node: Any, prefix: str, root: Any = None) -> None:
    """Check every declared field of ``node`` (and of nested schemas), then its ``rules``."""
    if not dataclasses.is_dataclass(node):
        return
    root = node if root is None else root
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        key = f"{prefix}.{f.name}" if prefix else f.name
        if value is None:
            continue
        meta = dict(f.metadata)
        if dataclasses.is_dataclass(value):
            check(value, key, root)
            continue
        if meta.get("nonempty") and isinstance(value, list | tuple) and not value:
            raise bad_value(key, list(value), "must not be empty")
        if meta.get("each") and isinstance(value, list | tuple):
            for i, item in enumerate(value):
                _check_value(f"{key}[{i}]", item, meta)
        elif meta:
            _check_value(key, value, meta)
        elif isinstance(value, float) and not math.isfinite(value):
            raise bad_value(key, value, "must be a finite number")
    rules: Callable[..., None] | None = getattr(node, "rules", None)
    if rules is not None:
        rules(prefix, root)


def described(schema: type) -> dict[str, dict[str, Any]]:
    """The declared rules of every field of ``schema`` (for help texts and tests)."""
    return {f.name: dict(f.metadata) for f in dataclasses.fields(schema)}


__all__ = ["SCHEMAS", "ConfigError", "check", "described", "option", "schema"]
