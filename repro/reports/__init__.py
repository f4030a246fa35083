"""Paper reports: each turns the tidy records frame into one paper's tables and figures.

A report module registers itself with :func:`register`; :func:`build_reports` runs every report whose
runs are present in the frame (or the ones asked for by name).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from repro.errors import check_choice


@dataclass
class Report:
    name: str
    applies: Callable[[pd.DataFrame], bool]
    build: Callable[[pd.DataFrame, Path], list[Path]]


REPORTS: dict[str, Report] = {}
MODULES = ("repro.reports.sap", "repro.reports.egp", "repro.reports.sharpness")


def mean_std(values: pd.Series, scale: float = 1.0, digits: int = 2) -> str:
    """``mean ± std`` over seeds of ``values * scale`` (just the value for one seed, ``-`` for none)."""
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return "-"
    if len(values) == 1:
        return f"{values.iloc[0] * scale:.{digits}f}"
    return f"{values.mean() * scale:.{digits}f} ± {values.std(ddof=1) * scale:.{digits}f}"


def save_figure(fig, out_dir: Path, stem: str, dpi: int = 150, tight: bool = True) -> list[Path]:
    """Write ``fig`` as PNG and PDF (papers want vectors, READMEs want pixels) and close it."""
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    if tight:
        fig.tight_layout()
    for path in paths:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return paths


def register(name: str, applies: Callable[[pd.DataFrame], bool]):
    def deco(fn: Callable[[pd.DataFrame, Path], list[Path]]):
        REPORTS[name] = Report(name, applies, fn)
        return fn

    return deco


def _load() -> None:
    for module in MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def build_reports(df: pd.DataFrame, out_dir: Path, names: list[str] | None = None) -> list[Path]:
    _load()
    if names:
        for name in names:
            check_choice("--report", name, sorted(REPORTS))
    chosen = [REPORTS[n] for n in names] if names else [r for r in REPORTS.values() if r.applies(df)]
    files: list[Path] = []
    for report in chosen:
        files += report.build(df, Path(out_dir) / report.name)
    return files
