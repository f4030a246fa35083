"""Lottery-ticket report (Frankle & Carbin 2019): the runs labelled ``LT`` or ``LT one-shot`` that recorded
early stopping (the iteration of minimum validation loss and the test accuracy there).

Tables: ``lottery_table`` (method x round, Pm as the paper labels it: early-stop iteration and test accuracy
at early stop, the random re-initialisation at the control rounds, changes against dense and against the
control, the paper's values beside ours), ``paper_reference`` and ``claims`` (within-seed pairs: rounds
against the dense step 0 of the same run, the ticket against its re-initialisation). Figures per model and
data set: ``early_stop_iteration_*`` and ``early_stop_accuracy_*`` against Pm.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from repro.registry import register
from repro.reports import reference
from repro.reports.claims import evaluate
from repro.reports.figures import figure_groups, palette
from repro.reports.lottery.claims import CLAIMS, LT, ONESHOT
from repro.reports.lottery.figures import pm_figures, reinit_label
from repro.reports.lottery.tables import COLUMNS, ITER, derive, lottery_table, paper_labels
from repro.reports.runs import FINISHED, Runs, same
from repro.reports.tables import markdown, write_table

PAPER = "lottery_ticket"
METHODS = (LT, ONESHOT)

__all__ = ["build", "select"]


def select(runs: Runs, labels: Sequence[float] | None = None) -> Runs:
    """Runs labelled LT or LT one-shot that recorded an early-stop iteration, with the Pm labels (default:
    the paper's) and the per-run changes of :func:`~repro.reports.lottery.tables.derive`."""
    labels = paper_labels(reference.load(PAPER)) if labels is None else labels
    rows = runs.rows
    if rows.empty or ITER not in rows:
        return runs.subset(rows.iloc[0:0])
    ours = rows["method"].map(lambda m: any(same(m, x) for x in METHODS))
    measured = ours & pd.to_numeric(rows[ITER], errors="coerce").notna()
    chosen = rows[rows["run"].isin(set(rows.loc[measured, "run"]))]
    return runs.subset(derive(chosen, labels) if len(chosen) else chosen)


@register("report", "lottery")
def build(runs: Runs, out_dir: Path) -> list[Path]:
    refs = reference.load(PAPER)
    rows = select(runs, paper_labels(refs)).rows
    if rows.empty:
        return []
    out_dir = Path(out_dir)
    table = lottery_table(rows, refs)
    print("[repro] lottery-ticket table (early stop per round):")
    print(markdown(table))
    files = write_table(table, out_dir, "lottery_table")
    measured = [r for r in refs if any(r.metric == c.key for c in COLUMNS)]
    files += write_table(reference.reference_table(measured, rows, COLUMNS), out_dir, "paper_reference")
    files += write_table(evaluate(CLAIMS, rows), out_dir, "claims")
    methods = sorted(rows["method"].astype(str).unique())
    colors = palette([*methods, *map(reinit_label, methods)])
    done = rows[rows["state"] == FINISHED]
    for stem, title, group in figure_groups(done):
        files += pm_figures(group, colors, out_dir, stem, title)
    return files
