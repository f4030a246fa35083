"""The SAP paper's figures and table, built from the records of SAP, lottery-ticket and one-shot runs.

Per (model, data set): accuracy vs percent of remaining weights (one panel per scope), PQI vs step, remaining
weights and PQI of the first, middle and last layer, PQI heat maps over the (p, q) grid at a few steps (runs
with ``pruner.pqi_grid=true``), and the ablations over p, q, eta and gamma when such SAP variants are present.
Curves are the mean over seeds with a +- std band. The table lists method x scope x step with accuracy,
remaining weights and PQI (mean +- std), beside the approximate readings of the paper's plots.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from repro.reports import mean_std, register, save_figure

METHODS = ("sap", "sap_1_2", "lottery", "oneshot_rewind")
SCOPES = ("global", "layer", "neuron")
HEADLINE = ("SAP(0.5,1)", "SAP(1,2)", "LT", "OS")
COLORS = {"SAP(0.5,1)": "tab:red", "SAP(1,2)": "tab:orange", "LT": "tab:blue", "OS": "tab:green"}

# Approximate readings of the authors' plots (PAPERS.md section 2); no table values were published.
PAPER_READINGS: list[dict[str, Any]] = [
    {
        "model": "cnn",
        "dataset": "cifar10",
        "scope": "global",
        "method": "LT",
        "step": 30,
        "field": "test acc %",
        "paper": 82.0,
    },
    {
        "model": "cnn",
        "dataset": "cifar10",
        "scope": "global",
        "method": "SAP(0.5,1)",
        "step": 30,
        "field": "test acc %",
        "paper": 77.0,
    },
    {
        "model": "cnn",
        "dataset": "cifar10",
        "scope": "global",
        "method": "OS",
        "step": 30,
        "field": "test acc %",
        "paper": 58.0,
    },
    {
        "model": "cnn",
        "dataset": "cifar10",
        "scope": "global",
        "method": "SAP(1,2)",
        "step": 30,
        "field": "test acc %",
        "paper": 25.0,
    },
    {
        "model": "preact_resnet18",
        "dataset": "cifar10",
        "scope": "global",
        "method": "SAP(0.5,1)",
        "step": 0,
        "field": "test acc %",
        "paper": 95.0,
    },
    {
        "model": "preact_resnet18",
        "dataset": "cifar10",
        "scope": "global",
        "method": "SAP(0.5,1)",
        "step": 1,
        "field": "remaining %",
        "paper": 70.0,
    },
]


def applies(df: pd.DataFrame) -> bool:
    if "pruner" not in df:
        return False
    names = df["pruner"].astype(str)
    return bool((names.str.startswith("sap") | (names == "oneshot_rewind")).any())


# --------------------------------------------------------------------------- frame


@lru_cache(maxsize=4096)
def _pruner_config(run_dir: str) -> dict[str, Any]:
    from omegaconf import OmegaConf

    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        return {}
    node = OmegaConf.load(path).get("pruner", {})
    return dict(OmegaConf.to_container(node, resolve=False))  # type: ignore[arg-type]


def _num(v: Any) -> str:
    return f"{float(v):g}"


def method_label(pruner: str, cfg: dict[str, Any]) -> str:
    """SAP(p,q) (with eta, gamma, beta when not the defaults), LT, OS, or the pruner's name."""
    if pruner == "lottery":
        return "LT"
    if pruner == "oneshot_rewind":
        return "OS"
    if "p" in cfg and "q" in cfg and str(cfg.get("_target_", "")).endswith("SAPPruner"):
        extra = [
            f"{k}={_num(cfg[k])}"
            for k, d in (("eta", 0.0), ("gamma", 1.0), ("beta", 0.9))
            if float(cfg.get(k, d)) != d
        ]
        return f"SAP({_num(cfg['p'])},{_num(cfg['q'])}{''.join(',' + e for e in extra)})"
    return pruner


