"""Loss-landscape figures, one panel per target sparsity: 1-D loss curves along a filter-normalised
direction and the loss along the line between two solutions (mean over seeds, 95 % band), and 2-D loss
contours (one seed: contours do not average meaningfully). Curves come from the runs' ``sharpness``
artifacts, read through the run store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repro.reports.figures import CAPTION, array_stats, band, close, panels, save_figure
from repro.reports.runs import Runs, normal
from repro.reports.sharpness.tables import TARGET


def _files(runs: Runs, rows: pd.DataFrame, key: str) -> list[tuple[pd.Series, dict[str, Any]]]:
    out = []
    for _, r in rows.sort_values("seed").iterrows():
        data = runs.artifact(r["run"], "sharpness", int(r["step"]))
        if isinstance(data, dict) and data.get(key):
            out.append((r, data))
    return out


def _targets(rows: pd.DataFrame) -> list[float]:
    return sorted(rows[TARGET].unique())


def curve1d_figure(
    runs: Runs, rows: pd.DataFrame, colors: dict[str, Any], out_dir: Path, stem: str
) -> list[Path]:
    fig, axes = panels(len(_targets(rows)))
    drawn = False
    for ax, target in zip(axes[0], _targets(rows)):
        for method, part in rows[rows[TARGET] == target].groupby("method", sort=True):
            found = _files(runs, part, "curve1d")
            if not found:
                continue
            curves = [d["curve1d"] for _, d in found]
            stats = array_stats([c["loss"] for c in curves])
            band(
                ax, stats, f"{method} (n={len(curves)})", colors[str(method)], x=curves[0]["alpha"], marker=""
            )
            drawn = True
        ax.set_title(f"sparsity {target * 100:g} %")
        ax.set_xlabel("alpha (filter-normalised direction)")
        ax.set_ylabel("training loss")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    if not drawn:
        return close(fig)
    fig.suptitle(f"{stem.replace('_', ' ')} ({CAPTION})", fontsize=9)
    return save_figure(fig, out_dir, f"curve1d_{stem}")


def surface2d_figure(runs: Runs, rows: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    targets, methods = _targets(rows), sorted(rows["method"].astype(str).unique())
    fig, axes = panels(len(targets), rows=len(methods), width=3.6, height=3.3)
    drawn = False
    for j, target in enumerate(targets):
        surfaces = {}
        for method in methods:
            found = _files(runs, rows[(rows[TARGET] == target) & (rows["method"] == method)], "surface2d")
            if found:
                surfaces[method] = (found[0][1]["surface2d"], found[0][0]["seed"])
        if not surfaces:
            continue
        lowest = max(min(float(np.min(s["loss"])) for s, _ in surfaces.values()), 1e-4)
        highest = max(float(np.max(s["loss"])) for s, _ in surfaces.values())
        levels = np.logspace(np.log10(lowest), np.log10(max(highest, lowest * 1.01)), 15)
        for i, method in enumerate(methods):
            ax = axes[i][j]
            if method not in surfaces:
                ax.axis("off")
                continue
            s, seed = surfaces[method]
            cs = ax.contour(s["alpha"], s["beta"], np.array(s["loss"]).T, levels=levels, cmap="viridis")
            ax.clabel(cs, fontsize=6, fmt="%.2g")
            ax.plot([0], [0], "k+")
            ax.set_title(f"{method}, sparsity {target * 100:g} %, seed {seed}", fontsize=9)
            drawn = True
    return save_figure(fig, out_dir, f"surface2d_{stem}") if drawn else close(fig)


def _label(curve: dict[str, Any], own: str, key: str) -> str:
    return str(curve.get(f"{key}method") or curve.get(f"{key}pruner") or own)


def interpolation_figure(runs: Runs, rows: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    """Loss along the line between two solutions; t = 0 at the label that sorts first."""
    fig, axes = panels(len(_targets(rows)))
    drawn = False
    for ax, target in zip(axes[0], _targets(rows)):
        lines: dict[tuple[str, str], list[list[float]]] = {}
        grid: dict[tuple[str, str], list[float]] = {}
        for r, data in _files(runs, rows[rows[TARGET] == target], "interpolation"):
            for c in data["interpolation"]:
                a, b = _label(c, str(r["method"]), ""), _label(c, "?", "partner_")
                t, loss = np.asarray(c["t"], dtype=float), np.asarray(c["loss"], dtype=float)
                if normal(a) > normal(b):
                    a, b, t, loss = b, a, (1.0 - t)[::-1], loss[::-1]
                lines.setdefault((a, b), []).append(list(loss))
                grid[(a, b)] = list(t)
        for (a, b), losses in sorted(lines.items()):
            stats = array_stats(losses)
            band(ax, stats, f"{a} (t=0) -> {b} (t=1), n={len(losses)}", None, x=grid[(a, b)], marker=".")
            drawn = True
        ax.set_title(f"sparsity {target * 100:g} %")
        ax.set_xlabel("t")
        ax.set_ylabel("training loss")
        ax.legend(fontsize=7)
    if not drawn:
        return close(fig)
    fig.suptitle(f"{stem.replace('_', ' ')} ({CAPTION})", fontsize=9)
    return save_figure(fig, out_dir, f"interpolation_{stem}")
