"""SAP tables: the per-step table beside the paper's readings, and the shape of the PQI trajectory.

The paper expects the PQ Index to fall while the network is regularised, rise to a peak at the compression
limit and fall again at collapse. With one seed that shape can be noise, so the shape table names the shape
of every seed's trajectory and gives the rise to the peak as mean and interval over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from repro.reports.reference import Reference
from repro.reports.runs import FINISHED
from repro.reports.settings import groups, label, setting_keys
from repro.reports.stats import fill
from repro.reports.summary import caption
from repro.reports.tables import Column, excluded, stat_table

COLUMNS = (
    Column("test_acc", "test acc %", 100.0, 2, "%"),
    Column("remaining", "remaining %", 100.0, 3, "%"),
    Column("pqi", "PQI", 1.0, 4),
    Column("gini", "Gini", 1.0, 4),
    Column("pruned_test_acc", "pruned acc %", 100.0, 2, "%"),
    Column("pruned_pqi", "pruned PQI", 1.0, 4),
)


def sap_table(rows: pd.DataFrame, refs: Sequence[Reference]) -> pd.DataFrame:
    """Method x varying settings x step: accuracy, remaining weights, PQI, Gini, the pruned model."""
    keys = [*setting_keys(rows), "step"]
    return stat_table(rows, keys, COLUMNS, refs, caption(rows, "SAP, lottery ticket (LT) and one-shot (OS)"))


def turns(values: Any) -> tuple[int, int]:
    """(low, peak): the largest rise of the series above an earlier minimum, ``low`` < ``peak``."""
    values = np.asarray(values, dtype=float)
    running_min = np.minimum.accumulate(values)
    rise = values[1:] - running_min[:-1]
    peak = 1 + int(rise.argmax())
    return int(values[:peak].argmin()), peak


def pqi_shape(values: Any) -> str:
    """Name the shape of a PQI series: the paper expects it to fall, rise to a peak, then fall again.

    Changes smaller than 5 % of the series' range (at least 0.002) count as flat.
    """
    values = np.asarray(values, dtype=float)
    if len(values) < 3:
        return "too short"
    tol = max(2e-3, 0.05 * float(values.max() - values.min()))
    low, peak = turns(values)
    down = values[low] < values[0] - tol
    up = values[peak] > values[low] + tol
    down_again = values[-1] < values[peak] - tol
    if down and up and down_again:
        return "down-up-down"
    if not up:
        return "falls only" if values[-1] < values[0] - tol else "flat"
    return "-".join(w for w, ok in (("down", down), ("up", up), ("down", down_again)) if ok)


def _series(run: pd.DataFrame) -> np.ndarray:
    return pd.to_numeric(run.sort_values("step")["pqi"], errors="coerce").dropna().to_numpy()


def shape_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per setting: the PQI shape of each seed, of the mean trajectory, the rise to the peak over seeds,
    and the final remaining weights and accuracy."""
    keys = setting_keys(rows)
    out = []
    for key_values, part in groups(rows, keys):
        done = part[part["state"] == FINISHED]
        row: dict[str, Any] = {label(k, keys): v for k, v in key_values.items()}
        runs = [r for _, r in done.groupby("run") if len(_series(r)) > 0]
        row["n"] = len(runs)
        shapes = pd.Series([pqi_shape(_series(r)) for r in runs], dtype=str).value_counts()
        row["seeds' shapes"] = ", ".join(f"{s} {k}/{len(runs)}" for s, k in shapes.items()) or "-"
        mean = done.groupby("step")["pqi"].mean().sort_index() if "pqi" in done else pd.Series(dtype=float)
        row["mean-curve shape"] = pqi_shape(mean.to_numpy()) if len(mean) else "-"
        if "up" in row["mean-curve shape"]:
            low, peak = turns(mean.to_numpy())
            row["mean low (step)"] = f"{mean.iloc[low]:.4f} ({int(mean.index[low])})"
            row["mean peak (step)"] = f"{mean.iloc[peak]:.4f} ({int(mean.index[peak])})"
        rises = [max(0.0, float(s[turns(s)[1]] - s[turns(s)[0]])) for s in map(_series, runs) if len(s) > 1]
        fill(row, "PQI rise to peak", rises)
        last = done.loc[done.groupby("run")["step"].idxmax()] if len(done) else done
        if len(last):
            fill(row, "final remaining %", 100.0 * pd.to_numeric(last["remaining"], errors="coerce"))
            fill(row, "final test acc %", 100.0 * pd.to_numeric(last["test_acc"], errors="coerce"))
        row["excluded"] = excluded(part)
        out.append(row)
    table = pd.DataFrame(out)
    table.attrs["digits"] = {"PQI rise to peak": 4, "final remaining %": 3, "final test acc %": 2}
    table.attrs["caption"] = caption(rows, "Shape of the global PQI (p=0.5, q=1) over the steps")
    return table
