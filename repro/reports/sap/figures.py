"""SAP curves, one panel per pruning scope: accuracy against remaining weights, PQI against step, and the
remaining weights and PQI of the first, middle and last layer. Means over seeds with 95 % bands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from repro.reports.figures import CAPTION, band, curve, errorbars, integer_steps, panels, save_figure
from repro.reports.runs import column

SCOPE_ORDER = ("global", "layer", "neuron")


def scopes(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(scope, rows) per pruning scope (record field, else the pruner's config), in the paper's order."""
    name = column(rows, "scope")
    if name is None:
        return [("all", rows)]
    found = sorted(
        rows[name].astype(str).unique(),
        key=lambda s: (s not in SCOPE_ORDER, SCOPE_ORDER.index(s) if s in SCOPE_ORDER else 0, s),
    )
    return [(s, rows[rows[name].astype(str) == s]) for s in found]


def _methods(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    return [(str(m), part) for m, part in rows.groupby("method", sort=True)]


def tradeoff_figure(
    rows: pd.DataFrame, colors: dict[str, Any], out_dir: Path, stem: str, title: str
) -> list[Path]:
    """Accuracy vs percent of remaining weights (both with 95 % error bars), one panel per scope."""
    parts = scopes(rows)
    fig, axes = panels(len(parts), width=4.2, height=3.6, sharey=True)
    for ax, (scope, part) in zip(axes[0], parts):
        for method, group in _methods(part):
            rem, acc = curve(group, "remaining", scale=100.0), curve(group, "test_acc", scale=100.0)
            errorbars(ax, rem, acc, method, colors[method], marker="o", markersize=3)
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("remaining weights (%)")
        ax.set_title(scope)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"{title} ({CAPTION})", fontsize=10)
    return save_figure(fig, out_dir, stem)


def trajectory_figure(
    rows: pd.DataFrame, colors: dict[str, Any], out_dir: Path, stem: str, title: str
) -> list[Path]:
    """Global PQI (p=0.5, q=1) vs step per scope with its band, mean neuron PQI dashed; Gini below."""
    parts = scopes(rows)
    fig, axes = panels(len(parts), rows=2, width=4.2, height=3.2, sharex=True)
    for col, (scope, part) in enumerate(parts):
        for method, group in _methods(part):
            band(axes[0][col], curve(group, "pqi"), method, colors[method])
            if column(group, "pqi_neuron") is not None:
                neuron = curve(group, "pqi_neuron")
                axes[0][col].plot(
                    neuron.index, neuron["mean"], color=colors[method], linestyle="--", linewidth=0.8
                )
            band(axes[1][col], curve(group, "gini"), method, colors[method])
        axes[0][col].set_title(f"{scope} (solid: global PQI, dashed: mean neuron PQI)", fontsize=8)
        axes[1][col].set_xlabel("pruning step")
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("PQ Index (p=0.5, q=1)")
    axes[1][0].set_ylabel("Gini index")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"{title} ({CAPTION})", fontsize=10)
    integer_steps(fig)
    return save_figure(fig, out_dir, stem)


def _layer_rows(rows: pd.DataFrame, field: str, layer: str) -> pd.DataFrame:
    value = rows[field].map(lambda d: d.get(layer) if isinstance(d, dict) else None)
    return rows.assign(layer_value=pd.to_numeric(value, errors="coerce")).dropna(subset=["layer_value"])


def layer_figure(
    rows: pd.DataFrame, colors: dict[str, Any], out_dir: Path, stem: str, title: str
) -> list[Path]:
    """Remaining weights and PQI of the first, middle and last prunable layer vs step, per method."""
    if "layer_pqi" not in rows or not rows["layer_pqi"].map(lambda d: isinstance(d, dict)).any():
        return []
    names = list(next(d for d in rows["layer_pqi"] if isinstance(d, dict)))
    picks = list(dict.fromkeys([names[0], names[len(names) // 2], names[-1]]))
    fig, axes = panels(len(picks), rows=2, width=4.0, height=3.0, sharex=True)
    for col, layer in enumerate(picks):
        for method, group in _methods(rows):
            rem = (
                _layer_rows(group, "layer_remaining", layer)
                if "layer_remaining" in group
                else group.iloc[0:0]
            )
            band(axes[0][col], curve(rem, "layer_value", scale=100.0), method, colors[method])
            band(
                axes[1][col],
                curve(_layer_rows(group, "layer_pqi", layer), "layer_value"),
                method,
                colors[method],
            )
        axes[0][col].set_title(layer, fontsize=9)
        axes[0][col].set_yscale("log")
        axes[1][col].set_xlabel("pruning step")
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("remaining weights (%)")
    axes[1][0].set_ylabel("layer PQ Index (p=0.5, q=1)")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"{title} ({CAPTION})", fontsize=10)
    integer_steps(fig)
    return save_figure(fig, out_dir, stem)
