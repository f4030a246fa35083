"""EGP report: the runs that measured their layers' entropy (EGP and its IMP baseline), from their records.

Tables: ``egp_table`` (method x varying settings x step: nominal and real sparsity, top-1, removed layers,
with the paper's dense reference beside ours), ``depth`` (the shallower network built after pruning),
``paper_reference`` and ``claims``. Figures per model and data set: ``accuracy_vs_sparsity_*``,
``neuron_states_*_<method>`` and ``entropy_*_<method>``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from repro.registry import register
from repro.reports import reference
from repro.reports.egp.claims import CLAIMS
from repro.reports.egp.figures import accuracy_figure, entropy_figure, states_figure
from repro.reports.egp.tables import COLUMNS, depth_table, egp_table, relabel
from repro.reports.figures import figure_groups, palette
from repro.reports.paper import reference_and_claims
from repro.reports.runs import Runs
from repro.reports.tables import markdown, write_table

PAPER = "egp"


def select(runs: Runs) -> Runs:
    """The rows of runs that recorded EGP's layer count (the entropy probe ran), scratch steps relabelled."""
    rows = runs.rows
    if "egp_layers" not in rows:
        return runs.subset(rows.iloc[0:0])
    measured = set(rows.loc[pd.to_numeric(rows["egp_layers"], errors="coerce").notna(), "run"])
    return runs.subset(relabel(rows[rows["run"].isin(measured)]))


@register("report", "egp")
def build(runs: Runs, out_dir: Path) -> list[Path]:
    mine = select(runs)
    rows = mine.rows
    if rows.empty:
        return []
    out_dir = Path(out_dir)
    refs = reference.load(PAPER)
    table = egp_table(rows, refs)
    print("[repro] EGP table (removed layers per step):")
    print(markdown(table))
    files = write_table(table, out_dir, "egp_table")
    depth = depth_table(rows)
    if not depth.empty:
        files += write_table(depth, out_dir, "depth")
    files += reference_and_claims(refs, rows, COLUMNS, CLAIMS, out_dir)
    colors = palette(rows["method"])
    for stem, title, group in figure_groups(rows):
        files += accuracy_figure(group, colors, out_dir, stem, title)
        files += states_figure(mine, group, out_dir, stem, title)
        files += entropy_figure(mine, group, out_dir, stem, title)
    return files
