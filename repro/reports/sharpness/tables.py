"""One-shot vs gradual table: the last step of every run, per method and target sparsity, mean ± std
[95 % interval] over seeds, with the dense start as a reference row and paper values beside ours.

PSP-entropy is shown as the specification defines the network value (mean over the neurons of all hidden
layers) and, second, as the mean over layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from repro.reports.reference import Reference
from repro.reports.runs import CONFIG, column
from repro.reports.settings import REPLICATE, dense_signature, setting_keys
from repro.reports.summary import caption
from repro.reports.tables import Column, stat_table
from repro.store.identity import STEP_LENGTH_KEYS

COLUMNS = (
    Column("test_error", "test error %", 100.0, 2, "%"),
    Column("sparsity", "sparsity %", 100.0, 2, "%"),
    Column("hessian_top_eig", "top Hessian eig.", 1.0, 2),
    Column("eps_sharpness", "eps-sharpness", 1.0, 3),
    Column("psp_network_neurons", "PSP-entropy, neuron mean (bits)", 1.0, 3),
    Column("psp_network", "PSP-entropy, layer mean (bits)", 1.0, 3),
)
TARGET = "target"


def final_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The last (pruned) step of every run, with its target sparsity (the pruner's, else the nominal)."""
    if rows.empty:
        return rows
    last = rows.loc[rows.groupby("run")["step"].idxmax()]
    last = last[last["step"] > 0].copy()
    target = column(last, "pruner.sparsity")
    source = last[target] if target else last.get("nominal_sparsity", last["sparsity"])
    last[TARGET] = pd.to_numeric(source, errors="coerce").fillna(last["sparsity"]).astype(float).round(4)
    return last


def dense_rows(rows: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Step 0 once per dense start and seed, as method ``dense`` (runs sharing it hold the same record)."""
    dense = rows[rows["step"] == 0].copy()
    if dense.empty:
        return dense
    dense = dense.assign(_dense=dense_signature(dense), _seed=dense[REPLICATE].astype(str))
    dense = dense.drop_duplicates(["_dense", "_seed"]).drop(columns=["_dense", "_seed"])
    dense["method"] = "dense"
    for key in keys:
        if key.startswith(f"{CONFIG}pruner.") or key == TARGET or key[len(CONFIG) :] in STEP_LENGTH_KEYS:
            dense[key] = None
    return dense


def table(final: pd.DataFrame, rows: pd.DataFrame, refs: Sequence[Reference]) -> pd.DataFrame:
    keys = setting_keys(final)
    main = stat_table(final, keys, COLUMNS, refs)
    dense = dense_rows(rows, keys)
    if dense.empty:
        out = main
    else:
        out = pd.concat([stat_table(dense, keys, COLUMNS, refs), main], ignore_index=True)
    out.attrs = main.attrs | {"caption": caption(final, "One-shot vs gradual, last step of each run")}
    return out
