"""Sparsity-informed Adaptive Pruning (SAP, PAPERS.md section 2): a composition, ``conf/pruner/sap.yaml``.

The magnitude score, SAP's PQ Index count rule per scope unit (:class:`repro.pruning.counts.PQIRule`) and no
schedule: each unit with d surviving weights and index I = I_{p,q} of them loses

    c = floor(d * clamp(gamma (1 - r/d), 0, beta)),   r = ceil(d (1 + eta)^(-q/(q-p)) (1 - I)^(qp/(q-p))),

its c smallest-magnitude survivors. Survivors rewind to initialisation and the loop prunes from the step's
best checkpoint (``rewind: init``, ``use_best: true``), as the official code does. The label is SAP(p,q).
"""

from __future__ import annotations

from repro.pruning.method import ComposedPruner


class SAPPruner(ComposedPruner):
    """SAP's composition under its own name, which the SAP report still recognises by ``_target_``."""
