"""SAP and the PQ Index report: SAP runs against the runs that share their dense start (lottery ticket and
one-shot baselines), read from their records.

Tables: ``sap_table`` (method x varying settings x step, with the paper's plot readings beside ours),
``pqi_shape`` (the PQI trajectory's shape per seed), ``paper_reference`` and ``claims``. Figures per
model and data set: ``tradeoff_*``, ``pqi_trajectory_*``, ``layers_*_<scope>``, ``heatmap_*`` (runs with
``pruner.pqi_grid=true``) and ``ablation_*`` when SAP variants differ in p, q, eta or gamma.
"""

from __future__ import annotations

from pathlib import Path

from repro.registry import register
from repro.reports import reference
from repro.reports.figures import figure_groups, palette
from repro.reports.paper import reference_and_claims
from repro.reports.runs import Runs, normal
from repro.reports.sap.claims import CLAIMS
from repro.reports.sap.figures import layer_figure, scopes, tradeoff_figure, trajectory_figure
from repro.reports.sap.grids import ablation_figure, heatmap_figure
from repro.reports.sap.tables import COLUMNS, pqi_shape, sap_table, shape_table, turns
from repro.reports.settings import with_partners
from repro.reports.tables import write_table

PAPER = "sap"

__all__ = ["build", "pqi_shape", "select", "turns"]


def select(runs: Runs) -> Runs:
    """Runs labelled SAP and every run trained from the same dense start (their baselines)."""
    rows = runs.rows
    if rows.empty:
        return runs
    return runs.subset(with_partners(rows, rows["method"].map(lambda m: normal(m).startswith("sap"))))


def _file_label(method: str) -> str:
    return method.replace("(", "").replace(")", "").replace(",", "_").replace("=", "")


@register("report", "sap")
def build(runs: Runs, out_dir: Path) -> list[Path]:
    mine = select(runs)
    rows = mine.rows
    if rows.empty:
        return []
    out_dir = Path(out_dir)
    refs = reference.load(PAPER)
    files = write_table(sap_table(rows, refs), out_dir, "sap_table")
    files += write_table(shape_table(rows), out_dir, "pqi_shape")
    files += reference_and_claims(refs, rows, COLUMNS, CLAIMS, out_dir)
    colors = palette(rows["method"])
    for stem, title, group in figure_groups(rows, exclude=[c for c in rows.columns if c.endswith(".scope")]):
        files += tradeoff_figure(group, colors, out_dir, f"tradeoff_{stem}", title)
        files += trajectory_figure(group, colors, out_dir, f"pqi_trajectory_{stem}", title)
        for scope, part in scopes(group):
            files += layer_figure(part, colors, out_dir, f"layers_{stem}_{scope}", f"{title}, {scope} scope")
            for method, runs_of in part.groupby("method"):
                name = f"heatmap_{stem}_{_file_label(str(method))}_{scope}"
                files += heatmap_figure(mine, runs_of, out_dir, name, f"{method}, {scope}: {title}")
            files += ablation_figure(
                part, out_dir, f"ablation_{stem}_{scope}", f"SAP ablations, {scope}: {title}"
            )
    return files
