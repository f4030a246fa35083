"""Claims as data: each paper's claims written as :class:`Claim` values and checked by one function.

A claim compares a treatment method with a baseline method on one record field, in a matched setting.
Runs whose configs are equal apart from the pruner share their dense start per seed, so a pair is the
treatment run and the baseline run with the same seed, the same non-pruner config and the same values of
the claim's ``match`` fields. Treatment and baseline may also be one method: two steps of the same run
(``baseline_step``) or two fields of the same record (``baseline_metric``). The differences over seeds get
a paired t-test and an exact sign test; the verdict for each setting is ``holds``, ``reversed`` or ``not
significant`` at 95 %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from repro.reports.runs import FINISHED, column, normal, same
from repro.reports.settings import REPLICATE, dense_keys, label, setting_keys, step_length_settings
from repro.reports.stats import ALPHA, HIGH, LOW, STD, Paired, describe, paired

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
RATIO, SIZE, CLEARS, PAPER = "ratio", "paper size", "clears paper size", "paper"


@dataclass(frozen=True)
class Claim:
    """``treatment`` vs ``baseline`` on ``metric``: ``expect`` is ``higher``, ``lower`` or ``within``
    (``margin`` of each other, in the displayed unit).

    ``at``: ``final`` compares the last step of each run, ``step`` every pruned step (step matched),
    ``remaining`` both runs interpolated (linear in log remaining weights) to the larger of their two final
    remaining fractions: equal compression. ``where`` keeps rows whose field has one of the
    listed values; ``scale`` and ``unit`` say how differences are shown (``100``, ``points``).

    With ``at="step"``: ``steps`` and ``remaining`` (low, high fractions) narrow the treatment's steps;
    ``baseline_step`` reads the baseline at that one step of its run (0: the dense network) instead of at
    the treatment's step, and ``baseline_metric`` reads another field there (e.g. a control's record).
    ``show`` adds treatment fields to the setting's text without matching on them. Optional columns:
    ``ratio`` (mean over seeds of treatment / baseline), ``size`` (the effect the paper reports, displayed
    unit: whether the 95 % interval lies beyond it in the expected direction) and ``paper`` (its finding).
    ``reached`` (record field, target key ``a|b``, tolerance): runs whose field ends more than the tolerance
    short of their target (LOBSTER whose plateaus stopped early) are left out, and the note counts them.
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
    steps: tuple[int, ...] = ()
    remaining: tuple[float, float] | None = None
    baseline_step: int | None = None
    baseline_metric: str = ""
    show: tuple[str, ...] = ()
    ratio: bool = False
    size: float | None = None
    paper: str = ""
    reached: tuple[str, str, float] | None = None


def _short_of_target(claim: Claim, rows: pd.DataFrame) -> pd.Series:
    """Per row, whether its run ended short of its target (``claim.reached``); all False without one."""
    if claim.reached is None or rows.empty:
        return pd.Series(False, index=rows.index)
    field, target_keys, tolerance = claim.reached
    target = _first(rows, target_keys.split("|"))
    if target is None or field not in rows:
        return pd.Series(False, index=rows.index)
    got = pd.to_numeric(rows[field], errors="coerce")
    want = pd.to_numeric(rows[target], errors="coerce")
    return (got < want - tolerance).fillna(False)


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


def clears(claim: Claim, result: Paired) -> str:
    """``yes`` when the difference's 95 % interval lies beyond ``claim.size`` in the expected direction."""
    d = result.diff
    if claim.size is None or math.isnan(d.low):
        return ""
    beyond = d.low > claim.size if claim.expect == "higher" else d.high < claim.size
    return "yes" if beyond else "no"


def _natural(key: tuple) -> list[tuple[int, float, str]]:
    """Numbers by value (step 2 before step 10), text after them."""
    out = []
    for value in key:
        try:
            out.append((0, float(value), ""))
        except ValueError:
            out.append((1, 0.0, str(value)))
    return out


