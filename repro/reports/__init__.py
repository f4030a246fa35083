"""Paper reports: one package per paper (its tables, figures and claims), found by discovery.

A report is a function ``build(runs, out_dir) -> files`` registered with ``register("report", name)``
(:mod:`repro.registry`); it picks from the records the runs it reads and returns nothing when none are
there. Shared parts sit beside each other: :mod:`.runs` (the reader -> one frame), :mod:`.settings` (what
keys a row), :mod:`.stats`, :mod:`.tables` (the one table writer), :mod:`.figures` (the one figure writer),
:mod:`.claims` and :mod:`.reference` (paper values from ``results/<paper>/reference.csv``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from repro.registry import get


def names() -> list[str]:
    """Every report found in this package."""
    return get("report").names()


def build_reports(runs: object, out_dir: Path, chosen: Sequence[str] | None = None) -> list[Path]:
    """Build ``chosen`` reports (default: all; each decides from the records whether it applies) into
    ``out_dir/<report>``; an unknown name is an error that lists the known ones."""
    registry = get("report")
    files: list[Path] = []
    for name in chosen or registry.names():
        files += registry[name](runs, Path(out_dir) / name)
    return files
