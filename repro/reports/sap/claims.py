"""The SAP paper's claims as data (PAPERS.md section 2): layer- and neuron-wise SAP beat lottery ticket
and one-shot at equal compression; global SAP does not. "Equal compression": each baseline's accuracy is
interpolated to the fraction of weights SAP keeps at its last step."""

from __future__ import annotations

from repro.reports.claims import Claim

SAP = "SAP(0.5,1)"
LOCAL = ("layer", "neuron")

CLAIMS = [
    *(
        Claim(
            text=f"layer- and neuron-wise {SAP} beats {base} at equal compression: higher test accuracy",
            metric="test_acc",
            treatment=SAP,
            baseline=base,
            expect="higher",
            match=("scope",),
            where=(("scope", LOCAL),),
            at="remaining",
            scale=100.0,
            unit="points",
        )
        for base in ("LT", "OS")
    ),
    *(
        Claim(
            text=f"global {SAP} does not beat {base} at equal compression: lower test accuracy",
            metric="test_acc",
            treatment=SAP,
            baseline=base,
            expect="lower",
            match=("scope",),
            where=(("scope", ("global",)),),
            at="remaining",
            scale=100.0,
            unit="points",
        )
        for base in ("LT", "OS")
    ),
]