def _steps(claim: Claim, t: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The treatment's steps (pruned ones, or ``steps`` / ``remaining``) and the baseline's."""
    t = t[t["step"].isin(claim.steps)] if claim.steps else t[t["step"] >= 1]
    if claim.remaining is not None:
        kept = pd.to_numeric(t["remaining"], errors="coerce") if "remaining" in t else None
        low, high = claim.remaining
        t = t[(kept >= low) & (kept <= high)] if kept is not None else t.iloc[0:0]
    b = b[b["step"] == claim.baseline_step] if claim.baseline_step is not None else b[b["step"] >= 1]
    return t, b


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
    where = " and ".join(f"{k}={'|'.join(v)}" for k, v in claim.where)
    if t.empty or b.empty:
        missing = claim.treatment if t.empty else claim.baseline
        return {}, [], f"no finished runs of {missing}" + (f" where {where}" if where else "")
    if claim.at == "step":
        t, b = _steps(claim, t, b)
        if t.empty or b.empty:
            missing = claim.treatment if t.empty else claim.baseline
            return {}, [], f"no finished runs of {missing} at the claim's steps"
    trajectories = pd.concat([t, b]) if claim.at == "remaining" else None
    t = _last(t) if claim.at in ("final", "remaining") else t
    b = _last(b) if claim.at in ("final", "remaining") else b
    short_t, short_b = _short_of_target(claim, t), _short_of_target(claim, b)
    short = int(short_t.sum() + short_b.sum())
    t, b = t[~short_t], b[~short_b]
    both = pd.concat([t, b])
    matched = [c for c in (_first(both, k.split("|")) for k in claim.match) if c is not None]
    dense = dense_keys(both) + step_length_settings(t, b)
    setting = [*dense, *matched, *(["step"] if claim.at == "step" else [])]
    shown = [c for c in (column(t, k) for k in claim.show) if c is not None and c not in setting]
    # Displayed: the setting keys not implied by the others (model.channels once model.name is known).
    implied = set(dense) - set(setting_keys(both, first=()))
    named = [k for k in setting if k not in implied] + shown
    keys = [*setting, REPLICATE]
    base_keys = [k for k in keys if k != "step" or claim.baseline_step is None]
    metric, base_metric = claim.metric, claim.baseline_metric or claim.metric

    def index(frame: pd.DataFrame, by: list[str]) -> dict[tuple, list[pd.Series]]:
        out: dict[tuple, list[pd.Series]] = {}
        for _, r in frame.iterrows():
            out.setdefault(tuple(normal(r.get(k)) for k in by), []).append(r)
        return out

    ti, bi = index(t, keys), index(b, base_keys)
    found: dict[tuple, list[tuple[float, float]]] = {}
    ambiguous = missing = 0
    for key in sorted(ti, key=_natural):
        base_key = tuple(v for k, v in zip(keys, key) if k in base_keys)
        if base_key not in bi:
            continue
        if len(ti[key]) != 1 or len(bi[base_key]) != 1:
            ambiguous += 1
            continue
        tr, br = ti[key][0], bi[base_key][0]
        if trajectories is not None:  # both at the larger of the two final remaining fractions
            at = max(float(tr["remaining"]), float(br["remaining"]))
            tv = _interpolate(trajectories[trajectories["run"] == tr["run"]], metric, at)
            bv = _interpolate(trajectories[trajectories["run"] == br["run"]], base_metric, at)
        else:
            tv = pd.to_numeric(tr.get(metric), errors="coerce")
            bv = pd.to_numeric(br.get(base_metric), errors="coerce")
        if pd.isna(tv) or pd.isna(bv):
            missing += 1
            continue
        # Normalised (a missing value is "" whichever NaN object holds it), and keys a run lacks left out.
        display = tuple((label(k, named), tr.get(k)) for k in named if normal(tr.get(k)) != "")
        found.setdefault(display, []).append((float(tv) * claim.scale, float(bv) * claim.scale))
    notes = [f"{ambiguous} seed(s) with several runs per method (add the varying key to `match`)"] * bool(
        ambiguous
    )
    fields = metric if base_metric == metric else f"{metric} or {base_metric}"
    notes += [f"{missing} pair(s) without {fields}"] * bool(missing)
    if short:
        notes.append(f"{short} run(s) short of their target left out")
    if not found and not notes:
        notes = ["no runs share a dense start and seed"]
    return found, setting, "; ".join(notes)


def _optional(claims: Sequence[Claim]) -> list[str]:
    """The columns only some papers' claims ask for (ratio, the paper's size and finding)."""
    out = [RATIO, RATIO + STD, RATIO + LOW, RATIO + HIGH] if any(c.ratio for c in claims) else []
    out += [SIZE, CLEARS] if any(c.size is not None for c in claims) else []
    return out + ([PAPER] if any(c.paper for c in claims) else [])


def evaluate(claims: Sequence[Claim], rows: pd.DataFrame) -> pd.DataFrame:
    """The claims table: one row per claim and setting, with the paired test and the verdict."""
    out: list[dict[str, Any]] = []
    for claim in claims:
        found, _, note = pairs(claim, rows)
        base = {"claim": claim.text, "unit": claim.unit}
        base |= {PAPER: claim.paper} if claim.paper else {}
        base |= {SIZE: claim.size} if claim.size is not None else {}
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
            if claim.ratio:
                r = describe([a / b for a, b in values if b != 0])
                row |= {RATIO: r.mean, RATIO + STD: r.std, RATIO + LOW: r.low, RATIO + HIGH: r.high}
            if claim.size is not None:
                row[CLEARS] = clears(claim, result)
            out.append(row)
    table = pd.DataFrame(out, columns=[*COLUMNS[:-1], *_optional(claims), COLUMNS[-1]])
    table.attrs["digits"] = {"treatment": 3, "baseline": 3, DIFF: 3, "t-test p": 3, "sign-test p": 3}
    table.attrs["digits"] |= {RATIO: 3, SIZE: 2}
    table.attrs["caption"] = (
        "Paired over seeds (treatment - baseline): mean ± std [95 % interval]; "
        "verdict from the paired t-test at 5 % (for `within`: the interval inside the margin)."
    )
    return table
