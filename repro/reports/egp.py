"""EGP report: the depth table and figures from the records of EGP and IMP runs.

Table (``egp_table.{csv,md,tex}``, printed too): model x dataset x method x step, mean ± std over seeds:
top-1 %, nominal and real sparsity % (over every conv/linear weight, and over the rectified layers alone),
and the removed (zero-entropy) layers out of the rectified ones (17 for ResNet-18, 12 for Swin-T). The
retrain-from-scratch ablation (``pruner.scratch=true``) appears as method ``egp-scratch``.
``depth.{csv,md,tex}``: the shallower network built after the last pruning step against the pruned one
(layers, parameters, FLOPs, latency, test accuracy). ``claims.md`` checks the paper's claims.

Figures per model and dataset (PNG and PDF): top-1 vs real sparsity for EGP and IMP; per method, stacked
bars of always-OFF / always-ON / mixed neurons of every layer at every step; per method, the entropy of
every layer at every step.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from repro.aggregate import write_table
from repro.reports import mean_std, register, save_figure
from repro.store import atomic_write

METHODS = ("egp", "imp")
COLORS = {"egp": "tab:red", "imp": "tab:blue", "egp-scratch": "tab:gray"}
STATES = (
    ("off", "always OFF", "tab:gray"),
    ("on", "always ON", "tab:orange"),
    ("mixed", "mixed", "tab:green"),
)


def applies(df: pd.DataFrame) -> bool:
    return "pruner" in df.columns and bool(df["pruner"].isin(METHODS).any())


@cache
def _config(run_dir: str) -> dict[str, Any]:
    path = Path(run_dir) / "config.yaml"
    return OmegaConf.to_container(OmegaConf.load(path)) if path.exists() else {}  # type: ignore[return-value]


@cache
def _json(path: str) -> dict[str, Any] | None:
    p = Path(path)
    return json.loads(p.read_text()) if p.exists() else None


def metrics_of(row: pd.Series) -> dict[str, Any]:
    return _json(str(Path(row["run_dir"]) / "metrics" / f"step_{int(row['step'])}.json")) or {}


def method(row: pd.Series) -> str:
    """The pruner's name; the step after an EGP run's last pruning step is its from-scratch ablation."""
    pruner = _config(row["run_dir"]).get("pruner", {})
    if pruner.get("scratch") and int(row["step"]) > int(pruner.get("steps", row["step"])):
        return f"{row['pruner']}-scratch"
    return str(row["pruner"])


def rows(df: pd.DataFrame) -> pd.DataFrame:
    """The ok steps of the runs this report reads, labelled with their method."""
    ok = df[df["pruner"].isin(METHODS)] if "pruner" in df else df.iloc[:0]
    ok = ok[ok["status"] == "ok"].copy() if "status" in ok else ok.copy()
    if ok.empty:
        return ok
    ok["method"] = ok.apply(method, axis=1)
    return ok


def _removed(group: pd.DataFrame) -> str:
    if "egp_removed_layers" not in group:
        return "-"
    removed = pd.to_numeric(group["egp_removed_layers"], errors="coerce").dropna()
    layers = pd.to_numeric(group.get("egp_layers", pd.Series(dtype=float)), errors="coerce").dropna()
    if removed.empty:
        return "-"
    value = f"{removed.iloc[0]:.0f}" if removed.nunique() == 1 else f"{removed.mean():.1f}"
    return f"{value}/{layers.max():.0f}" if not layers.empty else value


def table(ok: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (model, dataset, meth, step), g in ok.groupby(["model", "dataset", "method", "step"], sort=True):
        out.append(
            {
                "model": model,
                "dataset": dataset,
                "method": meth,
                "step": int(step),
                "nominal sparsity %": mean_std(g.get("nominal_sparsity", pd.Series(dtype=float)), 100),
                "real sparsity %": mean_std(g["sparsity"], 100),
                "rectified-layer sparsity %": mean_std(
                    g.get("egp_rectified_sparsity", pd.Series(dtype=float)), 100
                ),
                "top-1 %": mean_std(g["test_acc"], 100),
                "removed layers": _removed(g),
                "seeds": int(g["seed"].nunique()) if "seed" in g else len(g),
            }
        )
    return pd.DataFrame(out)


DEPTH_COLUMNS = {
    "depth_removed_layers": "removed layers (built)",
    "depth_zero_entropy_layers": "zero-entropy layers",
    "depth_rectifiers": "rectifiers",
    "depth_shallow_rectifiers": "rectifiers (shallow)",
    "depth_weight_layers": "conv/linear",
    "depth_shallow_weight_layers": "conv/linear (shallow)",
    "depth_params": "params",
    "depth_shallow_params": "params (shallow)",
    "depth_nonzero_params": "non-zero params",
    "depth_shallow_nonzero_params": "non-zero params (shallow)",
    "depth_flops": "FLOPs/sample",
    "depth_shallow_flops": "FLOPs/sample (shallow)",
    "depth_latency_ms": "latency ms",
    "depth_shallow_latency_ms": "latency ms (shallow)",
    "depth_test_acc": "top-1 %",
    "depth_shallow_test_acc": "top-1 % (shallow)",
    "depth_acc_equal": "equal",
    "depth_max_logit_diff": "max |logit diff|",
}


def depth_table(ok: pd.DataFrame) -> pd.DataFrame:
    if "depth_removed_layers" not in ok:
        return pd.DataFrame()
    built = ok[ok["depth_removed_layers"].notna()]
    out = []
    for _, r in built.sort_values(["model", "dataset", "method", "seed"]).iterrows():
        row = {"model": r["model"], "dataset": r["dataset"], "method": r["method"], "step": int(r["step"])}
        row["seed"] = int(r["seed"])
        for key, label in DEPTH_COLUMNS.items():
            value = r.get(key)
            if key.endswith("test_acc"):
                value = f"{100 * value:.2f}"
            elif key.endswith("latency_ms"):
                value = f"{value:.2f}"
            elif key == "depth_max_logit_diff":
                value = f"{value:.1e}"
            elif isinstance(value, float) and not isinstance(value, bool) and value == int(value):
                value = int(value)
            row[label] = value
        out.append(row)
    return pd.DataFrame(out)


def claims(ok: pd.DataFrame) -> list[str]:
    """The paper's three claims, checked per model and data set where the runs allow it."""
    lines = ["# EGP claims on these runs", ""]
    for (model, dataset), g in ok.groupby(["model", "dataset"], sort=True):
        lines.append(f"## {model} on {dataset}")
        last = {m: s[s["step"] == s["step"].max()] for m, s in g.groupby("method")}
        if "egp" in last and "imp" in last and "egp_removed_layers" in g:
            e = last["egp"]["egp_removed_layers"].mean()
            i = last["imp"]["egp_removed_layers"].mean()
            lines.append(f"- removed layers at the last step: EGP {e:.1f}, IMP {i:.1f} -> {_verdict(e > i)}")
            both = (
                g[g["method"].isin(["egp", "imp"])].groupby(["step", "method"])["test_acc"].mean().unstack()
            )
            both = both.dropna()
            if not both.empty:
                gap = 100 * (both["egp"] - both["imp"])
                lines.append(
                    f"- top-1 EGP - IMP per step (points): {', '.join(f'{v:+.2f}' for v in gap)}; "
                    f"largest drop {gap.min():+.2f}"
                )
        if "egp-scratch" in last and "egp" in g["method"].values:
            pruned = g[g["method"] == "egp"]
            final = pruned[pruned["step"] == pruned["step"].max()]["test_acc"].mean()
            scratch = last["egp-scratch"]["test_acc"].mean()
            lines.append(
                f"- pruned-then-retrained {100 * final:.2f} % vs same shallow net from scratch "
                f"{100 * scratch:.2f} % -> {_verdict(final > scratch)}"
            )
        lines.append("")
    return lines


