"""The one table writer: settings x step rows with mean, std and 95 % interval over seeds, in CSV, Markdown
and LaTeX.

A table is a frame of numbers: for a quantity ``q`` the columns ``q`` (mean), ``q std``, ``q 95% low`` and
``q 95% high``; ``n`` counts the seeds averaged; ``excluded`` names the runs of the setting that were not
(diverged, running, interrupted, damaged). The CSV keeps the numbers; Markdown and LaTeX show them merged as
``mean ± std [low, high]``. Where a paper value exists for a row, ``q paper`` and ``q ours-paper`` follow.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from repro.reports.reference import matching
from repro.reports.runs import FINISHED, values
from repro.reports.settings import REPLICATE, groups, label, per_seed
from repro.reports.stats import HIGH, LOW, STD, fill
from repro.store import atomic_write

PAPER, VS_PAPER = " paper", " ours-paper"


@dataclass(frozen=True)
class Column:
    """One quantity of a table: a record field shown as ``label``, times ``scale``, in ``unit``."""

    key: str
    label: str
    scale: float = 1.0
    digits: int = 2
    unit: str = ""  # unit after scaling ("%" for fractions times 100); paper values must use the same
    agg: str = "stats"  # "stats": mean/std/interval over seeds; "max": the largest value (a count of layers)


def excluded(rows: pd.DataFrame) -> str:
    """``1 diverged, 2 running``: the runs of ``rows`` that were left out of the averages."""
    runs = rows.drop_duplicates("run")
    counts = runs[runs["state"] != FINISHED]["state"].value_counts()
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def stat_table(
    rows: pd.DataFrame,
    keys: Sequence[str],
    columns: Sequence[Column],
    references: Sequence[Any] = (),
    caption: str = "",
) -> pd.DataFrame:
    """One row per combination of ``keys``: seeds averaged (finished runs only), the excluded runs named,
    and each column's paper value beside ours wherever a reference (``repro.reports.reference``) matches."""
    present = [c for c in columns if values(rows, c.key) is not None]
    out: list[dict[str, Any]] = []
    for key_values, part in groups(rows, keys):
        row: dict[str, Any] = {label(k, keys): v for k, v in key_values.items()}
        done = part[part["state"] == FINISHED]
        row["n"] = int(done[REPLICATE].astype(str).nunique()) if REPLICATE in done else len(done)
        for c in present:
            seeds = per_seed(done, c.key, c.scale)
            if c.agg == "max":
                row[c.label] = float(seeds.max()) if len(seeds) else math.nan
                continue
            mean = fill(row, c.label, seeds)
            for ref in matching(references, part, c):
                row[c.label + PAPER] = ref.value
                row[c.label + VS_PAPER] = mean - ref.value
        row["excluded"] = excluded(part)
        out.append(row)
    table = pd.DataFrame(out)
    if not table.empty:  # each quantity's paper value beside it, whichever row first had one
        grouped = [c.label + s for c in present for s in ("", STD, LOW, HIGH, PAPER, VS_PAPER)]
        head = [c for c in table.columns if c not in grouped and c != "excluded"]
        table = table[[*head, *(c for c in grouped if c in table.columns), "excluded"]]
    table.attrs["digits"] = {c.label: c.digits for c in present} | {
        c.label + s: c.digits for c in present for s in (PAPER, VS_PAPER)
    }
    table.attrs["caption"] = caption
    return table


# --------------------------------------------------------------------------- formatting


def _number(value: Any, digits: int | None) -> str:
    """``digits`` decimals for a quantity; counts and labels as they are; ``-`` for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, numbers.Real):
        if digits is not None:
            return f"{float(value):.{digits}f}"
        return str(int(value)) if float(value).is_integer() else f"{float(value):.4g}"
    return str(value)


def display(table: pd.DataFrame) -> pd.DataFrame:
    """The table as text: ``mean ± std [low, high]`` per quantity, ``-`` where there is nothing."""
    digits: dict[str, int] = table.attrs.get("digits", {})
    merged = {c[: -len(s)] for c in table.columns for s in (STD, LOW, HIGH) if c.endswith(s)}
    out: dict[str, list[str]] = {}
    for col in table.columns:
        if any(col.endswith(s) and col[: -len(s)] in merged for s in (STD, LOW, HIGH)):
            continue
        d = digits.get(col, 2 if col in merged else None)
        cells = []
        for _, r in table.iterrows():
            text = _number(r[col], d)
            if col in merged and text != "-":
                std, low, high = (r.get(col + s, math.nan) for s in (STD, LOW, HIGH))
                if isinstance(std, float) and not math.isnan(std):
                    text += f" ± {std:.{d}f}"
                if isinstance(low, float) and not math.isnan(low):
                    text += f" [{low:.{d}f}, {high:.{d}f}]"
            cells.append(text)
        out[col] = cells
    return pd.DataFrame(out, columns=list(out))


def _latex_escape(text: str) -> str:
    for char in ("&", "%", "$", "#", "_", "{", "}"):
        text = text.replace(char, f"\\{char}")
    return text


def write_text(path: Path, text: str) -> Path:
    atomic_write(path, text.encode())
    return path


def write_table(table: pd.DataFrame, out_dir: Path, name: str) -> list[Path]:
    """``name.csv`` (numbers), ``name.md`` and ``name.tex`` (merged text), written atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    caption = table.attrs.get("caption", "")
    shown = display(table)
    md = shown.to_markdown(index=False, disable_numparse=True) if len(shown.columns) else "(empty)"
    tex = shown.to_latex(index=False, escape=True, caption=_latex_escape(caption) or None)
    return [
        write_text(out_dir / f"{name}.csv", table.to_csv(index=False)),
        write_text(out_dir / f"{name}.md", (f"{caption}\n\n" if caption else "") + md + "\n"),
        write_text(out_dir / f"{name}.tex", tex),
    ]


def markdown(table: pd.DataFrame) -> str:
    """The table as it is printed on the terminal."""
    return display(table).to_markdown(index=False, disable_numparse=True)
