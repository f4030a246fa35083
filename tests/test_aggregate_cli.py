"""``python -m repro.aggregate DIR``: what it writes, that damaged runs do not stop it, that every paper
report builds from constructed runs, and the shape of the reports layer (registry by discovery, no path
strings, no module over 300 lines, no import of the aggregator)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from repro.aggregate import aggregate
from repro.reports import names
from tests.test_reports_fixtures import egp_runs, lottery_runs, ovg_runs, sap_runs
from tests.test_reports_tables import two_settings

REPO = Path(__file__).resolve().parents[1]
LAYER = [REPO / "repro" / "aggregate.py", *sorted((REPO / "repro" / "reports").rglob("*.py"))]


def test_cli_writes_runs_summary_and_tidy_tables_and_survives_damaged_runs(tmp_path: Path):
    two_settings(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "repro.aggregate", str(tmp_path / "runs"), "--out", str(tmp_path / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "left out (config missing or unreadable)" in out.stderr
    assert "1 diverged" in out.stdout and "±" in out.stdout
    for name in (
        "runs.csv",
        "runs.md",
        "summary.csv",
        "summary.md",
        "summary.tex",
        "tidy.csv",
        "tidy.parquet",
    ):
        assert (tmp_path / "out" / name).stat().st_size > 0, name


def test_an_unknown_report_is_refused_with_the_known_ones(tmp_path: Path):
    two_settings(tmp_path)
    with pytest.raises(Exception, match="sharpness"):
        aggregate(tmp_path / "runs", tmp_path / "out", ["nope"], quiet=True)


def test_reports_are_found_by_discovery():
    assert names() == ["egp", "lottery", "sap", "sharpness"]


@pytest.mark.parametrize(
    ("make", "report", "files", "claims"),
    [
        (
            sap_runs,
            "sap",
            ["sap_table.csv", "pqi_shape.md", "tradeoff_mlp_digits.png", "heatmap_mlp_digits_LT_layer.png"],
            2,
        ),
        (
            egp_runs,
            "egp",
            ["egp_table.csv", "accuracy_vs_sparsity_resnet18_digits.png", "entropy_resnet18_digits_EGP.png"],
            4,
        ),
        (
            ovg_runs,
            "sharpness",
            ["oneshot_vs_gradual.csv", "curve1d_lenet300_digits.png", "summary_lenet300_digits.png"],
            12,  # LOBSTER: error reversed, PSP equal (not significant)
        ),
        (
            lottery_runs,
            "lottery",
            ["lottery_table.csv", "claims.md", "early_stop_accuracy_lenet300_mnist.png"],
            24,  # settings: a claim per round (one-shot: 6 + 13 rounds)
        ),
    ],
)
def test_each_paper_report_builds_from_three_seeds(tmp_path: Path, make, report, files, claims):
    make(tmp_path)
    written = {p.name for p in aggregate(tmp_path / "runs", tmp_path / "out", [report], quiet=True)["files"]}
    assert set(files) <= written
    verdicts = pd.read_csv(tmp_path / "out" / report / "claims.csv")
    assert (verdicts["verdict"] == "holds").sum() == claims
    assert set(verdicts.loc[verdicts["n"] > 0, "n"]) == {3}


def test_reports_layer_reads_runs_only_through_the_store_and_stays_small():
    for path in LAYER:
        text = path.read_text()
        assert len(text.splitlines()) <= 300, path
        for needle in ("records.jsonl", "config.yaml", "status.json", "step_{", 'f"step_'):
            assert needle not in text, (path, needle)
        if path.name != "aggregate.py":
            assert "repro.aggregate" not in text, path
        assert "SAPPruner" not in text, path
