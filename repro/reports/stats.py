"""Statistics over seeds: the one place the reports compute a mean, an interval or a paired test.

Everything comes from ``scipy.stats``: a Student-t interval for the mean (a percentile bootstrap once there
are enough seeds for it to be trustworthy), the paired t-test, and the exact sign test. Seeds are the
replicates; nothing here knows what a seed or a run is, it only sees arrays of numbers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95
ALPHA = 1.0 - LEVEL
# From this many seeds on, intervals come from a percentile bootstrap instead of the t distribution.
BOOTSTRAP_MIN_N = 10
BOOTSTRAP_RESAMPLES = 9999
# Column suffixes of a quantity's spread and interval in a table (the mean is the bare name).
STD, LOW, HIGH = " std", " 95% low", " 95% high"


def _clean(values: Iterable[float]) -> np.ndarray:
    arr = np.asarray([float(v) for v in values if v is not None], dtype=float)
    return arr[np.isfinite(arr)]


@dataclass(frozen=True)
class Summary:
    """Mean, standard deviation and 95 % interval of one quantity over seeds."""

    n: int
    mean: float
    std: float
    low: float
    high: float
    method: str  # "t", "bootstrap", or "" when there is no interval (fewer than 2 values)


def bootstrap_interval(values: np.ndarray) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (fixed seed: the same runs give the same table)."""
    if float(values.std()) == 0.0:
        return float(values[0]), float(values[0])
    res = stats.bootstrap(
        (values,),
        np.mean,
        confidence_level=LEVEL,
        method="percentile",
        n_resamples=BOOTSTRAP_RESAMPLES,
        random_state=np.random.default_rng(0),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def t_interval(values: np.ndarray) -> tuple[float, float]:
    """Student-t interval of the mean; a zero spread gives the point itself."""
    mean, sem = float(values.mean()), float(stats.sem(values))
    if sem == 0.0:
        return mean, mean
    low, high = stats.t.interval(LEVEL, len(values) - 1, loc=mean, scale=sem)
    return float(low), float(high)


def describe(values: Iterable[float]) -> Summary:
    """Summary of ``values`` (non-finite entries dropped); NaNs where a statistic is undefined."""
    arr = _clean(values)
    n = len(arr)
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan, "")
    mean = float(arr.mean())
    if n == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan, "")
    std = float(arr.std(ddof=1))
    if n >= BOOTSTRAP_MIN_N:
        low, high = bootstrap_interval(arr)
        return Summary(n, mean, std, low, high, "bootstrap")
    low, high = t_interval(arr)
    return Summary(n, mean, std, low, high, "t")


def fill(out: dict, name: str, numbers: Iterable[float]) -> float:
    """Put mean, std and interval of ``numbers`` into ``out`` under ``name`` (+ suffixes); return the mean."""
    s = describe(numbers)
    out[name], out[name + STD], out[name + LOW], out[name + HIGH] = s.mean, s.std, s.low, s.high
    return s.mean


@dataclass(frozen=True)
class Paired:
    """A paired comparison over seeds: treatment - baseline, one difference per seed."""

    n: int
    treatment: float  # mean of the treatment values
    baseline: float  # mean of the baseline values
    diff: Summary  # the differences: mean, std, 95 % interval (t, or bootstrap with enough seeds)
    t_p: float  # paired t-test, two-sided (NaN below 2 pairs)
    sign_p: float  # exact sign test on the non-zero differences, two-sided (NaN when all are zero)


def paired(treatment: Iterable[float], baseline: Iterable[float]) -> Paired:
    """Paired t-test and sign test of ``treatment`` against ``baseline`` (aligned by position).

    A zero spread of the differences makes the t statistic infinite (or undefined when every difference is
    zero); the p value is then 0 (or 1) without asking scipy, which would only warn.
    """
    pairs = [(float(a), float(b)) for a, b in zip(treatment, baseline) if a is not None and b is not None]
    pairs = [(a, b) for a, b in pairs if math.isfinite(a) and math.isfinite(b)]
    t = np.array([a for a, _ in pairs], dtype=float)
    b = np.array([b for _, b in pairs], dtype=float)
    d = t - b
    n = len(d)
    summary = describe(d)
    if n < 2:
        t_p = math.nan
    elif float(d.std()) == 0.0:
        t_p = 1.0 if float(d[0]) == 0.0 else 0.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            t_p = float(stats.ttest_rel(t, b).pvalue)
    nonzero = d[d != 0]
    sign_p = (
        float(stats.binomtest(int((nonzero > 0).sum()), len(nonzero)).pvalue) if len(nonzero) else math.nan
    )
    return Paired(
        n=n,
        treatment=float(t.mean()) if n else math.nan,
        baseline=float(b.mean()) if n else math.nan,
        diff=summary,
        t_p=t_p,
        sign_p=sign_p,
    )
