"""Claims as data: each paper's claims written as :class:`Claim` values and checked by one function.

A claim compares a treatment method with a baseline method on one record field, in a matched setting.
Runs whose configs are equal apart from the pruner share their dense start per seed, so a pair is the
treatment run and the baseline run with the same seed, the same non-pruner config and the same values of
the claim's ``match`` fields. The differences over seeds get a paired t-test and an exact sign test; the
verdict for each setting is ``holds``, ``reversed`` or ``not significant`` at 95 %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from repro.reports.runs import FINISHED, column, normal, same
from repro.reports.settings import REPLICATE, dense_keys, label
from repro.reports.stats import ALPHA, HIGH, LOW, STD, Paired, paired

HOLDS, REVERSED, NOT_SIGNIFICANT, NOT_RUN = "holds", "reversed", "not significant", "not run"
DIFF = "difference"
COLUMNS = [
    "claim",
    "setting",
    "n",
    "treatment",
    "baseline",
    DIFF,
    DIFF + STD,
    DIFF + LOW,
    DIFF + HIGH,
    "unit",
    "t-test p",
    "sign-test p",
    "verdict",
    "note",
]


@dataclass(frozen=True)
class Claim:
    """``treatment`` vs ``baseline`` on ``metric``: ``expect`` is ``higher``, ``lower`` or ``within``
    (``margin`` of each other, in the displayed unit).

    ``at``: ``final`` compares the last step of each run, ``step`` every pruned step (step matched),
    ``remaining`` both runs interpolated (linear in log remaining weights) to the larger of their two final
    remaining fractions: equal compression. ``where`` keeps rows whose field has one of the
    listed values; ``scale`` and ``unit`` say how differences are shown (``100``, ``points``).
    """

    text: str
    metric: str
    treatment: str
    baseline: str
    expect: str
    match: tuple[str, ...] = ()  # each "a|b": field a, else field b
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    at: str = "final"
    margin: float = 0.0
    scale: float = 1.0
    unit: str = ""


def verdict(claim: Claim, result: Paired) -> str:
    """holds / reversed / not significant for one setting (fewer than 2 pairs: not significant)."""
    d = result.diff
    if result.n < 2 or math.isnan(d.mean):
        return NOT_SIGNIFICANT
    if claim.expect == "within":
        m = claim.margin
        if d.low > -m and d.high < m:
            return HOLDS
        return REVERSED if d.low >= m or d.high <= -m else NOT_SIGNIFICANT
    if math.isnan(result.t_p) or result.t_p >= ALPHA:
        return NOT_SIGNIFICANT
    better = d.mean > 0 if claim.expect == "higher" else d.mean < 0
    return HOLDS if better else REVERSED


def _first(rows: pd.DataFrame, keys: Sequence[str]) -> str | None:
    """The column of the first of ``keys`` the rows have (``pruner.sparsity|nominal_sparsity``)."""
    return next((c for c in (column(rows, k) for k in keys) if c is not None), None)


def _last(rows: pd.DataFrame) -> pd.DataFrame:
    if rows.empty:
        return rows
    return rows.loc[rows.groupby(["run", "method"])["step"].idxmax()]


def _interpolate(trajectory: pd.DataFrame, metric: str, remaining: float) -> float:
    """A run's ``metric`` at ``remaining`` (linear in log remaining weights); NaN outside its range."""
    part = trajectory[["remaining", metric]].apply(pd.to_numeric, errors="coerce").dropna()
    part = part[part["remaining"] > 0].sort_values("remaining")
    if part.empty or not part["remaining"].min() <= remaining <= part["remaining"].max():
        return math.nan
    return float(np.interp(np.log(remaining), np.log(part["remaining"]), part[metric]))


