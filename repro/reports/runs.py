"""Runs -> one frame: every record of every run, its state, its method label and its resolved config.

Runs are read only through the store's reader, so a damaged run (config unreadable, records cut short)
becomes a row of the run list with state ``damaged`` and a reason instead of an exception. Only
``finished`` runs are ever averaged; the other states are shown next to the numbers they would have
joined (see :mod:`repro.reports.tables`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from repro.store import RunReader, find_runs, flatten
from repro.store.identity import dense_epochs

CONFIG = "config."  # prefix of the flattened config columns in the frame
FINISHED = "finished"


def method_of(record: dict[str, Any], config: dict[str, Any]) -> str:
    """The method label the loop wrote; runs made before labels existed fall back to the pruner's name."""
    for value in (record.get("method"), record.get("pruner"), config.get("pruner", {}).get("name")):
        if isinstance(value, str) and value:
            return value
    return "?"


def state_of(reader: RunReader, config: dict[str, Any], records: list[dict[str, Any]]) -> tuple[str, str]:
    """(state, reason): the status file's word, ``diverged`` when a record says so, ``damaged`` when the
    config is unreadable or the records stop before the step the status file says the run finished at."""
    if not config:
        return "damaged", "config missing or unreadable"
    status = reader.status()
    name = str(status.get("status", "unknown"))
    if not records:
        return ("damaged", "no readable records") if name == FINISHED else (name, "no step recorded yet")
    bad = [r for r in records if r.get("status", "ok") != "ok"]
    if bad:
        return "diverged", f"{bad[0].get('status')} at step {bad[0]['step']}"
    last = max(int(r["step"]) for r in records)
    expected = status.get("step")
    if name == FINISHED and isinstance(expected, int) and last < expected:
        return "damaged", f"records end at step {last}, the run finished at step {expected}"
    return name, ""


def _derive(row: dict[str, Any]) -> None:
    """Quantities every report wants in the same unit: error from accuracy, remaining from sparsity."""
    acc, sparsity = row.get("test_acc"), row.get("sparsity")
    if "test_error" not in row and isinstance(acc, int | float) and not isinstance(acc, bool):
        row["test_error"] = 1.0 - acc
    if "remaining" not in row and isinstance(sparsity, int | float) and not isinstance(sparsity, bool):
        row["remaining"] = 1.0 - sparsity


@dataclass
class Runs:
    """The records of a set of runs (``rows``: one per run and step) and the runs themselves (``runs``)."""

    rows: pd.DataFrame
    runs: pd.DataFrame
    readers: dict[str, RunReader] = field(default_factory=dict)
    cache: dict[tuple[str, str, int], Any] = field(default_factory=dict)  # artifacts read so far

    def subset(self, rows: pd.DataFrame) -> Runs:
        """The same runs restricted to ``rows`` (a filtered copy of ``self.rows``)."""
        names = set(rows["run"]) if "run" in rows else set()
        return Runs(rows, self.runs[self.runs["run"].isin(names)], self.readers, self.cache)

    def artifact(self, run: str, kind: str, step: int) -> Any:
        """A per-step artifact of a run (see ``repro.store.paths.STEP_ARTIFACTS``), or None; each file is
        read once per aggregation however many figures use it."""
        key = (run, kind, int(step))
        if key not in self.cache:
            self.cache[key] = self.readers[run].artifact(kind, int(step))
        return self.cache[key]


def load(readers: Iterable[RunReader]) -> Runs:
    """Read every run; never raises on a damaged one (it is listed with its reason and left out)."""
    rows: list[dict[str, Any]] = []
    listing: list[dict[str, Any]] = []
    by_name: dict[str, RunReader] = {}
    for reader in readers:
        real = reader.dir.resolve().name  # a sweep's job folders link to the run folders: use the run's name
        name = real if real not in by_name else f"{real}@{reader.dir.parent}"
        by_name[name] = reader
        try:
            config, records = reader.config(), reader.records()
            state, reason = state_of(reader, config, records)
        except Exception as exc:  # anything unreadable: list the run, keep going
            config, records, state, reason = {}, [], "damaged", f"{type(exc).__name__}: {exc}"
        flat = {f"{CONFIG}{k}": v for k, v in flatten(config).items()}
        method = method_of(records[0] if records else {}, config)
        steps = sorted(int(r["step"]) for r in records)
        listing.append(
            {
                "run": name,
                "method": method,
                "state": state,
                "steps": f"{steps[0]}..{steps[-1]}" if steps else "-",
                "reason": reason,
                "dir": str(reader.dir),
            }
        )
        if not config:
            continue  # without a config the run belongs to no setting
        for record in records:
            row = {k: v for k, v in record.items() if k not in ("run", "method")}
            row |= {"run": name, "state": state, "method": method_of(record, config)}
            row["seed"] = config.get("seed", record.get("seed"))
            row["dense_epochs"] = dense_epochs(config)
            _derive(row)
            rows.append(row | flat)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["run", "state", "method", "step", "seed"])
    return Runs(
        frame, pd.DataFrame(listing, columns=["run", "method", "state", "steps", "reason", "dir"]), by_name
    )


def load_dir(root: Path) -> Runs:
    """Every run below ``root`` (run folders, or a sweep folder whose job folders link to them)."""
    return load(find_runs(Path(root)))


# --------------------------------------------------------------------------- looking up a field


def column(frame: pd.DataFrame, key: str, under: str = "") -> str | None:
    """The frame column for ``key``: a record field, a dotted config key, or the one config key that ends
    with ``.key`` (optionally below ``under``, e.g. ``pruner``), so reports survive config regrouping."""
    if key in frame.columns:
        return key
    if f"{CONFIG}{key}" in frame.columns:
        return f"{CONFIG}{key}"
    if "." in key and not under:  # "pruner.sparsity" also finds "pruner.schedule.sparsity"
        under, key = key.split(".", 1)
    prefix = f"{CONFIG}{under}." if under else CONFIG
    hits = [c for c in frame.columns if c.startswith(prefix) and c.endswith(f".{key}")]
    return hits[0] if len(hits) == 1 else None


def values(frame: pd.DataFrame, key: str, under: str = "") -> pd.Series | None:
    name = column(frame, key, under)
    return frame[name] if name is not None else None


def normal(value: Any) -> str:
    """A value as comparable text: numbers by value (``30`` == ``30.0``), labels without case and
    punctuation (``one-shot`` == ``oneshot``), missing values as empty text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return re.sub(r"[^0-9a-z.,=]", "", str(value).casefold())
    return f"{number:.10g}" if math.isfinite(number) else str(number)


def same(a: Any, b: Any) -> bool:
    return normal(a) == normal(b)
