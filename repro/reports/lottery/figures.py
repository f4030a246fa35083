"""Lottery-ticket figures, as the paper's figures 3 and 4: the early-stop iteration and the test accuracy at
early stop against Pm (log axis, decreasing from 100 %). The ticket and its one-shot control as the mean
over seeds with a 95 % band, the random re-initialisation as points with 95 % error bars at the control
rounds, the dense network as a horizontal line with its band."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from repro.reports.figures import CAPTION, band, close, curve, panels, save_figure
from repro.reports.lottery.tables import ACC, ITER, PM, REINIT_ACC, REINIT_ITER
from repro.reports.settings import per_seed
from repro.reports.stats import describe

REINIT = "random reinit"  # the control's label: "<method>, random reinit"
DENSE_COLOR = "black"
QUANTITIES = (  # (file prefix, field, its control's field, axis label, scale)
    ("early_stop_iteration", ITER, REINIT_ITER, "early-stop iteration", 1.0),
    ("early_stop_accuracy", ACC, REINIT_ACC, "test accuracy at early stop %", 100.0),
)
TICKS = (100, 51.3, 21.1, 13.5, 6.95, 3.6, 1.8)  # labelled when there are too many rounds to label each


def _pm(rows: pd.DataFrame) -> pd.Series:
    """Step -> Pm (%): the mean remaining fraction of the step's runs."""
    return curve(rows, "remaining", x="step", scale=100.0)["mean"]


def _dense(ax: Any, rows: pd.DataFrame, field: str, scale: float) -> None:
    """Step 0 (one value per seed: the runs of a seed share it) as a line with its 95 % band."""
    s = describe(per_seed(rows[rows["step"] == 0], field, scale))
    if not s.n:
        return
    ax.axhline(s.mean, color=DENSE_COLOR, linestyle="--", linewidth=1, label=f"dense (n={s.n})")
    if s.n > 1:
        ax.axhspan(s.low, s.high, color=DENSE_COLOR, alpha=0.08, linewidth=0)


def reinit_label(method: str) -> str:
    """The legend label (and colour key) of ``method``'s random re-initialisation."""
    return f"{method}, {REINIT}"


def _reinit(ax: Any, rows: pd.DataFrame, field: str, scale: float, name: str, color: Any) -> None:
    """The control rounds' means with 95 % error bars (nothing where the runs have no control)."""
    s = curve(rows, field, x="step", scale=scale)
    if s.empty:
        return
    err = [(s["mean"] - s["low"]).fillna(0).clip(lower=0), (s["high"] - s["mean"]).fillna(0).clip(lower=0)]
    x, n = _pm(rows).reindex(s.index), int(s["n"].max())
    ax.errorbar(x, s["mean"], yerr=err, color=color, marker="s", ls="", capsize=3, label=f"{name} (n={n})")


def ticks(labels: Iterable[float]) -> list[float]:
    """The rounds' Pm labels, or with more than 8 rounds the first, the last and those in ``TICKS``."""
    present = sorted({float(p) for p in labels if pd.notna(p)}, reverse=True)
    if len(present) <= 8:
        return present
    return sorted({present[0], present[-1], *(p for p in present if p in TICKS)}, reverse=True)


def _axes(ax: Any, pm: pd.Series, labels: Iterable[float], ylabel: str) -> None:
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_xlim(105.0, 0.85 * float(pm.min()))  # decreasing from 100 %
    ticks_at = ticks(labels)
    ax.set_xticks(ticks_at)
    ax.set_xticklabels([f"{t:g}" for t in ticks_at])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("Pm: weights remaining % (log)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def pm_figures(
    rows: pd.DataFrame, colors: dict[str, Any], out_dir: Path, stem: str, title: str
) -> list[Path]:
    """``early_stop_iteration_<stem>`` and ``early_stop_accuracy_<stem>`` from ``rows`` (finished runs);
    ``colors`` has each method and its control (:func:`reinit_label`)."""
    files: list[Path] = []
    for prefix, field, control, ylabel, scale in QUANTITIES:
        fig, axes = panels(1, width=6.0, height=4.2)
        ax = axes[0][0]
        drawn = False
        for method, part in rows.groupby("method", sort=True):
            s = curve(part, field, x="step", scale=scale)
            if s.empty:
                continue
            n, name = int(s["n"].max()), reinit_label(str(method))
            band(ax, s, f"{method} (n={n})", colors[str(method)], x=_pm(part).reindex(s.index))
            _reinit(ax, part, control, scale, name, colors[name])
            drawn = True
        if not drawn:
            close(fig)
            continue
        _dense(ax, rows, field, scale)
        _axes(ax, _pm(rows), rows.get(PM, []), ylabel)
        ax.set_title(f"{title} ({CAPTION})", fontsize=9)
        files += save_figure(fig, out_dir, f"{prefix}_{stem}")
    return files