def sap_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The SAP-related rows that trained fine, with a ``method`` label and the SAP settings as columns."""
    keep = df["pruner"].isin(METHODS) | df["pruner"].astype(str).str.startswith("sap")
    out = df[keep].copy()
    if "status" in out:
        out = out[out["status"].fillna("ok") == "ok"]
    cfgs = [
        _pruner_config(str(r)) if isinstance(r, str) else {} for r in out.get("run_dir", [None] * len(out))
    ]
    out["method"] = [method_label(p, c) for p, c in zip(out["pruner"], cfgs)]
    for key, default in (("p", None), ("q", None), ("eta", 0.0), ("gamma", 1.0), ("beta", 0.9)):
        out[f"sap_{key}"] = [c.get(key, default) if "p" in c else None for c in cfgs]
    out["remaining_pct"] = 100.0 * (1.0 - out["sparsity"].astype(float))
    out["acc_pct"] = 100.0 * out["test_acc"].astype(float)
    return out


def _ordered(methods) -> list[str]:
    methods = list(dict.fromkeys(methods))
    return [m for m in HEADLINE if m in methods] + sorted(m for m in methods if m not in HEADLINE)


def _stats(group: pd.DataFrame, column: str) -> pd.DataFrame:
    g = group.groupby("step")[column]
    return pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1).fillna(0.0), "n": g.count()})


# --------------------------------------------------------------------------- figures


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:
        if ax.get_xscale() == "linear":  # steps are whole numbers
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return save_figure(fig, out_dir, stem)


def _band(ax, x, stats: pd.DataFrame, label: str, color: str | None, **kw) -> None:
    ax.plot(x, stats["mean"], label=label, color=color, marker=kw.pop("marker", "o"), markersize=3, **kw)
    if (stats["n"] > 1).any():
        ax.fill_between(x, stats["mean"] - stats["std"], stats["mean"] + stats["std"], color=color, alpha=0.2)


def tradeoff_figure(frame: pd.DataFrame, out_dir: Path, stem: str, title: str) -> list[Path]:
    """Accuracy vs percent of remaining weights, one panel per scope, the headline methods only."""
    import matplotlib.pyplot as plt

    scopes = [s for s in SCOPES if s in set(frame["scope"])]
    fig, axes = plt.subplots(1, len(scopes), figsize=(4.2 * len(scopes), 3.6), squeeze=False, sharey=True)
    for ax, scope in zip(axes[0], scopes):
        part = frame[frame["scope"] == scope]
        for method in _ordered(m for m in part["method"] if m in HEADLINE):
            group = part[part["method"] == method]
            acc, rem = _stats(group, "acc_pct"), _stats(group, "remaining_pct")
            _band(ax, rem["mean"], acc, method, COLORS.get(method))
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("remaining weights (%)")
        ax.set_title(f"{scope}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, out_dir, stem)


def trajectory_figure(frame: pd.DataFrame, out_dir: Path, stem: str, title: str) -> list[Path]:
    """PQI (p=0.5, q=1) vs step per scope: global PQI of every run, mean neuron PQI dashed, Gini dotted."""
    import matplotlib.pyplot as plt

    scopes = [s for s in SCOPES if s in set(frame["scope"])]
    fig, axes = plt.subplots(2, len(scopes), figsize=(4.2 * len(scopes), 6.4), squeeze=False, sharex=True)
    for col, scope in enumerate(scopes):
        part = frame[frame["scope"] == scope]
        for method in _ordered(m for m in part["method"] if m in HEADLINE):
            group = part[part["method"] == method]
            color = COLORS.get(method)
            s = _stats(group, "pqi")
            _band(axes[0][col], s.index, s, method, color)
            if "pqi_neuron" in group:
                n = _stats(group, "pqi_neuron")
                axes[0][col].plot(n.index, n["mean"], color=color, linestyle="--", linewidth=0.8)
            g = _stats(group, "gini")
            axes[1][col].plot(g.index, g["mean"], color=color, marker="o", markersize=3, label=method)
        axes[0][col].set_title(f"{scope} (solid: global PQI, dashed: mean neuron PQI)", fontsize=8)
        axes[1][col].set_xlabel("pruning step")
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("PQ Index (p=0.5, q=1)")
    axes[1][0].set_ylabel("Gini index")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, out_dir, stem)


def _layer_series(group: pd.DataFrame, column: str, layer: str) -> pd.DataFrame:
    values = group.assign(v=[d.get(layer) if isinstance(d, dict) else None for d in group[column]])
    return _stats(values.dropna(subset=["v"]), "v")


def layer_figure(frame: pd.DataFrame, out_dir: Path, stem: str, title: str) -> list[Path] | None:
    """Remaining weights and PQI of the first, middle and last prunable layer vs step, per method."""
    import matplotlib.pyplot as plt

    if "layer_pqi" not in frame or frame["layer_pqi"].dropna().empty:
        return None
    first = next(d for d in frame["layer_pqi"] if isinstance(d, dict))
    names = list(first)
    picks = list(dict.fromkeys([names[0], names[len(names) // 2], names[-1]]))
    fig, axes = plt.subplots(2, len(picks), figsize=(4.0 * len(picks), 6.0), squeeze=False, sharex=True)
    for col, layer in enumerate(picks):
        for method in _ordered(m for m in frame["method"] if m in HEADLINE):
            group = frame[frame["method"] == method]
            color = COLORS.get(method)
            rem = _layer_series(group, "layer_remaining", layer)
            rem = rem.assign(mean=100.0 * rem["mean"], std=100.0 * rem["std"])
            pqi = _layer_series(group, "layer_pqi", layer)
            _band(axes[0][col], rem.index, rem, method, color)
            _band(axes[1][col], pqi.index, pqi, method, color)
        axes[0][col].set_title(layer, fontsize=9)
        axes[0][col].set_yscale("log")
        axes[1][col].set_xlabel("pruning step")
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("remaining weights (%)")
    axes[1][0].set_ylabel("layer PQ Index (p=0.5, q=1)")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, out_dir, stem)


def heatmap_figure(frame: pd.DataFrame, out_dir: Path, stem: str, title: str) -> list[Path] | None:
    """Global PQI over the (p, q) grid (mean over seeds) at step 0, at the low and the peak of the PQI
    (p=0.5, q=1) trajectory, and at the last step."""
    import matplotlib.pyplot as plt
    import numpy as np

    series = frame.groupby("step")["pqi"].mean().sort_index()
    steps = list(series.index)
    turns = _turns(series.to_numpy()) if len(steps) > 1 else (0, 0)
    picks = sorted({steps[0], steps[turns[0]], steps[turns[1]], steps[-1]})
    grids: dict[int, Any] = {}
    axes_pq: tuple[list[float], list[float]] | None = None
    for step in picks:
        stack = []
        for run_dir in frame[frame["step"] == step]["run_dir"]:
            path = Path(run_dir) / "pqi" / f"step_{step}.json"
            if path.exists():
                data = json.loads(path.read_text())
                stack.append(np.asarray(data["global"]))
                axes_pq = (data["p"], data["q"])
        if stack:
            grids[step] = np.mean(stack, axis=0)
    if not grids or axes_pq is None:
        return None
    ps, qs = axes_pq
    vmax = max(float(g.max()) for g in grids.values())
    fig, axes = plt.subplots(1, len(grids), figsize=(3.4 * len(grids), 3.4), squeeze=False)
    for ax, (step, grid) in zip(axes[0], grids.items()):
        im = ax.imshow(
            grid,
            origin="lower",
            aspect="auto",
            vmin=0.0,
            vmax=vmax,
            cmap="viridis",
            extent=(qs[0] - 0.05, qs[-1] + 0.05, ps[0] - 0.05, ps[-1] + 0.05),
        )
        ax.set_xlabel("q")
        if ax is axes[0][0]:
            ax.set_ylabel("p")
        ax.set_title(f"step {step}", fontsize=9)
    fig.colorbar(im, ax=list(axes[0]), shrink=0.9, label="global PQ Index")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, out_dir, stem, tight=False)


ABLATIONS = {  # family -> (fixed settings, varied key)
    "p": ({"q": 1.0, "eta": 0.0, "gamma": 1.0}, "p"),
    "q": ({"p": 1.0, "eta": 0.0, "gamma": 1.0}, "q"),
    "eta": ({"p": 0.5, "q": 1.0, "gamma": 1.0}, "eta"),
    "gamma": ({"p": 0.5, "q": 1.0, "eta": 0.0}, "gamma"),
}


def ablation_figure(frame: pd.DataFrame, out_dir: Path, stem: str, title: str) -> list[Path] | None:
    """Accuracy and remaining weights vs step for SAP variants that differ in one of p, q, eta, gamma."""
    import matplotlib.pyplot as plt

    sap = frame[frame["sap_p"].notna()]
    families = []
    for family, (fixed, key) in ABLATIONS.items():
        sel = sap
        for k, v in fixed.items():
            sel = sel[sel[f"sap_{k}"].astype(float) == v]
        if sel[f"sap_{key}"].nunique() >= 2:
            families.append((family, key, sel))
    if not families:
        return None
    fig, axes = plt.subplots(2, len(families), figsize=(4.2 * len(families), 6.0), squeeze=False, sharex=True)
    for col, (family, key, sel) in enumerate(families):
        for value in sorted(set(sel[f"sap_{key}"].astype(float))):
            group = sel[sel[f"sap_{key}"].astype(float) == value]
            label = f"{key}={value:g}"
            acc, rem = _stats(group, "acc_pct"), _stats(group, "remaining_pct")
            _band(axes[0][col], acc.index, acc, label, None)
            _band(axes[1][col], rem.index, rem, label, None)
        axes[0][col].set_title(f"ablation over {family}", fontsize=9)
        axes[0][col].legend(fontsize=7)
        axes[1][col].set_yscale("log")
        axes[1][col].set_xlabel("pruning step")
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[1][0].set_ylabel("remaining weights (%)")
    fig.suptitle(title, fontsize=10)
    return _save(fig, out_dir, stem)


# --------------------------------------------------------------------------- tables


def _paper_reading(row: dict[str, Any]) -> str:
    """The approximate plot readings for this row (``~82 acc``), or empty."""
    keys = ("model", "dataset", "scope", "method", "step")
    hits = [r for r in PAPER_READINGS if all(r[k] == row[k] for k in keys)]
    short = {"test acc %": "acc %", "remaining %": "remaining %"}
    return "; ".join(f"~{r['paper']:g} {short[r['field']]}" for r in hits)


def sap_table(frame: pd.DataFrame) -> pd.DataFrame:
    """model x dataset x method x scope x step: accuracy, remaining, PQI, Gini, pruned accuracy and PQI, and
    the paper's approximate plot reading where one exists for that row."""
    rows = []
    keys = ["model", "dataset", "method", "scope", "step"]
    for key, group in frame.groupby(keys, sort=False):
        row = dict(zip(keys, key))
        row["test acc %"] = mean_std(group["acc_pct"])
        row["remaining %"] = mean_std(group["remaining_pct"], digits=3)
        row["PQI"] = mean_std(group["pqi"], digits=4) if "pqi" in group else "-"
        row["Gini"] = mean_std(group["gini"], digits=4) if "gini" in group else "-"
        row["pruned acc %"] = mean_std(group["pruned_test_acc"], 100) if "pruned_test_acc" in group else "-"
        row["pruned PQI"] = mean_std(group["pruned_pqi"], digits=4) if "pruned_pqi" in group else "-"
        row["seeds"] = int(group["seed"].nunique()) if "seed" in group else len(group)
        row["paper (approx.)"] = _paper_reading(row)
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    order = {m: i for i, m in enumerate(_ordered(table["method"]))}
    table["_m"] = table["method"].map(order)
    table["_s"] = table["scope"].map({s: i for i, s in enumerate(SCOPES)})
    table = table.sort_values(["model", "dataset", "_m", "_s", "step"]).drop(columns=["_m", "_s"])
    return table.reset_index(drop=True)


