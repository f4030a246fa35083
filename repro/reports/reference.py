"""Paper values as data: ``results/<paper>/reference.csv``, read by the reports and shown beside ours.

Columns: ``setting`` (``key=value`` pairs joined by ``;``; keys are record fields such as ``model``,
``dataset``, ``method``, ``step``, ``scope``, or config keys such as ``pruner.sparsity``), ``metric`` (a
record field, e.g. ``test_acc``), ``value``, ``unit`` (``%`` means the fraction times 100), ``source`` (the
paper's section or figure, or the official code's file) and an optional ``note``. A setting matches a
group of rows when every one of its pairs holds for every row; without a ``step`` it is compared with the
last step of each run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from repro.reports.runs import FINISHED, same, values
from repro.reports.settings import groups, label, per_seed, setting_keys, varies
from repro.reports.stats import fill
from repro.store import warn

RESULTS = Path(__file__).resolve().parents[2] / "results"


@dataclass(frozen=True)
class Reference:
    setting: tuple[tuple[str, str], ...]
    metric: str
    value: float
    unit: str
    source: str
    note: str = ""

    @property
    def setting_text(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.setting)


def parse_setting(text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for part in str(text).split(";"):
        if part.strip():
            key, _, value = part.partition("=")
            pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def load(paper: str, root: Path | None = None) -> list[Reference]:
    """The reference values of ``paper`` (empty when its file is missing, e.g. in an installed package)."""
    path = (root or RESULTS) / paper / "reference.csv"
    if not path.exists():
        return []
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        return [
            Reference(
                setting=parse_setting(r["setting"]),
                metric=r["metric"].strip(),
                value=float(r["value"]),
                unit=r["unit"].strip(),
                source=r["source"].strip(),
                note=r.get("note", "").strip(),
            )
            for _, r in frame.iterrows()
        ]
    except (KeyError, ValueError) as exc:
        warn(f"{path}: unreadable reference values ({exc}); tables show none")
        return []


def holds(ref: Reference, rows: pd.DataFrame) -> bool:
    """Every ``key=value`` of the reference's setting holds for every row (and there is a row)."""
    if rows.empty:
        return False
    for key, want in ref.setting:
        series = values(rows, key)
        if series is None or not all(same(v, want) for v in series):
            return False
    return True


def matching(refs: Iterable[Reference], rows: pd.DataFrame, column: Any) -> list[Reference]:
    """The references for ``column`` (a ``tables.Column``) whose setting holds for ``rows``."""
    return [r for r in refs if r.metric == column.key and r.unit == column.unit and holds(r, rows)]


def _final(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.loc[rows.groupby("run")["step"].idxmax()] if len(rows) else rows


def _compare(ref: Reference, sel: pd.DataFrame, setting: str, scales: dict) -> dict[str, Any]:
    row: dict[str, Any] = {"setting": setting, "metric": ref.metric, "unit": ref.unit, "paper": ref.value}
    scale = scales.get((ref.metric, ref.unit), 100.0 if ref.unit == "%" else 1.0)
    numbers = values(sel, ref.metric)
    if sel.empty:
        status = "not run"
    elif numbers is None or pd.to_numeric(numbers, errors="coerce").dropna().empty:
        status = "not measured"
    else:
        status = ""
    numbers = per_seed(sel, ref.metric, scale) if not status else pd.Series(dtype=float)
    mean = fill(row, "ours", numbers)
    row["n"] = len(numbers)
    row["ours-paper"] = mean - ref.value if not math.isnan(mean) else math.nan
    row["status"] = status
    row["source"] = ref.source + (f" ({ref.note})" if ref.note else "")
    return row


def reference_table(refs: Sequence[Reference], rows: pd.DataFrame, columns: Sequence[Any]) -> pd.DataFrame:
    """Every paper value of a report beside ours (finished runs matching its setting), with the difference;
    ``not run`` where no run matches and ``not measured`` where the runs do not record the metric."""
    scales = {(c.key, c.unit): c.scale for c in columns}
    done = rows[rows["state"] == FINISHED] if "state" in rows else rows
    out = []
    for ref in refs:
        sel = done
        for key, want in ref.setting:
            series = values(sel, key)
            sel = sel[series.map(lambda v, w=want: same(v, w))] if series is not None else sel.iloc[0:0]
        if "step" not in dict(ref.setting):
            sel = _final(sel)
        # A setting the paper's value leaves open (its sparsity, say) is never averaged over as if it were
        # seeds: one row per value, so ours is read at the matching one.
        keys = [k for k in setting_keys(sel) if varies(sel, k)] if len(sel) else []
        for found, part in groups(sel, keys) if keys else [({}, sel)]:
            extra = "".join(f"; {label(k, keys)}={v}" for k, v in found.items())
            out.append(_compare(ref, part, ref.setting_text + extra, scales))
    table = pd.DataFrame(out)
    table.attrs["digits"] = {"paper": 2, "ours": 2, "ours-paper": 2}
    table.attrs["caption"] = "Paper values beside ours (mean ± std [95 % interval] over seeds)."
    return table
