"""The one-shot vs gradual paper's claims as data (PAPERS.md section 3), for each gradual method (the cubic
schedule and LOBSTER) against one-shot from the same dense start at the same target sparsity: lower test
error; sharper minima (top Hessian eigenvalue, epsilon-sharpness); higher PSP-entropy, the network value
being the mean over neurons as the specification defines it."""

from __future__ import annotations

from repro.reports.claims import Claim

TARGET = ("pruner.sparsity|nominal_sparsity",)
CHECKS = (  # metric, expectation, wording, scale, unit
    ("test_error", "lower", "lower test error", 100.0, "points"),
    ("hessian_top_eig", "higher", "sharper: larger top Hessian eigenvalue", 1.0, ""),
    ("eps_sharpness", "higher", "sharper: larger epsilon-sharpness", 1.0, ""),
    ("psp_network_neurons", "higher", "higher PSP-entropy (mean over neurons)", 1.0, "bits"),
)

CLAIMS = [
    Claim(
        text=f"{method} vs one-shot, same dense start and sparsity: {wording}",
        metric=metric,
        treatment=method,
        baseline="one-shot",
        expect=expect,
        match=TARGET,
        reached=("sparsity", TARGET[0], 1e-3),  # a LOBSTER run whose plateaus stopped short is not paired
        scale=scale,
        unit=unit,
    )
    for method in ("gradual", "LOBSTER")
    for metric, expect, wording, scale, unit in CHECKS
]
