"""EGP tables: removed layers per step (the paper's table) and the shallower network built from it.

Both average over seeds; the retrain-from-scratch ablation (``pruner.scratch=true``: the step after the
last pruning step) appears as its own method, ``<method>-scratch``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from repro.reports.reference import Reference
from repro.reports.runs import normal, values
from repro.reports.settings import setting_keys
from repro.reports.summary import caption
from repro.reports.tables import Column, stat_table

COLUMNS = (
    Column("nominal_sparsity", "nominal sparsity %", 100.0, 2, "%"),
    Column("sparsity", "real sparsity %", 100.0, 2, "%"),
    Column("egp_rectified_sparsity", "rectified-layer sparsity %", 100.0, 2, "%"),
    Column("test_acc", "top-1 %", 100.0, 2, "%"),
    Column("egp_removed_layers", "removed layers", 1.0, 1),
    Column("egp_layers", "rectified layers", 1.0, 0, agg="max"),
)

DEPTH = (
    Column("depth_removed_layers", "removed layers (built)", 1.0, 1),
    Column("depth_zero_entropy_layers", "zero-entropy layers", 1.0, 1),
    Column("depth_rectifiers", "rectifiers", 1.0, 1),
    Column("depth_shallow_rectifiers", "rectifiers (shallow)", 1.0, 1),
    Column("depth_weight_layers", "conv/linear", 1.0, 1),
    Column("depth_shallow_weight_layers", "conv/linear (shallow)", 1.0, 1),
    Column("depth_params", "params", 1.0, 0),
    Column("depth_shallow_params", "params (shallow)", 1.0, 0),
    Column("depth_nonzero_params", "non-zero params", 1.0, 0),
    Column("depth_shallow_nonzero_params", "non-zero params (shallow)", 1.0, 0),
    Column("depth_flops", "FLOPs/sample", 1.0, 0),
    Column("depth_shallow_flops", "FLOPs/sample (shallow)", 1.0, 0),
    Column("depth_latency_ms", "latency ms", 1.0, 2),
    Column("depth_shallow_latency_ms", "latency ms (shallow)", 1.0, 2),
    Column("depth_test_acc", "top-1 %", 100.0, 2, "%"),
    Column("depth_shallow_test_acc", "top-1 % (shallow)", 100.0, 2, "%"),
    Column("depth_acc_equal", "same accuracy (fraction of seeds)", 1.0, 2),
    Column("depth_max_logit_diff", "max |logit diff|", 1.0, 7),
)


def relabel(rows: pd.DataFrame) -> pd.DataFrame:
    """Steps after the last pruning step of a run with ``pruner.scratch`` are its from-scratch ablation."""
    scratch, steps = values(rows, "scratch", under="pruner"), values(rows, "steps", under="pruner")
    if scratch is None or steps is None:
        return rows
    after = scratch.map(lambda v: normal(v) == "true") & (
        rows["step"] > pd.to_numeric(steps, errors="coerce")
    )
    ablation = after & ~rows["method"].astype(str).str.endswith("-scratch")
    out = rows.copy()
    out.loc[ablation, "method"] = out.loc[ablation, "method"].astype(str) + "-scratch"
    return out


def egp_table(rows: pd.DataFrame, refs: Sequence[Reference]) -> pd.DataFrame:
    keys = [*setting_keys(rows), "step"]
    return stat_table(rows, keys, COLUMNS, refs, caption(rows, "EGP and IMP: removed (zero-entropy) layers"))


def depth_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The shallower network against the pruned one, at the steps where it was built."""
    if "depth_removed_layers" not in rows:
        return pd.DataFrame()
    built = rows[pd.to_numeric(rows["depth_removed_layers"], errors="coerce").notna()]
    if built.empty:
        return pd.DataFrame()
    keys = [*setting_keys(built), "step"]
    return stat_table(built, keys, DEPTH, caption=caption(built, "The shallower network built after pruning"))
