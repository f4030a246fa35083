"""Runs -> run list, summary table, tidy table and each paper's report (tables, claims, figures).

``python -m repro.aggregate DIR`` reads every run under DIR (run directories, or a sweep folder whose job
folders link to them) through the run store's reader, prints the summary table and writes into DIR (or
``--out``): ``runs.*`` (each run's state; damaged runs are listed there and left out), ``summary.*``
(settings x step, mean ± std [95 % interval] over seeds), ``tidy.csv`` / ``tidy.parquet`` (one row per run
and step) and one folder per paper report. A Hydra callback does the same at the end of every multirun; with
``--wandb`` (in the callback: whenever the sweep logs to W&B) it also logs them as the sweep's report run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from repro.errors import ConfigError
from repro.registry import get
from repro.reports import build_reports, names
from repro.reports.runs import load_dir
from repro.reports.summary import write_common
from repro.reports.tables import markdown
from repro.sharing.report_run import Target, share_report, sweep_target
from repro.store import warn


def aggregate(
    root: Path, out_dir: Path | None = None, reports: list[str] | None = None, quiet: bool = False
) -> dict[str, Any]:
    """Write the run list, the summary and tidy tables and the paper reports for the runs under ``root``.

    Returns ``frame`` (one row per run and step), ``runs`` (one row per run), ``table`` (the summary) and
    ``files`` (every file written).
    """
    for name in reports or []:
        get("report")[name]  # an unknown name fails here, listing the known ones
    root = Path(root)
    out_dir = Path(out_dir) if out_dir else root
    runs = load_dir(root)
    for _, run in runs.runs[runs.runs["state"] == "damaged"].iterrows():
        warn(f"{run['dir']}: left out ({run['reason']})")
    table, files = write_common(runs, out_dir) if len(runs.runs) else (None, [])
    if table is not None and not table.empty:
        files += build_reports(runs, out_dir, reports)
    if not quiet:
        if table is None or table.empty:
            print(f"[repro] no records under {root}")
        else:
            print(markdown(table))
            states = runs.runs["state"].value_counts()
            print(f"[repro] {len(runs.runs)} runs ({', '.join(f'{n} {s}' for s, n in states.items())})")
            print(f"[repro] tables and figures in {out_dir}:")
            for p in files:
                print(f"  {p}")
    return {"frame": runs.rows, "runs": runs.runs, "table": table, "files": files}


class AggregateCallback(Callback):
    """Aggregate the runs of a multirun into its sweep folder when the sweep ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.exists():
            result = aggregate(sweep_dir)
            log = config.logger
            if log.name == "wandb" and log.mode != "disabled":  # the sweep's report run, in its group
                target = Target(log.project, log.entity, log.group or config.sweep_name, log.mode)
                share_report(result, sweep_dir, target=target)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m repro.aggregate", description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder of runs or of a sweep")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: ROOT)")
    parser.add_argument(
        "--report",
        action="append",
        default=None,
        help=f"paper report(s) to build (default: every report whose runs are present; {', '.join(names())})",
    )
    parser.add_argument("--wandb", action="store_true", help="also log the tables and figures as a W&B run")
    parser.add_argument("--group", default=None, help="W&B group of that run (default: the runs' group)")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"error: root={str(args.root)!r} is not a folder", file=sys.stderr)
        sys.exit(2)
    try:  # where the report run goes is checked before the work
        target = sweep_target(args.root, args.group) if args.wandb else None
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    result = aggregate(args.root, args.out, args.report)
    if target is not None:
        share_report(result, args.out or args.root, target)


if __name__ == "__main__":
    main()
