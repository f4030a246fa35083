"""EGP figures: top-1 against real sparsity (95 % error bars over seeds, removed layers as labels), and per
method the neuron states (always OFF / always ON / mixed) and the entropy of every layer at every step,
both averaged over seeds from the per-step probe arrays the runs stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repro.reports.figures import CAPTION, curve, errorbars, panels, save_figure
from repro.reports.runs import FINISHED, Runs

STATES = (
    ("off", "always OFF", "tab:gray"),
    ("on", "always ON", "tab:orange"),
    ("mixed", "mixed", "tab:green"),
)


def accuracy_figure(
    rows: pd.DataFrame, colors: dict[str, Any], out_dir: Path, stem: str, title: str
) -> list[Path]:
    fig, axes = panels(1, width=5.5, height=3.8)
    ax = axes[0][0]
    for method, part in rows.groupby("method", sort=True):
        x, y = curve(part, "sparsity", scale=100.0), curve(part, "test_acc", scale=100.0)
        errorbars(ax, x, y, str(method), colors[str(method)], marker="o", markersize=3)
        if "egp_removed_layers" in part:
            removed = curve(part, "egp_removed_layers")
            for step in removed.index.intersection(x.index):
                if removed.loc[step, "mean"] > 0:
                    ax.annotate(
                        f"{removed.loc[step, 'mean']:.0f}",
                        (x.loc[step, "mean"], y.loc[step, "mean"]),
                        fontsize=7,
                        xytext=(2, 3),
                        textcoords="offset points",
                        color=colors[str(method)],
                    )
    ax.set_xlabel("real sparsity % (labels: removed layers)")
    ax.set_ylabel("top-1 %")
    ax.set_title(f"{title} ({CAPTION})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, out_dir, f"accuracy_vs_sparsity_{stem}")


def _arrays(runs: Runs, part: pd.DataFrame, key: str) -> dict[int, list[dict[str, Any]]]:
    """step -> the ``key`` arrays (layer -> value) of every finished run of ``part`` that stored them."""
    out: dict[int, list[dict[str, Any]]] = {}
    for _, r in part[part["state"] == FINISHED].iterrows():
        data = runs.artifact(r["run"], "metrics", int(r["step"]))
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            out.setdefault(int(r["step"]), []).append(data)
    return dict(sorted(out.items()))


def states_figure(runs: Runs, rows: pd.DataFrame, out_dir: Path, stem: str, title: str) -> list[Path]:
    """Per method: one panel per step, stacked bars of neuron states per layer (fractions, mean of seeds)."""
    files: list[Path] = []
    for method, part in rows.groupby("method", sort=True):
        steps = _arrays(runs, part, "egp/mixed")
        if not steps:
            continue
        cols = min(len(steps), 5)
        fig, axes = panels(cols, rows=int(np.ceil(len(steps) / cols)), width=3.2, height=2.6)
        for ax, (step, arrays) in zip(axes.flat, steps.items()):
            layers = list(arrays[0]["egp/mixed"])
            bottom = np.zeros(len(layers))
            for key, name, color in STATES:
                frac = np.mean([_fractions(a, layers, key) for a in arrays], axis=0)
                ax.bar(range(len(layers)), frac, bottom=bottom, color=color, label=name, width=0.85)
                bottom += frac
            ax.set_title(f"step {step} ({len(arrays)} seed(s))", fontsize=8)
            ax.set_xticks(range(len(layers)))
            ax.set_xticklabels(range(1, len(layers) + 1), fontsize=6)
            ax.set_ylim(0, 1)
        for ax in list(axes.flat)[len(steps) :]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=6, loc="lower left")
        fig.suptitle(f"{title}, {method}: neurons per layer (mean over seeds)", fontsize=9)
        files += save_figure(fig, out_dir, f"neuron_states_{stem}_{method}")
    return files


def _fractions(arrays: dict[str, Any], layers: list[str], key: str) -> np.ndarray:
    total = np.array([sum(arrays[f"egp/{s}"].get(k, 0) for s, _, _ in STATES) for k in layers], dtype=float)
    return np.array([arrays[f"egp/{key}"].get(k, 0) for k in layers], dtype=float) / np.maximum(total, 1)


def entropy_figure(runs: Runs, rows: pd.DataFrame, out_dir: Path, stem: str, title: str) -> list[Path]:
    """Per method: the entropy of every layer (rows) at every step (columns), mean over seeds."""
    files: list[Path] = []
    for method, part in rows.groupby("method", sort=True):
        steps = _arrays(runs, part, "egp/entropy")
        if not steps:
            continue
        layers = list(next(iter(steps.values()))[0]["egp/entropy"])
        grid = np.array(
            [
                [np.mean([a["egp/entropy"].get(k, np.nan) for a in arrays]) for arrays in steps.values()]
                for k in layers
            ]
        )
        fig, axes = panels(1, width=1.2 + 0.45 * len(steps), height=0.9 + 0.22 * len(layers))
        ax = axes[0][0]
        image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(steps)))
        ax.set_xticklabels(list(steps), fontsize=7)
        ax.set_yticks(range(len(layers)))
        ax.set_yticklabels(layers, fontsize=6)
        ax.set_xlabel("step")
        for (i, j), v in np.ndenumerate(grid):
            if v == 0:
                ax.text(j, i, "0", ha="center", va="center", fontsize=6, color="white")
        fig.colorbar(image, ax=ax, label="entropy (bits, mean over seeds)")
        ax.set_title(f"{title}, {method}", fontsize=9)
        files += save_figure(fig, out_dir, f"entropy_{stem}_{method}")
    return files
