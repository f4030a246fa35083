"""The EGP paper's claims as data (PAPERS.md section 1): EGP reaches zero-entropy layers while IMP removes
(almost) none; EGP's top-1 stays close to IMP's at the same step (here: within 1 point); pruned-then-
retrained beats the same shallow network retrained from scratch."""

from __future__ import annotations

from repro.reports.claims import Claim

CLAIMS = [
    Claim(
        text="EGP removes more layers than IMP (last step)",
        metric="egp_removed_layers",
        treatment="EGP",
        baseline="IMP",
        expect="higher",
        unit="layers",
    ),
    Claim(
        text="EGP's top-1 stays within 1 point of IMP's at the same step",
        metric="test_acc",
        treatment="EGP",
        baseline="IMP",
        expect="within",
        margin=1.0,
        at="step",
        scale=100.0,
        unit="points",
    ),
    Claim(
        text="pruned-then-retrained beats the same shallow network retrained from scratch: higher top-1",
        metric="test_acc",
        treatment="EGP",
        baseline="EGP-scratch",
        expect="higher",
        scale=100.0,
        unit="points",
    ),
]
