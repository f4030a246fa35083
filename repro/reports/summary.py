"""What every aggregation writes, whatever the papers: the run list, the summary table and the tidy table.

- ``runs``: one row per run with its state (finished, diverged, running, interrupted, damaged) and why;
- ``summary``: settings x step (every varying config value a column, seeds the replicates): sparsity and
  test accuracy, mean ± std [95 % interval], with the runs left out of the averages named;
- ``tidy.csv`` / ``tidy.parquet``: one row per run and step, every record scalar and every config value
  (``config.<dotted key>``), for one's own pandas analysis without reading run folders.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from repro.reports.runs import CONFIG, Runs
from repro.reports.settings import constants, setting_keys
from repro.reports.tables import Column, stat_table, write_table
from repro.store import atomic_write

COLUMNS = (
    Column("sparsity", "sparsity %", 100.0, 2, "%"),
    Column("test_acc", "test acc %", 100.0, 2, "%"),
)
FIRST = ("run", "state", "method", "seed", "step")


def caption(rows: pd.DataFrame, what: str) -> str:
    """``what`` followed by the values every row shares (model, data set)."""
    shared = constants(rows)
    tail = ", ".join(f"{k}={v}" for k, v in shared.items())
    return f"{what}{f' ({tail})' if tail else ''}: mean ± std [95 % interval] over n seeds."


def summary_table(runs: Runs) -> pd.DataFrame:
    """Settings x step: sparsity and test accuracy over seeds; excluded runs named, never averaged."""
    rows = runs.rows
    if rows.empty or "step" not in rows:
        return pd.DataFrame()
    keys = [*setting_keys(rows), "step"]
    return stat_table(rows, keys, COLUMNS, caption=caption(rows, "Every setting and step"))


def run_list(runs: Runs) -> pd.DataFrame:
    """The runs found, with state and reason (damaged runs are listed here and nowhere else)."""
    return runs.runs.sort_values(["state", "run"]).reset_index(drop=True)


def tidy(runs: Runs) -> pd.DataFrame:
    """One row per run and step: record scalars and flattened config columns, types safe for Parquet."""
    rows = runs.rows
    if rows.empty:
        return rows
    keep = [
        c
        for c in rows.columns
        if not rows[c].map(lambda v: isinstance(v, dict | list | tuple)).any()  # per-layer arrays stay out
    ]
    record = sorted(c for c in keep if c not in FIRST and not c.startswith(CONFIG))
    config = sorted(c for c in keep if c.startswith(CONFIG))
    frame = rows[[c for c in FIRST if c in keep] + record + config].copy()
    for c in frame.columns:
        if frame[c].dtype == object:
            kinds = {type(v) for v in frame[c] if v is not None and not (isinstance(v, float) and v != v)}
            if kinds and kinds <= {int, float}:
                frame[c] = pd.to_numeric(frame[c], errors="coerce")
            elif len(kinds) > 1 or (kinds and not kinds <= {str, bool}):
                frame[c] = frame[c].map(lambda v: None if v is None else str(v))
    return frame.reset_index(drop=True)


def write_tidy(runs: Runs, out_dir: Path) -> list[Path]:
    """``tidy.csv`` always, ``tidy.parquet`` when pyarrow is installed."""
    frame = tidy(runs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "tidy.csv"]
    atomic_write(paths[0], frame.to_csv(index=False).encode())
    try:
        import io

        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
    except ImportError:
        return paths
    paths.append(out_dir / "tidy.parquet")
    atomic_write(paths[1], buffer.getvalue())
    return paths


def write_common(runs: Runs, out_dir: Path) -> tuple[pd.DataFrame, list[Path]]:
    """The run list, the summary table and the tidy table; returns the summary and the files."""
    files = write_table(run_list(runs), out_dir, "runs")
    table = summary_table(runs)
    if not table.empty:
        files += write_table(table, out_dir, "summary")
    files += write_tidy(runs, out_dir)
    return table, files
