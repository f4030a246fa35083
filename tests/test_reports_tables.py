"""Tables from constructed runs: rows keyed by what varies, seeds averaged with intervals that match scipy,
and diverged, running and damaged runs shown but never averaged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from repro.aggregate import aggregate
from repro.reports.stats import BOOTSTRAP_MIN_N, BOOTSTRAP_RESAMPLES, describe
from repro.store import RunStore
from tests.test_reports_fixtures import config, record, write_run

ACC = {(0.5, 0): 0.90, (0.5, 1): 0.92, (0.5, 2): 0.95, (0.9, 0): 0.80, (0.9, 1): 0.70, (0.9, 2): 0.85}


def two_settings(root: Path) -> None:
    """pruner.sparsity 0.5 and 0.9 x seeds 0-2, plus a diverged, a running and two damaged runs."""
    for (sparsity, seed), acc in ACC.items():
        cfg = config(seed, sparsity=sparsity)
        steps = [record(0, cfg, method="one-shot", test_acc=0.97, sparsity=0.0)]
        steps.append(record(1, cfg, method="one-shot", test_acc=acc, sparsity=sparsity))
        write_run(root, f"run-{sparsity}-{seed}", cfg, steps)
    cfg = config(3, sparsity=0.5)  # same setting as the 0.5 runs: must not join their mean
    bad = [record(0, cfg, method="one-shot", test_acc=0.97, sparsity=0.0)]
    bad.append(record(1, cfg, method="one-shot", test_acc=0.1, sparsity=0.5, status="diverged"))
    write_run(root, "diverged", cfg, bad, status="diverged")
    cfg = config(4, sparsity=0.9)
    write_run(
        root, "running", cfg, [record(0, cfg, method="one-shot", test_acc=0.5, sparsity=0.0)], "running"
    )
    cfg = config(5, sparsity=0.9)
    write_run(root, "no-config", None, [record(0, cfg, method="one-shot", test_acc=0.2, sparsity=0.0)])
    short = write_run(root, "cut-short", cfg, [record(0, cfg, method="one-shot", test_acc=0.2, sparsity=0.0)])
    RunStore(short).set_status("finished", step=1)  # the records stop before the step it finished at


@pytest.fixture
def summary(tmp_path: Path) -> tuple[pd.DataFrame, dict]:
    two_settings(tmp_path)
    out = aggregate(tmp_path / "runs", tmp_path / "out", quiet=True)
    return out["table"], out


def _row(table: pd.DataFrame, sparsity: float, step: int) -> pd.Series:
    hit = table[(table["sparsity"] == sparsity) & (table["step"] == step)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_rows_are_keyed_by_the_varying_config_value_and_seeds_are_replicates(summary):
    table, _ = summary
    assert list(table.columns[:4]) == ["method", "sparsity", "step", "n"]
    assert len(table) == 4  # 2 settings x 2 steps: seeds never make rows, settings are never merged
    assert set(table["n"]) == {3}


@pytest.mark.parametrize("sparsity", [0.5, 0.9])
def test_means_std_and_interval_match_scipy(summary, sparsity):
    table, _ = summary
    values = np.array([100 * a for (s, _), a in ACC.items() if s == sparsity])
    row = _row(table, sparsity, 1)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    assert row["test acc %"] == pytest.approx(values.mean())
    assert row["test acc % std"] == pytest.approx(values.std(ddof=1))
    assert (row["test acc % 95% low"], row["test acc % 95% high"]) == pytest.approx((low, high))
    assert row["sparsity %"] == pytest.approx(100 * sparsity)


def test_diverged_running_and_damaged_runs_are_shown_and_never_averaged(summary):
    table, out = summary
    assert _row(table, 0.5, 1)["excluded"] == "1 diverged"
    assert _row(table, 0.9, 0)["excluded"] == "1 damaged, 1 running"  # cut-short has a setting
    assert _row(table, 0.9, 0)["test acc %"] == pytest.approx(97.0)  # 50 % (running), 20 % (damaged) left out
    runs = out["runs"].set_index("run")
    assert runs.loc["no-config", "state"] == "damaged" and "config" in runs.loc["no-config", "reason"]
    assert runs.loc["cut-short", "state"] == "damaged" and "step 1" in runs.loc["cut-short", "reason"]
    assert runs.loc["diverged", "state"] == "diverged" and runs.loc["running", "state"] == "running"


def test_written_tables_keep_numbers_in_csv_and_intervals_in_markdown(summary, tmp_path):
    table, _ = summary
    csv = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert csv["test acc %"].tolist() == pytest.approx(table["test acc %"].tolist())
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "92.33 ± 2.52 [" in md and "1 diverged" in md
    assert "\\%" in (tmp_path / "out" / "summary.tex").read_text()  # LaTeX-safe headers and caption
    assert "damaged" in (tmp_path / "out" / "runs.md").read_text()


def test_a_sweep_over_two_keys_gets_a_column_for_each(tmp_path):
    for sparsity in (0.5, 0.9):
        for lr in (0.01, 0.1):
            for seed in (0, 1):
                cfg = config(seed, lr=lr, sparsity=sparsity)
                write_run(
                    tmp_path, f"r-{sparsity}-{lr}-{seed}", cfg, [record(0, cfg, test_acc=lr, sparsity=0.0)]
                )
    table = aggregate(tmp_path / "runs", tmp_path / "out", quiet=True)["table"]
    assert {"sparsity", "lr"} <= set(table.columns)
    assert len(table) == 4 and set(table["n"]) == {2}
    assert sorted(table["test acc %"]) == pytest.approx([1.0, 1.0, 10.0, 10.0])


def test_one_seed_per_setting_gives_one_row_each_not_a_mean(tmp_path):
    for sparsity, acc in ((0.5, 0.9), (0.9, 0.1)):
        cfg = config(0, sparsity=sparsity)
        write_run(tmp_path, f"r-{sparsity}", cfg, [record(1, cfg, test_acc=acc, sparsity=sparsity)])
    table = aggregate(tmp_path / "runs", tmp_path / "out", quiet=True)["table"]
    assert sorted(table["test acc %"]) == pytest.approx([10.0, 90.0])
    assert table["test acc % std"].isna().all()  # one seed: no spread, no interval


def test_tidy_table_has_one_row_per_run_and_step_with_config_columns(summary, tmp_path):
    parquet = pd.read_parquet(tmp_path / "out" / "tidy.parquet")
    csv = pd.read_csv(tmp_path / "out" / "tidy.csv")
    assert len(parquet) == len(csv) == 6 * 2 + 2 + 1 + 1  # the config-less run has no setting: not a row
    for column in ("run", "state", "method", "seed", "step", "test_acc", "config.pruner.sparsity"):
        assert column in parquet.columns
    assert set(parquet["state"]) == {"finished", "diverged", "running", "damaged"}
    assert parquet["config.trainer.lr"].eq(0.01).all()


def test_enough_seeds_switch_the_interval_to_scipys_bootstrap():
    values = np.random.default_rng(1).normal(size=BOOTSTRAP_MIN_N + 2)
    s = describe(values)
    ref = stats.bootstrap(
        (values,),
        np.mean,
        confidence_level=0.95,
        method="percentile",
        n_resamples=BOOTSTRAP_RESAMPLES,
        random_state=np.random.default_rng(0),
    ).confidence_interval
    assert s.method == "bootstrap" and (s.low, s.high) == pytest.approx((ref.low, ref.high))
    few = describe(values[:3])
    assert few.method == "t"


def test_figures_are_the_same_bytes_when_the_data_are(tmp_path):
    """No creation date or version stamp: re-aggregating unchanged records leaves the figures unchanged."""
    import time

    from repro.reports.figures import pyplot, save_figure

    written = []
    for name in ("a", "b"):
        fig, ax = pyplot().subplots()
        ax.plot([0, 1, 2], [3, 1, 2])
        written.append(save_figure(fig, tmp_path / name, "curve"))
        time.sleep(1.1)  # a stamped date would differ by a second
    for first, second in zip(*written):
        assert first.read_bytes() == second.read_bytes(), first.suffix
