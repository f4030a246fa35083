"""Errors a user can fix, raised with one line that names the config key, its value and what is allowed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class ConfigError(ValueError):
    """A config value is wrong; the message is meant to be printed alone, without a traceback."""


class DataMissingError(FileNotFoundError):
    """A data set is not on disk and may not be downloaded."""


def bad_value(key: str, value: Any, allowed: str) -> ConfigError:
    """Build the one standard message: ``key=value: allowed``."""
    return ConfigError(f"{key}={value!r} is invalid: {allowed}")


def check_choice(key: str, value: Any, choices: Iterable[Any]) -> None:
    choices = list(choices)
    if value not in choices:
        raise bad_value(key, value, "allowed: " + ", ".join(map(str, choices)))


def check_range(
    key: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Fail unless ``low <(=) value <(=) high``; open ends are exclusive."""
    ok = True
    if low is not None:
        ok &= value > low if low_open else value >= low
    if high is not None:
        ok &= value < high if high_open else value <= high
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise bad_value(key, value, f"must be in {left}{lo}, {hi}{right}")
