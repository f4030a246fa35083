"""Claims on constructed paired data: the verdicts (holds / reversed / not significant), the paired
statistics against scipy, the pairing by dense start and seed, and the PSP claim's mean over neurons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from repro.reports.claims import Claim, evaluate
from repro.reports.runs import load_dir
from repro.reports.sharpness.claims import CLAIMS as OVG_CLAIMS
from tests.test_reports_fixtures import config, record, write_run

SEEDS = (0, 1, 2, 3)
# per seed: (one-shot, gradual) values; error: gradual clearly lower; eig: gradual clearly lower although
# the claim says higher; eps: differences of both signs
ERROR = [(0.050, 0.040), (0.052, 0.041), (0.049, 0.040), (0.051, 0.042)]
EIG = [(3.0, 2.0), (3.1, 2.2), (2.9, 2.0), (3.0, 2.1)]
EPS = [(1.0, 1.2), (1.1, 0.9), (1.0, 1.05), (1.2, 1.1)]
CLAIMS = [
    Claim("gradual lower test error", "test_error", "gradual", "one-shot", "lower", scale=100.0),
    Claim("gradual sharper (eig)", "hessian_top_eig", "gradual", "one-shot", "higher"),
    Claim("gradual sharper (eps)", "eps_sharpness", "gradual", "one-shot", "higher"),
]


def paired_runs(root: Path) -> None:
    for i, seed in enumerate(SEEDS):
        for j, method in enumerate(("one-shot", "gradual")):
            cfg = config(seed, name=method, sparsity=0.9)
            fields = {"test_acc": 1 - ERROR[i][j], "sparsity": 0.9, "hessian_top_eig": EIG[i][j]}
            fields |= {
                "eps_sharpness": EPS[i][j],
                "psp_network": 5.0 - j,
                "psp_network_neurons": 5.0 + j + 0.01 * i,
            }
            dense = record(0, cfg, method=method, test_acc=0.98, sparsity=0.0)
            write_run(root, f"{method}-s{seed}", cfg, [dense, record(1, cfg, method=method, **fields)])
    # a one-shot run from another dense start (other learning rate): no gradual partner, never paired
    cfg = config(0, lr=0.5, name="one-shot", sparsity=0.9)
    write_run(root, "other-start", cfg, [record(1, cfg, method="one-shot", test_acc=0.5, sparsity=0.9)])


@pytest.fixture
def table(tmp_path: Path) -> pd.DataFrame:
    paired_runs(tmp_path)
    return evaluate(CLAIMS, load_dir(tmp_path / "runs").rows).set_index("claim")


def test_one_claim_holds_one_is_reversed_one_is_not_significant(table):
    assert table.loc["gradual lower test error", "verdict"] == "holds"
    assert table.loc["gradual sharper (eig)", "verdict"] == "reversed"
    assert table.loc["gradual sharper (eps)", "verdict"] == "not significant"


@pytest.mark.parametrize(
    ("claim", "pairs", "scale"),
    [("gradual lower test error", ERROR, 100.0), ("gradual sharper (eps)", EPS, 1.0)],
)
def test_paired_statistics_match_scipy(table, claim, pairs, scale):
    base = np.array([b for b, _ in pairs]) * scale
    treat = np.array([t for _, t in pairs]) * scale
    d = treat - base
    row = table.loc[claim]
    assert row["n"] == len(SEEDS) and row["setting"] == "lr=0.01"  # the other dense start is a setting apart
    assert row["difference"] == pytest.approx(d.mean())
    low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert (row["difference 95% low"], row["difference 95% high"]) == pytest.approx((low, high))
    assert row["t-test p"] == pytest.approx(stats.ttest_rel(treat, base).pvalue)
    assert row["sign-test p"] == pytest.approx(stats.binomtest(int((d > 0).sum()), len(d)).pvalue)
    assert row["treatment"] == pytest.approx(treat.mean()) and row["baseline"] == pytest.approx(base.mean())


def test_psp_claim_uses_the_mean_over_neurons(tmp_path):
    paired_runs(tmp_path)
    rows = load_dir(tmp_path / "runs").rows
    psp = [c for c in OVG_CLAIMS if "PSP" in c.text and c.treatment == "gradual"]
    assert [c.metric for c in psp] == ["psp_network_neurons"]
    verdicts = evaluate(psp, rows)
    assert verdicts["verdict"].tolist() == ["holds"]  # the layer mean (psp_network) would say reversed
    assert verdicts["setting"].tolist() == ["lr=0.01, sparsity=0.9"]


def test_claims_without_runs_or_partners_say_so(tmp_path):
    paired_runs(tmp_path)
    rows = load_dir(tmp_path / "runs").rows
    missing = Claim("LOBSTER lower error", "test_error", "LOBSTER", "one-shot", "lower")
    out = evaluate([missing], rows)
    assert out["verdict"].tolist() == ["not run"] and "LOBSTER" in out["note"].iloc[0]
    one = evaluate(CLAIMS[:1], rows[rows["seed"] == 0])
    assert one["n"].tolist() == [1] and one["verdict"].tolist() == ["not significant"]


def test_within_margin_and_equal_compression(tmp_path):
    for seed in (0, 1, 2):
        for method, keep, acc in (
            ("EGP", 0.5, 0.900),
            ("IMP", 0.5, 0.902),
            ("SAP", 0.8, 0.95),
            ("LT", 0.5, 0.9),
        ):
            cfg = config(seed, name=method.lower())
            steps = [
                record(k, cfg, method=method, test_acc=acc - 0.01 * k + 0.001 * seed, sparsity=1 - keep**k)
                for k in range(4)
            ]
            write_run(tmp_path, f"{method}-{seed}", cfg, steps)
    rows = load_dir(tmp_path / "runs").rows
    within = Claim("close", "test_acc", "EGP", "IMP", "within", margin=1.0, at="step", scale=100.0)
    far = Claim("far", "test_acc", "EGP", "IMP", "within", margin=0.1, at="step", scale=100.0)
    out = evaluate([within, far], rows)
    assert out[out["claim"] == "close"]["verdict"].tolist() == ["holds"] * 3  # steps 1, 2, 3
    assert out[out["claim"] == "far"]["verdict"].tolist() == ["reversed"] * 3  # -0.2 points, every seed
    # SAP keeps 0.8^3 = 51.2 % at its last step; LT is read there (between its steps 0 and 1)
    equal = evaluate([Claim("eq", "test_acc", "SAP", "LT", "higher", at="remaining", scale=100.0)], rows)
    lt = np.interp(np.log(0.512), np.log([0.5, 1.0]), [0.89, 0.90])
    assert equal["difference"].iloc[0] == pytest.approx(100 * (0.92 - lt), abs=1e-9)


def test_settings_where_one_model_lacks_a_key_still_pair_every_seed(tmp_path):
    """A CNN has ``model.channels`` and no ``model.hidden``; the MLP the reverse. The missing values (NaN in
    the table, a new object per row) must not split a setting into one row per seed."""
    for seed in (0, 1, 2):
        for model, extra in (("mlp", {"hidden": [8, 4]}), ("cnn", {"channels": [4, 8]})):
            for j, method in enumerate(("one-shot", "gradual")):
                cfg = config(seed, name=method, sparsity=0.9)
                cfg["model"] = {"name": model, **extra}
                fields = {"test_acc": 0.9 + 0.01 * j + 0.001 * seed, "sparsity": 0.9}
                write_run(
                    tmp_path, f"{model}-{method}-{seed}", cfg, [record(1, cfg, method=method, **fields)]
                )
    out = evaluate(CLAIMS[:1], load_dir(tmp_path / "runs").rows)
    assert out["setting"].tolist() == ["model=cnn", "model=mlp"]  # hidden/channels are implied by the model
    assert out["n"].tolist() == [3, 3]
    assert out["difference"].tolist() == pytest.approx([-1.0, -1.0])


def test_a_run_short_of_its_target_sparsity_is_left_out_and_counted(tmp_path):
    """LOBSTER without forcing may stop short of its target: comparing it with one-shot at the full
    target would credit it with the sparsity it did not reach."""
    for seed in (0, 1, 2):
        for method, reached in (("one-shot", 0.9), ("LOBSTER", 0.62 if seed == 2 else 0.9)):
            cfg = config(seed, name=method, sparsity=0.9)
            fields = {"test_acc": 0.95 + 0.01 * (method == "LOBSTER") + 0.001 * seed, "sparsity": reached}
            write_run(tmp_path, f"{method}-{seed}", cfg, [record(1, cfg, method=method, **fields)])
    rows = load_dir(tmp_path / "runs").rows
    out = evaluate([c for c in OVG_CLAIMS if c.treatment == "LOBSTER" and c.metric == "test_error"], rows)
    assert out["n"].tolist() == [2]
    assert out["note"].iloc[0] == "1 run(s) short of their target left out"
    assert out["difference"].iloc[0] == pytest.approx(-1.0)


def step_length_runs(root: Path, lengths: dict[str, list[int]], dense_epochs: int | None) -> None:
    """Per seed, each method at each of its step lengths; the treatment is 1 point more accurate."""
    for seed in (0, 1, 2):
        for method, epochs in lengths.items():
            for n in epochs:
                cfg = config(seed, name=method, sparsity=0.9)
                cfg["trainer"] |= {"epochs": n, "dense_epochs": dense_epochs}
                acc = 0.95 + 0.01 * (method == "LOBSTER") + 0.001 * seed + 0.0001 * n
                fields = {"test_acc": acc, "sparsity": 0.9}
                write_run(root, f"{method}-{n}-{seed}", cfg, [record(1, cfg, method=method, **fields)])


def lobster_error_claim(rows: pd.DataFrame) -> pd.DataFrame:
    return evaluate([c for c in OVG_CLAIMS if c.treatment == "LOBSTER" and c.metric == "test_error"], rows)


def test_a_longer_step_from_the_same_dense_model_is_paired(tmp_path):
    """LOBSTER's 200-epoch step and one-shot's 50 start from one dense model when the dense epochs are
    pinned (the dense cache's rule): the step length is part of each method, not a setting apart."""
    step_length_runs(tmp_path, {"LOBSTER": [200], "one-shot": [50]}, dense_epochs=5)
    out = lobster_error_claim(load_dir(tmp_path / "runs").rows)
    assert out["n"].tolist() == [3]
    assert out["difference"].iloc[0] == pytest.approx(-1.0 - 0.01 * 150, abs=1e-9)


def test_a_step_length_that_sets_the_dense_epochs_keeps_runs_apart(tmp_path):
    """Without ``trainer.dense_epochs`` the step length is also the dense training's: different dense
    models, never paired."""
    step_length_runs(tmp_path, {"LOBSTER": [200], "one-shot": [50]}, dense_epochs=None)
    out = lobster_error_claim(load_dir(tmp_path / "runs").rows)
    assert out["n"].tolist() == [0] and out["verdict"].iloc[0] == "not run"


def test_a_step_length_swept_within_both_methods_is_a_setting(tmp_path):
    """Both methods at 50 and 100 epochs: each length is compared with the same length, never averaged."""
    step_length_runs(tmp_path, {"LOBSTER": [50, 100], "one-shot": [50, 100]}, dense_epochs=5)
    out = lobster_error_claim(load_dir(tmp_path / "runs").rows)
    assert out["n"].tolist() == [3, 3]
    assert out["setting"].str.contains("epochs=50").iloc[0] and out["setting"].str.contains("100").iloc[1]
    assert out["difference"].tolist() == pytest.approx([-1.0, -1.0], abs=1e-9)
