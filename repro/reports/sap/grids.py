"""SAP figures over settings: PQI heat maps over the (p, q) grid, and the ablations over p, q, eta, gamma.

Heat maps are the mean over seeds of the grid each run stored (``pruner.pqi_grid=true``), read through the
run store. Ablation families are found in the config: SAP variants that differ in one of the rule's
parameters while the others are fixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repro.reports.figures import CAPTION, band, close, curve, integer_steps, palette, panels, save_figure
from repro.reports.runs import Runs, column
from repro.reports.sap.tables import turns

ABLATIONS = {  # varied parameter -> the fixed values of the others (the paper's defaults)
    "p": {"q": 1.0, "eta": 0.0, "gamma": 1.0},
    "q": {"p": 1.0, "eta": 0.0, "gamma": 1.0},
    "eta": {"p": 0.5, "q": 1.0, "gamma": 1.0},
    "gamma": {"p": 0.5, "q": 1.0, "eta": 0.0},
}


def heatmap_figure(runs: Runs, rows: pd.DataFrame, out_dir: Path, stem: str, title: str) -> list[Path]:
    """Global PQI over (p, q) at step 0, at the low and the peak of the mean PQI trajectory, and last."""
    plt_rows = rows[rows["state"] == "finished"]
    series = (
        plt_rows.groupby("step")["pqi"].mean().sort_index() if "pqi" in plt_rows else pd.Series(dtype=float)
    )
    if series.empty:
        return []
    steps = list(series.index)
    low, peak = turns(series.to_numpy()) if len(steps) > 1 else (0, 0)
    grids: dict[int, Any] = {}
    axes_pq: tuple[list[float], list[float]] | None = None
    for step in sorted({steps[0], steps[low], steps[peak], steps[-1]}):
        stack = []
        for run in plt_rows[plt_rows["step"] == step]["run"].unique():
            data = runs.artifact(run, "pqi", step)
            if isinstance(data, dict) and "global" in data:
                stack.append(np.asarray(data["global"], dtype=float))
                axes_pq = (data["p"], data["q"])
        if stack:
            grids[int(step)] = (np.mean(stack, axis=0), len(stack))
    if not grids or axes_pq is None:
        return []
    ps, qs = axes_pq
    vmax = max(float(g.max()) for g, _ in grids.values())
    fig, axes = panels(len(grids), width=3.4, height=3.4)
    image = None
    for ax, (step, (grid, n)) in zip(axes[0], grids.items()):
        extent = (qs[0] - 0.05, qs[-1] + 0.05, ps[0] - 0.05, ps[-1] + 0.05)
        image = ax.imshow(
            grid, origin="lower", aspect="auto", vmin=0.0, vmax=vmax, cmap="viridis", extent=extent
        )
        ax.set_xlabel("q")
        ax.set_title(f"step {step} (mean of {n} seed(s))", fontsize=9)
    axes[0][0].set_ylabel("p")
    fig.colorbar(image, ax=list(axes[0]), shrink=0.9, label="global PQ Index")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, out_dir, stem, tight=False)


def _families(rows: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    cols = {k: column(rows, k, under="pruner") for k in ABLATIONS}
    if any(c is None for c in cols.values()):
        return []
    found = []
    for varied, fixed in ABLATIONS.items():
        sel = rows
        for k, v in fixed.items():
            sel = sel[pd.to_numeric(sel[cols[k]], errors="coerce") == v]
        if pd.to_numeric(sel[cols[varied]], errors="coerce").nunique() >= 2:
            found.append((varied, cols[varied], sel))
    return found


def ablation_figure(rows: pd.DataFrame, out_dir: Path, stem: str, title: str) -> list[Path]:
    """Accuracy and remaining weights vs step for SAP variants that differ in one rule parameter."""
    families = _families(rows)
    if not families:
        return []
    fig, axes = panels(len(families), rows=2, width=4.2, height=3.0, sharex=True)
    drawn = False
    for col, (varied, name, sel) in enumerate(families):
        numbers = pd.to_numeric(sel[name], errors="coerce")
        colors = palette(f"{varied}={v:g}" for v in numbers.dropna().unique())
        for value in sorted(numbers.dropna().unique()):
            group = sel[numbers == value]
            tag = f"{varied}={value:g}"
            band(axes[0][col], curve(group, "test_acc", scale=100.0), tag, colors[tag])
            band(axes[1][col], curve(group, "remaining", scale=100.0), tag, colors[tag])
            drawn = True
        axes[0][col].set_title(f"ablation over {varied}", fontsize=9)
        axes[0][col].legend(fontsize=7)
        axes[1][col].set_yscale("log")
        axes[1][col].set_xlabel("pruning step")
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    if not drawn:
        return close(fig)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[1][0].set_ylabel("remaining weights (%)")
    fig.suptitle(f"{title} ({CAPTION})", fontsize=10)
    integer_steps(fig)
    return save_figure(fig, out_dir, stem)
