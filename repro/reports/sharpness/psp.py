"""PSP-entropy figures and the summary against sparsity: per-layer histograms of neuron PSP-entropy
(neurons of all seeds pooled), the last hidden layer's [neurons x classes] matrix (one seed), and test
error (in %), top eigenvalue, epsilon-sharpness and PSP-entropy against the target sparsity with 95 %
error bars over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repro.reports.figures import CAPTION, close, curve, panels, save_figure
from repro.reports.runs import Runs
from repro.reports.sharpness.tables import COLUMNS, TARGET


def _psp(runs: Runs, row: pd.Series) -> dict[str, Any]:
    data = runs.artifact(row["run"], "metrics", int(row["step"])) or {}
    return {"neurons": data.get("psp/neuron_entropy") or {}, "matrices": data.get("psp/matrices") or {}}


def histogram_figure(
    runs: Runs, rows: pd.DataFrame, colors: dict[str, Any], out_dir: Path, stem: str
) -> list[Path]:
    found = {(r["run"]): _psp(runs, r) for _, r in rows.iterrows()}
    layers = next((list(p["neurons"]) for p in found.values() if p["neurons"]), None)
    if not layers:
        return []
    targets = sorted(rows[TARGET].unique())
    fig, axes = panels(len(layers), rows=len(targets), width=3.4, height=2.6)
    for i, target in enumerate(targets):
        for method, part in rows[rows[TARGET] == target].groupby("method", sort=True):
            psps = [found[r] for r in part["run"] if found[r]["neurons"]]
            for j, layer in enumerate(layers):
                pooled = np.concatenate(
                    [np.asarray(p["neurons"].get(layer, []), dtype=float) for p in psps] or [[]]
                )
                if pooled.size:
                    name = f"{method} ({pooled.mean():.2f}, {len(psps)} seed(s))"
                    axes[i][j].hist(pooled, bins=30, alpha=0.5, color=colors[str(method)], label=name)
        for j, layer in enumerate(layers):
            axes[i][j].set_title(f"{layer}, sparsity {target * 100:g} %", fontsize=9)
            axes[i][j].legend(fontsize=7)
            if i == len(targets) - 1:
                axes[i][j].set_xlabel("PSP-entropy of a neuron (bits)")
    return save_figure(fig, out_dir, f"psp_hist_{stem}")


def matrix_figure(runs: Runs, rows: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    """The last hidden layer's [neurons x classes] entropies of one seed, neurons sorted by their total."""
    targets, methods = sorted(rows[TARGET].unique()), sorted(rows["method"].astype(str).unique())
    fig, axes = panels(len(methods), rows=len(targets), width=3.0, height=3.3, constrained_layout=True)
    image = None
    for i, target in enumerate(targets):
        for j, method in enumerate(methods):
            ax = axes[i][j]
            part = rows[(rows[TARGET] == target) & (rows["method"] == method)].sort_values("seed")
            psp = next(((p, r["seed"]) for _, r in part.iterrows() if (p := _psp(runs, r))["matrices"]), None)
            if psp is None:
                ax.axis("off")
                continue
            layer = list(psp[0]["matrices"])[-1]
            m = np.asarray(psp[0]["matrices"][layer], dtype=float)
            m = m[np.argsort(-np.nansum(m, axis=1))]
            image = ax.imshow(m, aspect="auto", cmap="magma", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(f"{method} {layer}, {target * 100:g} %, seed {psp[1]}", fontsize=8)
            if i == len(targets) - 1:
                ax.set_xlabel("class")
            if j == 0:
                ax.set_ylabel("neuron (sorted by entropy)")
    if image is None:
        return close(fig)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="PSP-entropy per class (bits)")
    return save_figure(fig, out_dir, f"psp_matrix_{stem}", tight=False)


def summary_figure(rows: pd.DataFrame, colors: dict[str, Any], out_dir: Path, stem: str) -> list[Path]:
    shown = [c for c in COLUMNS if c.key != "sparsity" and c.key in rows and rows[c.key].notna().any()]
    if not shown:
        return []
    fig, axes = panels(len(shown), width=3.6)
    for ax, c in zip(axes[0], shown):
        for method, part in rows.groupby("method", sort=True):
            s = curve(part, c.key, x=TARGET, scale=c.scale)
            err = [(s["mean"] - s["low"]).fillna(0), (s["high"] - s["mean"]).fillna(0)]
            ax.errorbar(
                s.index * 100,
                s["mean"],
                yerr=err,
                marker="o",
                capsize=2,
                color=colors[str(method)],
                label=str(method),
            )
        ax.set_xlabel("target sparsity %")
        ax.set_title(c.label, fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(f"{stem.replace('_', ' ')} ({CAPTION.replace('band', 'bars')})", fontsize=9)
    return save_figure(fig, out_dir, f"summary_{stem}")
