"""What a row of a table is: the config values that vary among the runs, never the seed.

Two runs that differ only in their seed are replicates of one setting. Every other resolved config value that
differs among the runs being aggregated keys the rows, so different settings are never averaged together.
Keys that are functions of the keys before them (``pruner._target_`` once the method is known) are left out
of the columns: grouping by the rest gives the same rows, and the tables stay readable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from repro.reports.runs import CONFIG, normal, values
from repro.store.identity import NON_IDENTITY_KEYS, STEP_LENGTH_KEYS

REPLICATE = "seed"
IGNORED = (*NON_IDENTITY_KEYS, REPLICATE)
# Runs equal apart from these, with one dense epoch count, share their dense start (per seed): the rule of
# the dense cache itself (``repro.loop.dense.dense_key``).
DENSE_EXCLUDED = ("pruner", *STEP_LENGTH_KEYS)
DENSE_EPOCHS = "dense_epochs"  # per row: the epochs of its dense training (``identity.dense_epochs``)
ALWAYS = (f"{CONFIG}model.name", f"{CONFIG}dataset.name")  # shown whenever they vary, even if implied


def _ignored(key: str, prefixes: Sequence[str] = IGNORED) -> bool:
    return any(key == p or key.startswith(f"{p}.") for p in prefixes)


def _order(column: str) -> tuple[bool, bool, int, str]:
    """Names first (``model.name`` before ``model.width``), class paths last."""
    leaf = column.rsplit(".", 1)[-1]
    return leaf.startswith("_"), leaf != "name", column.count("."), column


def _per_run(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.drop_duplicates("run") if "run" in rows else rows


def varying(rows: pd.DataFrame) -> list[str]:
    """Config columns whose value differs among the runs of ``rows`` (seed and bookkeeping keys aside)."""
    runs = _per_run(rows)
    out = [
        c
        for c in rows.columns
        if c.startswith(CONFIG)
        and not _ignored(c[len(CONFIG) :])
        and runs[c].map(normal).nunique(dropna=False) > 1
    ]
    return sorted(out, key=_order)


def setting_keys(rows: pd.DataFrame, first: Sequence[str] = ("method",)) -> list[str]:
    """``first`` (record fields), the model and data set names when they vary, and every other varying
    config column not already determined by the keys kept."""
    runs = _per_run(rows)
    candidates = varying(rows)
    kept = [k for k in first if k in rows.columns] + [c for c in candidates if c in ALWAYS]
    for c in candidates:
        if c in kept:
            continue
        norm = pd.DataFrame({k: runs[k].map(normal) for k in [*kept, c]})
        spread = norm.groupby(kept)[c].nunique() if kept else pd.Series([norm[c].nunique()])
        if (spread > 1).any():
            kept.append(c)
    return kept


def per_seed(rows: pd.DataFrame, key: str, scale: float = 1.0) -> pd.Series:
    """One value per seed (runs repeated with the same seed and setting are averaged first)."""
    series = values(rows, key)
    if series is None or rows.empty:
        return pd.Series(dtype=float)
    numbers = pd.to_numeric(series.map(lambda v: float(v) if isinstance(v, bool) else v), errors="coerce")
    seeds = rows[REPLICATE] if REPLICATE in rows else rows["run"]
    return (numbers * scale).groupby(seeds.astype(str)).mean().dropna()


def varies(rows: pd.DataFrame, column: str) -> bool:
    """Whether ``column`` takes more than one value among the runs of ``rows``."""
    return column in rows and _per_run(rows)[column].map(normal).nunique(dropna=False) > 1


def dense_keys(rows: pd.DataFrame) -> list[str]:
    """Varying config columns outside the pruner and the step length, and the dense epoch count when it
    varies: with the seed they identify a run's dense start."""
    keys = [c for c in varying(rows) if not _ignored(c[len(CONFIG) :], DENSE_EXCLUDED)]
    return keys + [DENSE_EPOCHS] * varies(rows, DENSE_EPOCHS)


def step_length_settings(*sides: pd.DataFrame) -> list[str]:
    """Step-length columns that vary within one of ``sides``: there they are a setting of their own. A step
    length that differs only between the sides belongs to each side's method (a plateau-driven pruner
    given a longer step than the one-shot baseline it is compared with, from the same dense models)."""
    columns = [f"{CONFIG}{k}" for k in STEP_LENGTH_KEYS]
    return [c for c in columns if any(varies(side, c) for side in sides)]


def dense_signature(rows: pd.DataFrame) -> pd.Series:
    """Per row, its config outside the pruner (seed and bookkeeping aside) as text: rows with equal
    signatures were trained from the same dense model for each seed."""
    cols = [
        c
        for c in rows.columns
        if c.startswith(CONFIG)
        and not _ignored(c[len(CONFIG) :])
        and not _ignored(c[len(CONFIG) :], DENSE_EXCLUDED)
    ] + [DENSE_EPOCHS] * (DENSE_EPOCHS in rows)
    return (
        rows[cols].apply(lambda r: "|".join(normal(v) for v in r), axis=1) if cols else rows["run"].map(str)
    )


def with_partners(rows: pd.DataFrame, chosen: pd.Series) -> pd.DataFrame:
    """The ``chosen`` rows and every row that shares a dense start with one of them (their baselines)."""
    if not chosen.any():
        return rows.iloc[0:0]
    signature = dense_signature(rows)
    return rows[signature.isin(set(signature[chosen]))]


def constants(rows: pd.DataFrame, names: Sequence[str] = ("model", "dataset")) -> dict[str, Any]:
    """Values of ``names`` shared by every row (for captions and file names)."""
    out = {}
    for name in names:
        if name in rows.columns and rows[name].map(normal).nunique() == 1:
            out[name] = rows[name].iloc[0]
    return out


def label(key: str, keys: Sequence[str] = ()) -> str:
    """Column title of a key: its last part (``pruner.sparsity`` -> ``sparsity``, ``model.name`` ->
    ``model``), or the whole dotted key when two keys would get the same title."""

    def short(k: str) -> str:
        parts = k.removeprefix(CONFIG).split(".")
        return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]

    mine = short(key)
    clash = sum(short(k) == mine for k in keys) > 1 or mine in ("step", "n", "seed")
    return key.removeprefix(CONFIG) if clash and key.startswith(CONFIG) else mine


def _natural(value: Any) -> tuple[int, float, str]:
    text = normal(value)
    try:
        return 0, float(text), ""
    except ValueError:
        return 1, 0.0, text


def groups(rows: pd.DataFrame, keys: Sequence[str]) -> Iterator[tuple[dict[str, Any], pd.DataFrame]]:
    """(key values, rows) per distinct combination of ``keys``, in natural order (numbers by value)."""
    keys = list(keys)
    if rows.empty:
        return
    if not keys:
        yield {}, rows
        return
    norm = pd.DataFrame({k: rows[k].map(normal) for k in keys}, index=rows.index)
    found = []
    for _, index in norm.groupby(keys, sort=False).groups.items():
        part = rows.loc[index]
        first = part.iloc[0]
        found.append(({k: first[k] for k in keys}, part))
    found.sort(key=lambda item: [_natural(item[0][k]) for k in keys])
    yield from found


def tag(values: dict[str, Any], keys: Sequence[str] = ()) -> str:
    """A file-name part for one group: ``mlp_mnist`` or ``mlp_mnist_lr0.1``."""
    parts = [f"{label(k, keys) if k.startswith(CONFIG) else ''}{v}" for k, v in values.items()]
    return "_".join(str(p).replace("/", "-").replace(" ", "") for p in parts)
