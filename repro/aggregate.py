"""Records -> one tidy frame -> comparison tables (CSV, Markdown, LaTeX) and each paper's report.

``python -m repro.aggregate DIR`` reads every run under DIR (run directories, or a sweep folder whose job
folders link to them), prints the summary table and writes it into DIR. A Hydra callback does the same at
the end of every multirun.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from repro.reports import mean_std
from repro.store import atomic_write

KEYS = ["model", "dataset", "pruner", "scope", "step"]


def find_runs(root: Path) -> list[Path]:
    """Directories holding a ``records.jsonl`` below ``root`` (links followed, each run once)."""
    seen: dict[str, Path] = {}
    for dirpath, _dirs, files in os.walk(root, followlinks=True):
        if "records.jsonl" in files:
            seen.setdefault(os.path.realpath(dirpath), Path(dirpath))
    return sorted(seen.values(), key=lambda p: p.name)


def load_records(runs: Iterable[Path]) -> pd.DataFrame:
    """One row per (run, step); nested dicts (per-layer values) are kept as objects."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        status = {}
        if (run / "status.json").exists():
            status = json.loads((run / "status.json").read_text())
        for line in (run / "records.jsonl").read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                rec.setdefault("run", run.name)
                rec["run_status"] = status.get("status", "unknown")
                rec["run_dir"] = str(run)
                rows.append(rec)
    return pd.DataFrame(rows)


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """model x dataset x pruner x scope x step: sparsity and test accuracy (mean ± std over seeds), in %."""
    if df.empty:
        return pd.DataFrame()
    keys = [k for k in KEYS if k in df.columns]
    rows = []
    for key, group in df.groupby(keys, sort=True, dropna=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        ok = group[group.get("status", "ok") != "diverged"] if "status" in group else group
        row["sparsity %"] = mean_std(ok["sparsity"], 100) if "sparsity" in ok and len(ok) else "-"
        row["test acc %"] = mean_std(ok["test_acc"], 100) if "test_acc" in ok and len(ok) else "-"
        row["seeds"] = int(group["seed"].nunique()) if "seed" in group else len(group)
        diverged = int((group.get("status") == "diverged").sum()) if "status" in group else 0
        if diverged:
            row["test acc %"] = f"{row['test acc %']} ({diverged} diverged)"
        rows.append(row)
    return pd.DataFrame(rows)


def write_table(table: pd.DataFrame, out_dir: Path, name: str) -> list[Path]:
    """Write ``table`` as CSV, Markdown and LaTeX (atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.csv", out_dir / f"{name}.md", out_dir / f"{name}.tex"]
    atomic_write(paths[0], table.to_csv(index=False).encode())
    atomic_write(paths[1], (table.to_markdown(index=False) + "\n").encode())
    atomic_write(paths[2], table.to_latex(index=False).encode())
    return paths


def aggregate(
    root: Path, out_dir: Path | None = None, reports: list[str] | None = None, quiet: bool = False
) -> dict[str, Any]:
    """Build the summary table and every applicable paper report from the runs under ``root``."""
    from repro.reports import build_reports

    root = Path(root)
    out_dir = Path(out_dir) if out_dir else root
    runs = find_runs(root)
    df = load_records(runs)
    table = summary_table(df)
    written: list[Path] = []
    if not table.empty:
        written += write_table(table, out_dir, "summary")
        written += build_reports(df, out_dir, reports)
    if not quiet:
        if table.empty:
            print(f"[repro] no records under {root}")
        else:
            print(table.to_markdown(index=False))
            print(f"[repro] {len(runs)} runs; tables and figures in {out_dir}:")
            for p in written:
                print(f"  {p}")
    return {"frame": df, "table": table, "files": written, "runs": runs}


class AggregateCallback(Callback):
    """Aggregate the runs of a multirun into its sweep folder when the sweep ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.exists():
            aggregate(sweep_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m repro.aggregate", description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder of runs or of a sweep")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: ROOT)")
    parser.add_argument(
        "--report",
        action="append",
        default=None,
        help="paper report(s) to build (default: every report whose runs are present)",
    )
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"error: root={str(args.root)!r} is not a folder", file=sys.stderr)
        sys.exit(2)
    aggregate(args.root, args.out, args.report)


if __name__ == "__main__":
    main()
