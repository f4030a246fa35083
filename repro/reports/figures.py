"""The one figure writer: PNG and PDF side by side, curves as the mean over seeds with a 95 % band.

Colours follow the method labels found in the records (one palette for a whole report, so a method keeps
its colour across figures); nothing here knows a pruner.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from repro.reports.runs import CONFIG
from repro.reports.settings import groups, label, per_seed, setting_keys, tag
from repro.reports.stats import describe

CAPTION = "mean over seeds; band: 95 % interval"


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only backend (the aggregator also runs on headless machines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, out_dir: Path, stem: str, dpi: int = 150, tight: bool = True) -> list[Path]:
    """Write ``fig`` as PNG and PDF (papers want vectors, READMEs want pixels) and close it."""
    plt = pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    if tight:
        fig.tight_layout()
    # No creation date and no software version in the files: the same records give the same bytes, so a
    # re-aggregation changes only the figures whose data changed.
    stamps = {".png": {"Software": None}, ".pdf": {"CreationDate": None, "Producer": None, "Creator": None}}
    for path in paths:
        fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata=stamps[path.suffix])
    plt.close(fig)
    return paths


def close(fig: Any) -> list[Path]:
    """Drop a figure that ended up with nothing to draw."""
    pyplot().close(fig)
    return []


def panels(n: int, rows: int = 1, width: float = 4.0, height: float = 3.2, **kw: Any) -> tuple[Any, Any]:
    """A figure with ``rows`` x ``n`` axes (always a 2-D array)."""
    plt = pyplot()
    return plt.subplots(rows, max(n, 1), figsize=(width * max(n, 1), height * rows), squeeze=False, **kw)


def palette(labels: Iterable[Any]) -> dict[str, Any]:
    """A colour per method label, fixed by the labels' sorted order."""
    import matplotlib

    names = sorted({str(label) for label in labels})
    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def curve(rows: pd.DataFrame, y: str, x: str = "step", scale: float = 1.0) -> pd.DataFrame:
    """Per value of ``x``: mean, 95 % interval and number of seeds of ``y`` (times ``scale``)."""
    out = []
    for value, part in rows.groupby(x, sort=True):
        s = describe(per_seed(part, y, scale))
        if s.n:
            out.append({x: value, "mean": s.mean, "low": s.low, "high": s.high, "n": s.n})
    return pd.DataFrame(out, columns=[x, "mean", "low", "high", "n"]).set_index(x)


def array_stats(arrays: Sequence[Sequence[float]]) -> pd.DataFrame:
    """Point-wise mean, 95 % interval and count over seeds of equally long arrays (one per seed)."""
    matrix = [list(map(float, a)) for a in arrays]
    rows = [describe(column) for column in zip(*matrix)]
    return pd.DataFrame(
        {
            "mean": [s.mean for s in rows],
            "low": [s.low for s in rows],
            "high": [s.high for s in rows],
            "n": [s.n for s in rows],
        }
    )


def band(ax: Any, stats: pd.DataFrame, label: str, color: Any, x: Any = None, **kw: Any) -> None:
    """The mean as a line with markers, the 95 % interval as a shaded band (where there are 2+ seeds)."""
    xs = stats.index if x is None else x
    kw.setdefault("marker", "o")
    kw.setdefault("markersize", 3)
    ax.plot(xs, stats["mean"], label=label, color=color, **kw)
    if (stats["n"] > 1).any():
        low = stats["low"].fillna(stats["mean"])
        high = stats["high"].fillna(stats["mean"])
        ax.fill_between(xs, low, high, color=color, alpha=0.2, linewidth=0)


def errorbars(ax: Any, xs: pd.DataFrame, ys: pd.DataFrame, label: str, color: Any, **kw: Any) -> None:
    """Mean of ``ys`` against mean of ``xs`` (both from :func:`curve`, same index) with 95 % error bars."""
    common = xs.index.intersection(ys.index)
    xs, ys = xs.loc[common], ys.loc[common]

    def err(s: pd.DataFrame) -> Any:
        return [
            (s["mean"] - s["low"]).fillna(0).clip(lower=0),
            (s["high"] - s["mean"]).fillna(0).clip(lower=0),
        ]

    ax.errorbar(xs["mean"], ys["mean"], xerr=err(xs), yerr=err(ys), label=label, color=color, capsize=2, **kw)


def integer_steps(fig: Any) -> None:
    """Whole-number ticks on every linear x axis (steps)."""
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:
        if ax.get_xscale() == "linear":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))


NAMES = ("model", "dataset")


def figure_groups(rows: pd.DataFrame, exclude: Sequence[str] = ()) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """(file tag, title, rows) per model and data set and per other varying setting, leaving out the
    method and ``exclude`` (what one figure shows side by side)."""
    base = [n for n in NAMES if n in rows]
    skip = {"method", *exclude, *(f"{CONFIG}{n}.name" for n in NAMES)}
    extra = [k for k in setting_keys(rows) if k not in skip]
    for values, part in groups(rows, base + extra):
        more = {k: values[k] for k in extra}
        stem = "_".join(str(values[n]) for n in base) + (f"_{tag(more, extra)}" if more else "")
        title = " on ".join(str(values[n]) for n in base)
        title += "".join(f", {label(k, extra)}={v}" for k, v in more.items())
        yield stem, title, part