def _verdict(ok: bool) -> str:
    return "holds" if ok else "does not hold"


# --------------------------------------------------------------------------- figures


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    return save_figure(fig, out_dir, stem)


def figure_accuracy(g: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for meth, s in g.groupby("method"):
        if meth.endswith("-scratch"):
            for _, r in s.iterrows():
                ax.scatter(100 * r["sparsity"], 100 * r["test_acc"], marker="x", color=COLORS.get(meth, "k"))
            continue
        mean = s.groupby("step")[["sparsity", "test_acc"]].mean()
        ax.plot(100 * mean["sparsity"], 100 * mean["test_acc"], "o-", label=meth, color=COLORS.get(meth))
        if "egp_removed_layers" in s:
            removed = s.groupby("step")["egp_removed_layers"].mean()
            for step, (x, y) in mean.iterrows():
                if removed.get(step, 0) > 0:
                    ax.annotate(
                        f"{removed[step]:.0f}",
                        (100 * x, 100 * y),
                        fontsize=7,
                        xytext=(2, 3),
                        textcoords="offset points",
                        color=COLORS.get(meth),
                    )
    ax.set_xlabel("real sparsity % (labels: removed layers)")
    ax.set_ylabel("top-1 %")
    ax.set_title(stem.replace("_", " "), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out_dir, f"accuracy_vs_sparsity_{stem}")


def _first_run(s: pd.DataFrame) -> pd.DataFrame:
    run = sorted(s["run_dir"].unique())[0]
    return s[s["run_dir"] == run].sort_values("step")


def figure_states(g: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    """Per method: one panel per step, a stacked bar of neuron states per layer (first seed)."""
    plt = _plt()
    files: list[Path] = []
    for meth, s in g.groupby("method"):
        run = [(int(r["step"]), metrics_of(r)) for _, r in _first_run(s).iterrows()]
        run = [(k, m) for k, m in run if "egp/mixed" in m]
        if not run:
            continue
        cols = min(len(run), 5)
        nrows = int(np.ceil(len(run) / cols))
        fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.6 * nrows), squeeze=False)
        for ax, (step, m) in zip(axes.flat, run):
            layers = list(m["egp/mixed"])
            totals = np.array([m["egp/off"][k] + m["egp/on"][k] + m["egp/mixed"][k] for k in layers], float)
            bottom = np.zeros(len(layers))
            for key, label, color in STATES:
                frac = np.array([m[f"egp/{key}"][k] for k in layers]) / np.maximum(totals, 1)
                ax.bar(range(len(layers)), frac, bottom=bottom, color=color, label=label, width=0.85)
                bottom += frac
            ax.set_title(f"step {step}", fontsize=8)
            ax.set_xticks(range(len(layers)))
            ax.set_xticklabels(range(1, len(layers) + 1), fontsize=6)
            ax.set_ylim(0, 1)
        for ax in list(axes.flat)[len(run) :]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=6, loc="lower left")
        fig.suptitle(f"{stem.replace('_', ' ')}, {meth}: neurons per layer", fontsize=9)
        files += _save(fig, out_dir, f"neuron_states_{stem}_{meth}")
    return files


