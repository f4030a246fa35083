"""The lottery-ticket paper's claims on LeNet-300-100 / MNIST as data (Frankle & Carbin 2019, Sec. 2).

Every pair is within one seed: two steps of the same run (a round against the dense network, step 0), or
two fields of the same record (the ticket against the same mask randomly re-initialised, at the control
rounds 3, 7, 9, 15 = Pm 51.3, 21.1, 13.5, 3.6 %). The one-shot claims are evaluated at each round whose Pm
lies in the paper's range. ``paper`` says what the paper reports for the rounds of the row, so a verdict
can be read against it (a ``holds`` where the paper says ``no`` is a disagreement).
"""

from __future__ import annotations

from repro.reports.claims import Claim
from repro.reports.lottery.tables import ACC, ITER, PM, REINIT_ACC, REINIT_ITER

LT, ONESHOT = "LT", "LT one-shot"
DENSE = 0  # step 0: the dense network every run starts from
CONTROL = (3, 7, 9, 15)  # the rounds with a random re-initialisation: Pm 51.3, 21.1, 13.5, 3.6 %


def labelled(high: str, low: str) -> tuple[float, float]:
    """Remaining fractions whose Pm label, as the paper prints it (``"67.5"``), lies in [low, high]:
    half a unit of the last printed digit either side."""

    def half(text: str) -> float:
        return 0.5 * 10.0 ** -len(text.partition(".")[2])

    return (float(low) - half(low)) / 100.0, (float(high) + half(high)) / 100.0


ONESHOT_SOONER = ("67.5", "17.6")  # Pm range where one-shot tickets stop early sooner than dense
ONESHOT_ACCURATE = ("95.0", "5.17")  # Pm range where they are more accurate than dense


def _claim(
    text: str,
    metric: str,
    expect: str,
    steps: tuple[int, ...] = (),
    *,
    method: str = LT,
    remaining: tuple[float, float] | None = None,
    baseline_step: int | None = DENSE,
    baseline_metric: str = "",
    margin: float = 0.0,
    ratio: bool = False,
    size: float | None = None,
    paper: str = "",
) -> Claim:
    """A claim on the rounds ``steps`` (or those within ``remaining``) of ``method``'s runs, against step 0
    of the same run unless said otherwise; accuracies are shown in points."""
    points = metric.endswith("acc")
    return Claim(
        text,
        metric,
        method,
        method,
        expect,
        at="step",
        margin=margin,
        scale=100.0 if points else 1.0,
        unit="points" if points else "iterations",
        steps=steps,
        remaining=remaining,
        baseline_step=baseline_step,
        baseline_metric=baseline_metric,
        show=(PM,),
        ratio=ratio,
        size=size,
        paper=paper,
    )


CLAIMS = [
    _claim(
        "ticket reaches early stop sooner than dense",
        ITER,
        "lower",
        (3, 7),
        ratio=True,
        paper="yes; at Pm 21 %: 38 % earlier (ratio 0.62)",
    ),
    _claim(
        "ticket reaches early stop sooner at Pm 21.1 % than at 51.3 %",
        ITER,
        "lower",
        (7,),
        baseline_step=3,
        ratio=True,
        paper="yes",
    ),
    _claim(
        "ticket more accurate than dense at early stop",
        ACC,
        "higher",
        (9,),
        size=0.3,
        paper="yes: by more than 0.3 points",
    ),
    _claim(
        "ticket back to about dense accuracy at early stop (within 0.3 points)",
        ACC,
        "within",
        (15,),
        margin=0.3,
        paper="yes: back to about dense",
    ),
    _claim(
        "random re-initialisation reaches early stop later than the ticket",
        REINIT_ITER,
        "higher",
        (7,),
        baseline_step=None,
        baseline_metric=ITER,
        ratio=True,
        paper="yes: the ticket 2.51x sooner",
    ),
    _claim(
        "ticket more accurate at early stop than its random re-initialisation",
        ACC,
        "higher",
        (7,),
        baseline_step=None,
        baseline_metric=REINIT_ACC,
        paper="yes: about 0.5 points",
    ),
    _claim(
        "random re-initialisation less accurate than dense at early stop",
        REINIT_ACC,
        "lower",
        CONTROL[:1],
        baseline_metric=ACC,
        paper="no: only from Pm 21.1 % on",
    ),
    _claim(
        "random re-initialisation less accurate than dense at early stop",
        REINIT_ACC,
        "lower",
        CONTROL[1:],
        baseline_metric=ACC,
        paper="yes: from Pm 21.1 % on",
    ),
    _claim(
        "ticket less accurate than dense at early stop",
        ACC,
        "lower",
        CONTROL,
        paper="no: only from Pm 2.9 % on",
    ),
    _claim("ticket less accurate than dense at early stop", ACC, "lower", (16, 17, 18), paper="yes"),
    _claim(
        "one-shot ticket reaches early stop sooner than dense",
        ITER,
        "lower",
        method=ONESHOT,
        remaining=labelled(*ONESHOT_SOONER),
        ratio=True,
        paper="yes: for 67.5 % >= Pm >= 17.6 %",
    ),
    _claim(
        "one-shot ticket more accurate than dense at early stop",
        ACC,
        "higher",
        method=ONESHOT,
        remaining=labelled(*ONESHOT_ACCURATE),
        paper="yes: for 95.0 % >= Pm >= 5.17 %",
    ),
]
