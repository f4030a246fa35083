"""One-shot vs gradual report: the runs that measured sharpness or PSP-entropy, from their records.

Tables: ``oneshot_vs_gradual`` (last step of each run per method and target, the dense start as a reference
row, paper values beside ours), ``paper_reference`` and ``claims`` (gradual and LOBSTER against one-shot,
paired over seeds that share a dense start). Figures per model and data set: ``curve1d_*``,
``surface2d_*``, ``interpolation_*``, ``psp_hist_*``, ``psp_matrix_*`` and ``summary_*``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from repro.registry import register
from repro.reports import reference
from repro.reports.figures import figure_groups, palette
from repro.reports.paper import reference_and_claims
from repro.reports.runs import Runs
from repro.reports.sharpness.claims import CLAIMS
from repro.reports.sharpness.figures import curve1d_figure, interpolation_figure, surface2d_figure
from repro.reports.sharpness.psp import histogram_figure, matrix_figure, summary_figure
from repro.reports.sharpness.tables import COLUMNS, TARGET, final_rows, table
from repro.reports.tables import write_table

PAPER = "oneshot_vs_gradual"
MEASURED = ("hessian_top_eig", "eps_sharpness", "sharpness_loss", "psp_network", "psp_network_neurons")


def select(runs: Runs) -> Runs:
    """The rows of runs that recorded a sharpness or PSP-entropy measurement."""
    rows = runs.rows
    found = [c for c in MEASURED if c in rows]
    if not found:
        return runs.subset(rows.iloc[0:0])
    measured = rows[found].apply(pd.to_numeric, errors="coerce").notna().any(axis=1)
    return runs.subset(rows[rows["run"].isin(set(rows.loc[measured, "run"]))])


@register("report", "sharpness")
def build(runs: Runs, out_dir: Path) -> list[Path]:
    mine = select(runs)
    final = final_rows(mine.rows)
    if final.empty:
        return []
    out_dir = Path(out_dir)
    refs = reference.load(PAPER)
    files = write_table(table(final, mine.rows, refs), out_dir, "oneshot_vs_gradual")
    files += reference_and_claims(refs, final, COLUMNS, CLAIMS, out_dir, claim_rows=mine.rows)
    colors = palette(final["method"])
    target_columns = [TARGET, *(c for c in final.columns if c.endswith("pruner.sparsity"))]
    done = final[final["state"] == "finished"]
    for stem, _title, group in figure_groups(done, exclude=target_columns):
        files += curve1d_figure(mine, group, colors, out_dir, stem)
        files += surface2d_figure(mine, group, out_dir, stem)
        files += interpolation_figure(mine, group, out_dir, stem)
        files += histogram_figure(mine, group, colors, out_dir, stem)
        files += matrix_figure(mine, group, out_dir, stem)
        files += summary_figure(group, colors, out_dir, stem)
    return files
