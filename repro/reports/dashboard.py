"""What a paper's W&B dashboard shows, as data: panels over the keys the jobs log, per report package.

Each report package declares its dashboard in a ``dashboard`` module (``register("dashboard", name)``, the
name of its report), so a new paper brings its dashboard as it brings its tables. Nothing here knows W&B:
:mod:`repro.sharing.dashboards` turns a declaration into a report specification, adding the sweep's group
filter and the report run's tables and figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GROUP_BY = "method"  # the jobs' W&B config carries the record's method label (repro.loggers)


@dataclass(frozen=True)
class Panel:
    """A chart over the jobs' logged keys: ``line`` (``y`` against ``x``, one line per method, mean and
    spread over seeds) or ``bar`` (each key's final value per method)."""

    kind: str
    title: str
    y: tuple[str, ...]
    x: str = "step"

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "title": self.title, "y": list(self.y), "groupby": GROUP_BY}
        return out | ({"x": self.x} if self.kind == "line" else {})


def line(title: str, x: str, *y: str) -> Panel:
    return Panel("line", title, y, x)


def bar(title: str, *y: str) -> Panel:
    return Panel("bar", title, y)


@dataclass(frozen=True)
class Dashboard:
    """A paper's dashboard: its title, what it is for, and its panels over the jobs."""

    title: str
    description: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


# Shared by every paper that prunes to a trade-off.
ACCURACY = line("Test accuracy against remaining weights", "remaining", "test_acc")
