"""Paper values as data: every ``results/<paper>/reference.csv`` parses with a source, and a table row that
has a paper value shows it beside ours with the difference."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.reports import reference
from repro.reports.runs import load_dir
from repro.reports.tables import Column, stat_table
from tests.test_reports_fixtures import config, record, write_run

PAPERS = ("egp", "sap", "oneshot_vs_gradual", "lottery_ticket")


@pytest.mark.parametrize("paper", PAPERS)
def test_each_paper_has_reference_values_with_a_source(paper):
    refs = reference.load(paper)
    assert refs, paper
    for ref in refs:
        assert ref.source and ref.unit and ref.metric and ref.setting
        assert all(key and value for key, value in ref.setting)


def test_a_matching_row_shows_the_paper_value_and_the_difference(tmp_path: Path):
    (tmp_path / "results" / "toy").mkdir(parents=True)
    (tmp_path / "results" / "toy" / "reference.csv").write_text(
        "setting,metric,value,unit,source\n"
        '"model=mlp;method=one-shot;step=1",test_acc,90,%,Table 1\n'
        '"model=cnn;step=1",test_acc,80,%,Table 2\n'
        '"model=mlp;method=one-shot",early_stop,3,x,Fig. 4\n'
    )
    refs = reference.load("toy", tmp_path / "results")
    for seed, acc in ((0, 0.91), (1, 0.93)):
        cfg = config(seed)
        write_run(tmp_path, f"r{seed}", cfg, [record(1, cfg, method="one-shot", test_acc=acc, sparsity=0.5)])
    rows = load_dir(tmp_path / "runs").rows
    column = Column("test_acc", "test acc %", 100.0, 2, "%")
    table = stat_table(rows, ["method", "step"], [column], refs)
    assert table["test acc % paper"].tolist() == [90.0]
    assert table["test acc % ours-paper"].tolist() == pytest.approx([2.0])
    listing = reference.reference_table(refs, rows, [column]).set_index("source")
    assert listing.loc["Table 1", "ours"] == pytest.approx(92.0) and listing.loc["Table 1", "n"] == 2
    assert listing.loc["Table 2", "status"] == "not run"
    assert listing.loc["Fig. 4", "status"] == "not measured"


def test_a_setting_the_paper_leaves_open_is_not_averaged_over(tmp_path: Path):
    """A paper value without a sparsity matched by runs at two sparsities: one row per sparsity, each the
    mean over its own seeds (1.0 and 3.0 % error), never 2.0 % as if the sparsities were seeds."""
    (tmp_path / "results" / "toy").mkdir(parents=True)
    (tmp_path / "results" / "toy" / "reference.csv").write_text(
        'setting,metric,value,unit,source\n"model=mlp;method=LOBSTER",test_error,1.5,%,Table 1\n'
    )
    refs = reference.load("toy", tmp_path / "results")
    for seed in (0, 1):
        for sparsity, error in ((0.9, 0.01), (0.99, 0.03)):
            cfg = config(seed, name="lobster", sparsity=sparsity)
            rec = record(1, cfg, method="LOBSTER", test_acc=1 - error, sparsity=sparsity)
            write_run(tmp_path, f"r{seed}-{sparsity}", cfg, [rec])
    column = Column("test_error", "test error %", 100.0, 2, "%")
    out = reference.reference_table(refs, load_dir(tmp_path / "runs").rows, [column])
    assert out["setting"].tolist() == [
        "model=mlp; method=LOBSTER; sparsity=0.9",
        "model=mlp; method=LOBSTER; sparsity=0.99",
    ]
    assert out["ours"].tolist() == pytest.approx([1.0, 3.0]) and out["n"].tolist() == [2, 2]
    assert out["ours-paper"].tolist() == pytest.approx([-0.5, 1.5])
