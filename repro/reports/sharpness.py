"""One-shot vs gradual pruning report: table and figures from the records of `analysis`/`psp` runs.

Table (``oneshot_vs_gradual.{csv,md,tex}``): model x dataset x target sparsity x method, final step of each
run, mean ± std over seeds: test error, reached sparsity, top Hessian eigenvalue, epsilon-sharpness,
PSP-entropy; the dense model's test error as the reference row. ``claims.md`` checks the paper's three
claims per model, dataset and sparsity (gradual vs one-shot: lower test error, sharper, higher PSP-entropy).

Figures per model and dataset (PNG and PDF; one panel per target sparsity): 1-D loss curves of every
method on one plot, 2-D loss contours, the loss along the line between two solutions, PSP-entropy
histograms per layer, the [neurons x classes] PSP-entropy matrix of the last hidden layer, and a summary of
test error, top eigenvalue and PSP-entropy against sparsity.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repro.aggregate import write_table
from repro.reports import mean_std, register, save_figure

METHODS = ("oneshot", "gradual", "lobster")
COLORS = {"oneshot": "tab:blue", "gradual": "tab:red", "lobster": "tab:green"}
COLUMNS = {
    "test_error": "test error %",
    "sparsity": "sparsity %",
    "hessian_top_eig": "top Hessian eig.",
    "eps_sharpness": "eps-sharpness",
    "psp_network": "PSP-entropy (bits)",
}


def applies(df: pd.DataFrame) -> bool:
    measured = any(c in df.columns for c in ("hessian_top_eig", "sharpness_loss", "psp_network"))
    return measured and "pruner" in df.columns and bool(df["pruner"].isin(METHODS).any())


def final_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The last ok step of every run of the compared methods, with its target sparsity and test error."""
    ok = df[(df.get("status", "ok") == "ok") & df["pruner"].isin(METHODS)].copy()
    if ok.empty:
        return ok
    last = ok.loc[ok.groupby("run_dir")["step"].idxmax()].copy()
    last = last[last["step"] > 0]
    nominal = last["nominal_sparsity"] if "nominal_sparsity" in last else last["sparsity"]
    last["target"] = nominal.fillna(last["sparsity"]).astype(float).round(4)
    last["test_error"] = 1.0 - last["test_acc"]
    return last


def dense_rows(df: pd.DataFrame) -> pd.DataFrame:
    dense = df[(df["step"] == 0) & df["pruner"].isin(METHODS)].copy()
    dense["test_error"] = 1.0 - dense["test_acc"]
    # runs that share a dense start hold the same step-0 record; keep one per seed
    return dense.drop_duplicates(subset=["model", "dataset", "seed", "test_acc"])


SCALES = {"test_error": (100, 2), "sparsity": (100, 2), "hessian_top_eig": (1, 2), "eps_sharpness": (1, 3)}


