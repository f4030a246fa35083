"""Lottery-ticket table: per method and round (labelled by Pm, the weights remaining, as the paper labels
it), the early-stop iteration and the test accuracy there, for the ticket and, at the control rounds, for
the same mask randomly re-initialised; changes against the dense network and against the control, with
the paper's values beside ours.

The changes are computed per run (a round against its own step 0, or its own control) before averaging
over seeds, so ``early_stop_iteration_change`` is the mean of the per-seed relative changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from repro.reports.reference import Reference
from repro.reports.settings import setting_keys
from repro.reports.summary import caption
from repro.reports.tables import Column, stat_table

PM = "Pm"  # the round's label: 100 x remaining, as the paper writes it
ITER, ACC = "early_stop_iteration", "early_stop_test_acc"
REINIT_ITER, REINIT_ACC = f"reinit_{ITER}", f"reinit_{ACC}"
ITER_CHANGE, ACC_CHANGE = f"{ITER}_change", f"{ACC}_change"  # against the dense network (step 0)
SPEEDUP, ACC_GAIN = "early_stop_speedup_vs_random_reinit", f"{ACC}_vs_random_reinit"  # ticket vs control
COLUMNS = (
    Column("remaining", "remaining %", 100.0, 2, "%"),
    Column(ITER, "early-stop iteration", 1.0, 0),
    Column(ACC, "test acc at early stop %", 100.0, 2, "%"),
    Column(REINIT_ITER, "reinit early-stop iteration", 1.0, 0),
    Column(REINIT_ACC, "reinit test acc at early stop %", 100.0, 2, "%"),
    Column(ITER_CHANGE, "early stop vs dense %", 100.0, 1, "%"),
    Column(ACC_CHANGE, "acc vs dense (points)", 100.0, 2, "points"),
    Column(SPEEDUP, "reinit / ticket early-stop iteration", 1.0, 2, "x"),
    Column(ACC_GAIN, "acc vs reinit (points)", 100.0, 2, "points"),
)


def paper_labels(refs: Sequence[Reference]) -> list[float]:
    """The paper's Pm labels (%): its ``remaining`` values."""
    return sorted({r.value for r in refs if r.metric == "remaining" and r.unit == "%"}, reverse=True)


def pm_label(remaining: float, labels: Sequence[float] = ()) -> float:
    """Pm (%) as the paper labels it: its own label when ours is within 5 % of one (rounds are 20 % apart;
    the paper's labels round unevenly: 8.7 but 6.95, and 1.8 for 1.85), else 3 significant figures."""
    pm = 100.0 * float(remaining)
    near = [p for p in labels if p > 0 and abs(pm / p - 1.0) < 0.05]
    return min(near, key=lambda p: abs(pm - p)) if near else float(f"{pm:.3g}")


def _numbers(rows: pd.DataFrame, key: str) -> pd.Series:
    if key not in rows:
        return pd.Series(float("nan"), index=rows.index)
    return pd.to_numeric(rows[key], errors="coerce")


def derive(rows: pd.DataFrame, labels: Sequence[float] = ()) -> pd.DataFrame:
    """``rows`` with the round's Pm label and the per-run changes against step 0 and the control."""
    out = rows.copy()
    out[PM] = _numbers(out, "remaining").map(lambda r: pm_label(r, labels) if pd.notna(r) else None)
    dense = out[out["step"] == 0].drop_duplicates("run").set_index("run")
    pruned = out["step"] >= 1
    iters, acc = _numbers(out, ITER), _numbers(out, ACC)
    dense_iters = out["run"].map(_numbers(dense, ITER))
    dense_acc = out["run"].map(_numbers(dense, ACC))
    out[ITER_CHANGE] = (iters / dense_iters - 1.0).where(pruned)
    out[ACC_CHANGE] = (acc - dense_acc).where(pruned)
    out[SPEEDUP] = _numbers(out, REINIT_ITER) / iters
    out[ACC_GAIN] = acc - _numbers(out, REINIT_ACC)
    return out


def lottery_table(rows: pd.DataFrame, refs: Sequence[Reference]) -> pd.DataFrame:
    """Method x round (step and Pm label) over seeds, paper values beside ours (rows from :func:`derive`)."""
    keys = [*setting_keys(rows), "step", PM]
    what = "Lottery ticket: early stop (minimum validation loss) per round; reinit: the control rounds"
    return stat_table(rows, keys, COLUMNS, refs, caption(rows, what))