def reference_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The paper's approximate readings beside our value for the same model, data set, scope, method, step."""
    rows = []
    for ref in PAPER_READINGS:
        sel = frame[
            (frame["model"] == ref["model"])
            & (frame["dataset"] == ref["dataset"])
            & (frame["scope"] == ref["scope"])
            & (frame["method"] == ref["method"])
            & (frame["step"] == ref["step"])
        ]
        column = "acc_pct" if ref["field"] == "test acc %" else "remaining_pct"
        ours = mean_std(sel[column]) if len(sel) else "not run"
        rows.append(
            {
                **{k: ref[k] for k in ("model", "dataset", "scope", "method", "step", "field")},
                "paper (approx., read off plots)": f"~{ref['paper']:g}",
                "ours": ours,
            }
        )
    return pd.DataFrame(rows)


def _turns(values: Any) -> tuple[int, int]:
    """(low, peak): the largest rise of the series above an earlier minimum, ``low`` < ``peak``."""
    import numpy as np

    running_min = np.minimum.accumulate(values)
    rise = values[1:] - running_min[:-1]
    peak = 1 + int(rise.argmax())
    return int(values[:peak].argmin()), peak


def pqi_shape(values: Any) -> str:
    """Name the shape of a PQI series: the paper expects it to fall, rise to a peak, then fall again.

    Changes smaller than 5 % of the series' range (at least 0.002) count as flat.
    """
    if len(values) < 3:
        return "too short"
    tol = max(2e-3, 0.05 * float(values.max() - values.min()))
    low, peak = _turns(values)
    down = values[low] < values[0] - tol
    up = values[peak] > values[low] + tol
    down_again = values[-1] < values[peak] - tol
    if down and up and down_again:
        return "down-up-down"
    if not up:
        return "falls only" if values[-1] < values[0] - tol else "flat"
    return "-".join(w for w, ok in (("down", down), ("up", up), ("down", down_again)) if ok)


