"""What every paper report writes besides its own tables: our numbers beside the paper's, and its claims."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from repro.reports import reference
from repro.reports.claims import Claim, evaluate
from repro.reports.tables import write_table


def reference_and_claims(
    refs: Sequence[reference.Reference], rows: pd.DataFrame, columns: Sequence[Any], claims: Sequence[Claim],
    out_dir: Path, claim_rows: pd.DataFrame | None = None,
) -> list[Path]:  # fmt: skip
    """``paper_reference`` (the paper's values beside ``rows``) and ``claims`` (verdicts over seeds, from
    ``claim_rows``: every step of the runs, where the reference compares final rows only)."""
    files = write_table(reference.reference_table(refs, rows, columns), out_dir, "paper_reference")
    verdicts = evaluate(claims, rows if claim_rows is None else claim_rows)
    return files + write_table(verdicts, out_dir, "claims")