def figure_entropy(g: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    """Per method: the entropy of every layer (rows) at every step (columns), first seed."""
    plt = _plt()
    files: list[Path] = []
    for meth, s in g.groupby("method"):
        run = [(int(r["step"]), metrics_of(r)) for _, r in _first_run(s).iterrows()]
        run = [(k, m) for k, m in run if "egp/entropy" in m]
        if not run:
            continue
        layers = list(run[0][1]["egp/entropy"])
        grid = np.array([[m["egp/entropy"].get(k, np.nan) for _, m in run] for k in layers])
        fig, ax = plt.subplots(figsize=(1.2 + 0.45 * len(run), 0.9 + 0.22 * len(layers)))
        im = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(run)))
        ax.set_xticklabels([k for k, _ in run], fontsize=7)
        ax.set_yticks(range(len(layers)))
        ax.set_yticklabels(layers, fontsize=6)
        ax.set_xlabel("step")
        for (i, j), v in np.ndenumerate(grid):
            if v == 0:
                ax.text(j, i, "0", ha="center", va="center", fontsize=6, color="white")
        fig.colorbar(im, ax=ax, label="entropy (bits)")
        ax.set_title(f"{stem.replace('_', ' ')}, {meth}", fontsize=9)
        files += _save(fig, out_dir, f"entropy_{stem}_{meth}")
    return files


@register("egp", applies)
def build(df: pd.DataFrame, out_dir: Path) -> list[Path]:
    ok = rows(df)
    if ok.empty:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    main = table(ok)
    files += write_table(main, out_dir, "egp_table")
    print("[repro] EGP table (removed layers per step):")
    print(main.to_markdown(index=False))
    depth = depth_table(ok)
    if not depth.empty:
        files += write_table(depth, out_dir, "depth")
        print(depth.to_markdown(index=False))
    claims_path = out_dir / "claims.md"
    atomic_write(claims_path, ("\n".join(claims(ok)) + "\n").encode())
    files.append(claims_path)
    for (model, dataset), g in ok.groupby(["model", "dataset"], sort=True):
        stem = f"{model}_{dataset}"
        files += figure_accuracy(g, out_dir, stem)
        files += figure_states(g, out_dir, stem)
        files += figure_entropy(g, out_dir, stem)
    return files