def shape_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method and scope: the final point and the shape of the global PQI over the steps."""
    rows = []
    for (model, dataset, method, scope), group in frame.groupby(["model", "dataset", "method", "scope"]):
        s = group.groupby("step")["pqi"].mean().sort_index()
        values = s.to_numpy()
        low, peak = _turns(values) if len(values) > 1 else (0, 0)
        shape = pqi_shape(values)
        final = group[group["step"] == s.index[-1]]
        rows.append(
            {
                "model": model,
                "dataset": dataset,
                "method": method,
                "scope": scope,
                "final step": int(s.index[-1]),
                "final remaining %": mean_std(final["remaining_pct"], digits=3),
                "final test acc %": mean_std(final["acc_pct"]),
                "PQI step 0": f"{values[0]:.4f}",
                "PQI low (step)": f"{values[low]:.4f} ({int(s.index[low])})" if "up" in shape else "-",
                "PQI peak (step)": f"{values[peak]:.4f} ({int(s.index[peak])})" if "up" in shape else "-",
                "PQI end": f"{values[-1]:.4f}",
                "PQI shape": shape,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- report


@register("sap", applies)
def build(df: pd.DataFrame, out_dir: Path) -> list[Path]:
    from repro.aggregate import write_table

    frame = sap_frame(df)
    if frame.empty:
        return []
    out_dir = Path(out_dir)
    files: list[Path] = []
    files += write_table(sap_table(frame), out_dir, "sap_table")
    files += write_table(reference_table(frame), out_dir, "paper_reference")
    shapes = shape_summary(frame)
    if not shapes.empty:
        files += write_table(shapes, out_dir, "pqi_shape")
    for (model, dataset), group in frame.groupby(["model", "dataset"]):
        tag = f"{model}_{dataset}"
        title = f"{model} on {dataset} ({group['seed'].nunique()} seed(s); mean ± std)"
        files += tradeoff_figure(group, out_dir, f"tradeoff_{tag}", title)
        files += trajectory_figure(group, out_dir, f"pqi_trajectory_{tag}", title)
        for scope, part in group.groupby("scope"):
            files += layer_figure(part, out_dir, f"layers_{tag}_{scope}", f"{title}, {scope} scope") or []
            for method, runs in part.groupby("method"):
                label = method.replace("(", "").replace(")", "").replace(",", "_").replace("=", "")
                files += (
                    heatmap_figure(
                        runs, out_dir, f"heatmap_{tag}_{label}_{scope}", f"{method}, {scope}: {title}"
                    )
                    or []
                )
            files += (
                ablation_figure(part, out_dir, f"ablation_{tag}_{scope}", f"SAP ablations, {scope}: {title}")
                or []
            )
    return files