def pairs(claim: Claim, rows: pd.DataFrame) -> tuple[dict[tuple, list[tuple[float, float]]], list[str], str]:
    """Paired (treatment, baseline) values per setting, the setting's key columns, and a note on what
    could not be paired."""
    done = rows[rows["state"] == FINISHED] if "state" in rows else rows
    for key, allowed in claim.where:
        name = column(done, key)
        keep = done[name].map(lambda v, a=allowed: any(same(v, x) for x in a)) if name else False
        done = done[keep] if name else done.iloc[0:0]
    t = done[done["method"].map(lambda m: same(m, claim.treatment))]
    b = done[done["method"].map(lambda m: same(m, claim.baseline))]
    if t.empty or b.empty:
        where = " and ".join(f"{k}={'|'.join(v)}" for k, v in claim.where)
        missing = claim.treatment if t.empty else claim.baseline
        return {}, [], f"no finished runs of {missing}" + (f" where {where}" if where else "")
    if claim.at == "step":
        t, b = t[t["step"] >= 1], b[b["step"] >= 1]
    trajectories = pd.concat([t, b]) if claim.at == "remaining" else None
    t = _last(t) if claim.at in ("final", "remaining") else t
    b = _last(b) if claim.at in ("final", "remaining") else b
    both = pd.concat([t, b])
    matched = [c for c in (_first(both, k.split("|")) for k in claim.match) if c is not None]
    setting = [*dense_keys(both), *matched, *(["step"] if claim.at == "step" else [])]
    keys = [*setting, REPLICATE]

    def index(frame: pd.DataFrame) -> dict[tuple, list[pd.Series]]:
        out: dict[tuple, list[pd.Series]] = {}
        for _, r in frame.iterrows():
            out.setdefault(tuple(normal(r.get(k)) for k in keys), []).append(r)
        return out

    ti, bi = index(t), index(b)
    found: dict[tuple, list[tuple[float, float]]] = {}
    ambiguous = missing = 0
    for key in sorted(set(ti) & set(bi)):
        if len(ti[key]) != 1 or len(bi[key]) != 1:
            ambiguous += 1
            continue
        tr, br = ti[key][0], bi[key][0]
        if trajectories is not None:  # both at the larger of the two final remaining fractions
            at = max(float(tr["remaining"]), float(br["remaining"]))
            tv = _interpolate(trajectories[trajectories["run"] == tr["run"]], claim.metric, at)
            bv = _interpolate(trajectories[trajectories["run"] == br["run"]], claim.metric, at)
        else:
            tv = pd.to_numeric(tr.get(claim.metric), errors="coerce")
            bv = pd.to_numeric(br.get(claim.metric), errors="coerce")
        if pd.isna(tv) or pd.isna(bv):
            missing += 1
            continue
        display = tuple((label(k, setting), tr.get(k)) for k in setting)
        found.setdefault(display, []).append((float(tv) * claim.scale, float(bv) * claim.scale))
    notes = [f"{ambiguous} seed(s) with several runs per method (add the varying key to `match`)"] * bool(
        ambiguous
    )
    notes += [f"{missing} pair(s) without {claim.metric}"] * bool(missing)
    if not found and not notes:
        notes = ["no runs share a dense start and seed"]
    return found, setting, "; ".join(notes)


def evaluate(claims: Sequence[Claim], rows: pd.DataFrame) -> pd.DataFrame:
    """The claims table: one row per claim and setting, with the paired test and the verdict."""
    out: list[dict[str, Any]] = []
    for claim in claims:
        found, _, note = pairs(claim, rows)
        base = {"claim": claim.text, "unit": claim.unit}
        if not found:
            out.append(base | {"setting": "-", "n": 0, "verdict": NOT_RUN, "note": note})
            continue
        for display, values in found.items():
            result = paired([a for a, _ in values], [b for _, b in values])
            setting = ", ".join(f"{k}={v}" for k, v in display) or "all runs"
            row = base | {"setting": setting, "n": result.n}
            row |= {"treatment": result.treatment, "baseline": result.baseline}
            d = result.diff
            row |= {DIFF: d.mean, DIFF + STD: d.std, DIFF + LOW: d.low, DIFF + HIGH: d.high}
            row |= {"t-test p": result.t_p, "sign-test p": result.sign_p}
            row |= {"verdict": verdict(claim, result), "note": note}
            out.append(row)
    table = pd.DataFrame(out, columns=COLUMNS)
    table.attrs["digits"] = {"treatment": 3, "baseline": 3, DIFF: 3, "t-test p": 3, "sign-test p": 3}
    table.attrs["caption"] = (
        "Paired over seeds (treatment - baseline): mean ± std [95 % interval]; "
        "verdict from the paired t-test at 5 % (for `within`: the interval inside the margin)."
    )
    return table