def table(final: pd.DataFrame, dense: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (model, dataset), group in final.groupby(["model", "dataset"], sort=True):
        d = dense[(dense["model"] == model) & (dense["dataset"] == dataset)]
        if not d.empty:
            rows.append(
                {"model": model, "dataset": dataset, "target %": "0", "method": "dense"}
                | {label: "-" for label in COLUMNS.values()}
                | {"test error %": mean_std(d["test_error"], 100, 2), "sparsity %": "0.00", "seeds": len(d)}
            )
        for (target, method), g in group.groupby(["target", "pruner"], sort=True):
            row: dict[str, Any] = {"model": model, "dataset": dataset, "target %": f"{target * 100:g}"}
            row["method"] = method
            for key, label in COLUMNS.items():
                scale, digits = SCALES.get(key, (1, 3))
                row[label] = mean_std(g[key], scale, digits) if key in g else "-"
            row["seeds"] = int(g["seed"].nunique()) if "seed" in g else len(g)
            rows.append(row)
    return pd.DataFrame(rows)


def _verdict(grad: pd.Series, one: pd.Series, key: str, lower: bool = False) -> str:
    """'yes (gradual vs one-shot)' when gradual is lower (``lower``) or higher than one-shot on ``key``."""
    if pd.isna(grad.get(key)) or pd.isna(one.get(key)):
        return "-"
    holds = grad[key] < one[key] if lower else grad[key] > one[key]
    return f"{'yes' if holds else 'no'} ({grad[key]:.4g} vs {one[key]:.4g})"


def claims(final: pd.DataFrame) -> pd.DataFrame:
    """Per model, dataset and target: does gradual beat one-shot as the paper claims?"""
    rows = []
    for (model, dataset, target), g in final.groupby(["model", "dataset", "target"], sort=True):
        means = g.groupby("pruner")[[c for c in COLUMNS if c in g]].mean(numeric_only=True)
        if "oneshot" not in means.index or "gradual" not in means.index:
            continue
        one, grad = means.loc["oneshot"], means.loc["gradual"]
        rows.append(
            {
                "model": model,
                "dataset": dataset,
                "target %": f"{target * 100:g}",
                "gradual lower test error": _verdict(grad, one, "test_error", lower=True),
                "gradual sharper (top eig.)": _verdict(grad, one, "hessian_top_eig"),
                "gradual sharper (eps)": _verdict(grad, one, "eps_sharpness"),
                "gradual higher PSP-entropy": _verdict(grad, one, "psp_network"),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- run files


@lru_cache(maxsize=256)
def _json(path: str) -> dict[str, Any] | None:
    p = Path(path)
    return json.loads(p.read_text()) if p.exists() else None


def sharpness_file(row: pd.Series) -> dict[str, Any] | None:
    return _json(str(Path(row["run_dir"]) / "sharpness" / f"step_{int(row['step'])}.json"))


def metrics_file(row: pd.Series) -> dict[str, Any] | None:
    return _json(str(Path(row["run_dir"]) / "metrics" / f"step_{int(row['step'])}.json"))


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    return save_figure(fig, out_dir, stem)


def _panels(n: int, rows: int = 1, width: float = 4.0, height: float = 3.2, constrained: bool = False):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = (width * n, height * rows)
    fig, axes = plt.subplots(rows, n, figsize=size, squeeze=False, constrained_layout=constrained)
    return fig, axes


def _methods(group: pd.DataFrame) -> list[str]:
    return [m for m in METHODS if m in set(group["pruner"])]


# --------------------------------------------------------------------------- figures


def figure_curve1d(group: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    targets = sorted(group["target"].unique())
    fig, axes = _panels(len(targets))
    drawn = False
    for ax, target in zip(axes[0], targets):
        for method in _methods(group):
            curves = [
                f["curve1d"]
                for _, r in group[(group["target"] == target) & (group["pruner"] == method)].iterrows()
                if (f := sharpness_file(r)) and "curve1d" in f
            ]
            if not curves:
                continue
            alpha = curves[0]["alpha"]
            loss = np.mean([c["loss"] for c in curves], axis=0)
            ax.plot(alpha, loss, color=COLORS[method], label=f"{method} (n={len(curves)})")
            drawn = True
        ax.set_title(f"sparsity {target * 100:g} %")
        ax.set_xlabel("alpha (filter-normalised direction)")
        ax.set_ylabel("training loss")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    return _save(fig, out_dir, f"curve1d_{stem}") if drawn else _close(fig)


def figure_surface2d(group: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    targets = sorted(group["target"].unique())
    methods = _methods(group)
    fig, axes = _panels(len(targets), rows=len(methods), width=3.6, height=3.3)
    drawn = False
    for j, target in enumerate(targets):
        surfaces = {}
        for method in methods:
            rows = group[(group["target"] == target) & (group["pruner"] == method)]
            files = [f for _, r in rows.iterrows() if (f := sharpness_file(r)) and "surface2d" in f]
            if files:
                surfaces[method] = files[0]["surface2d"]
        if not surfaces:
            continue
        levels = np.logspace(
            np.log10(max(min(np.min(s["loss"]) for s in surfaces.values()), 1e-4)),
            np.log10(max(np.max(s["loss"]) for s in surfaces.values())),
            15,
        )
        for i, method in enumerate(methods):
            ax = axes[i][j]
            if method not in surfaces:
                ax.axis("off")
                continue
            s = surfaces[method]
            cs = ax.contour(s["alpha"], s["beta"], np.array(s["loss"]).T, levels=levels, cmap="viridis")
            ax.clabel(cs, fontsize=6, fmt="%.2g")
            ax.plot([0], [0], "k+")
            ax.set_title(f"{method}, sparsity {target * 100:g} %", fontsize=9)
            drawn = True
    return _save(fig, out_dir, f"surface2d_{stem}") if drawn else _close(fig)


def figure_interpolation(group: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    targets = sorted(group["target"].unique())
    fig, axes = _panels(len(targets))
    drawn = False
    order = {m: i for i, m in enumerate(METHODS)}
    for ax, target in zip(axes[0], targets):
        for _, r in group[group["target"] == target].iterrows():
            f = sharpness_file(r)
            for c in (f or {}).get("interpolation", []):
                a, b = c["pruner"], c["partner_pruner"]
                t, loss = np.array(c["t"]), np.array(c["loss"])
                if order.get(a, 9) > order.get(b, 9):  # t = 0 at the method listed first (one-shot)
                    a, b, t = b, a, 1.0 - t
                ax.plot(t, loss, marker=".", label=f"{a} (t=0) -> {b} (t=1)")
                drawn = True
        ax.set_title(f"sparsity {target * 100:g} %")
        ax.set_xlabel("t")
        ax.set_ylabel("training loss")
        ax.legend(fontsize=7)
    return _save(fig, out_dir, f"interpolation_{stem}") if drawn else _close(fig)


def _psp(row: pd.Series) -> dict[str, Any]:
    f = metrics_file(row) or {}
    return {"neurons": f.get("psp/neuron_entropy", {}), "matrices": f.get("psp/matrices", {})}


def figure_psp_histograms(group: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    targets = sorted(group["target"].unique())
    first = next((p for _, r in group.iterrows() if (p := _psp(r))["neurons"]), None)
    if first is None:
        return []
    layers = list(first["neurons"])
    fig, axes = _panels(len(layers), rows=len(targets), width=3.4, height=2.6)
    for i, target in enumerate(targets):
        for method in _methods(group):
            rows = group[(group["target"] == target) & (group["pruner"] == method)]
            psp = next((p for _, r in rows.iterrows() if (p := _psp(r))["neurons"]), None)
            if psp is None:
                continue
            for j, layer in enumerate(layers):
                values = np.asarray(psp["neurons"].get(layer, []), dtype=float)
                axes[i][j].hist(
                    values, bins=30, alpha=0.5, color=COLORS[method], label=f"{method} ({values.mean():.2f})"
                )
        for j, layer in enumerate(layers):
            axes[i][j].set_title(f"{layer}, sparsity {target * 100:g} %", fontsize=9)
            if i == len(targets) - 1:
                axes[i][j].set_xlabel("PSP-entropy of a neuron (bits)")
            axes[i][j].legend(fontsize=7)
    return _save(fig, out_dir, f"psp_hist_{stem}")


def figure_psp_matrix(group: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    """The last hidden layer's [neurons x classes] entropies, neurons sorted by their total."""
    targets = sorted(group["target"].unique())
    methods = _methods(group)
    fig, axes = _panels(len(methods), rows=len(targets), width=3.0, height=3.3, constrained=True)
    drawn = False
    for i, target in enumerate(targets):
        for j, method in enumerate(methods):
            ax = axes[i][j]
            rows = group[(group["target"] == target) & (group["pruner"] == method)]
            psp = next((p for _, r in rows.iterrows() if (p := _psp(r))["matrices"]), None)
            if psp is None:
                ax.axis("off")
                continue
            layer = list(psp["matrices"])[-1]
            m = np.asarray(psp["matrices"][layer], dtype=float)
            m = m[np.argsort(-np.nansum(m, axis=1))]
            im = ax.imshow(m, aspect="auto", cmap="magma", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(f"{method} {layer}, {target * 100:g} %", fontsize=9)
            if i == len(targets) - 1:
                ax.set_xlabel("class")
            if j == 0:
                ax.set_ylabel("neuron (sorted by entropy)")
            drawn = True
    if drawn:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label="PSP-entropy per class (bits)")
        return save_figure(fig, out_dir, f"psp_matrix_{stem}", tight=False)
    return _close(fig)


def figure_summary(group: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    keys = [k for k in ("test_error", "hessian_top_eig", "eps_sharpness", "psp_network") if k in group]
    fig, axes = _panels(len(keys), width=3.6)
    for ax, key in zip(axes[0], keys):
        for method in _methods(group):
            g = group[group["pruner"] == method].groupby("target")[key].mean()
            ax.plot(g.index * 100, g.values, marker="o", color=COLORS[method], label=method)
        ax.set_xlabel("sparsity %")
        ax.set_title(COLUMNS[key])
        ax.legend(fontsize=8)
    return _save(fig, out_dir, f"summary_{stem}")


def _close(fig) -> list[Path]:
    import matplotlib.pyplot as plt

    plt.close(fig)
    return []


FIGURES = (
    figure_curve1d,
    figure_surface2d,
    figure_interpolation,
    figure_psp_histograms,
    figure_psp_matrix,
    figure_summary,
)


@register("sharpness", applies)
def build(df: pd.DataFrame, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = final_rows(df)
    if final.empty:
        return []
    files = write_table(table(final, dense_rows(df)), out_dir, "oneshot_vs_gradual")
    verdicts = claims(final)
    if not verdicts.empty:
        files += write_table(verdicts, out_dir, "claims")
    for (model, dataset), group in final.groupby(["model", "dataset"], sort=True):
        stem = f"{model}_{dataset}"
        for fn in FIGURES:
            files += fn(group, out_dir, stem)
    return files
