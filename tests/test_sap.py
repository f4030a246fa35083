"""SAP count rule, scopes, guards, the SAP baselines (lottery, one-shot with rewinding), the records."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from repro.errors import ConfigError
from repro.loop.job import build_job
from repro.loop.state import cpu_state, rewind
from repro.masks import Masks
from repro.metrics.pqi import pqi, pqi_rows
from repro.pruning.base import PruneContext
from repro.pruning.counts import sap_count
from repro.pruning.method import ComposedPruner
from repro.pruning.schemas import RateConfig, SAPConfig
from repro.run import run_dir_of, run_job
from tests.conftest import REPO, cli_env, compose


@pytest.fixture(autouse=True)
def _restore_threads():
    """Runs here pin torch to one thread (tiny models, shared cores); give the next test module its own."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _linear_masks(weight: torch.Tensor) -> Masks:
    layer = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(weight)
    return Masks.for_model(nn.Sequential(layer))


def _ctx(model: nn.Module, step: int = 1, **kw) -> PruneContext:
    return PruneContext(model=model, step=step, device=torch.device("cpu"), **kw)


def test_count_matches_the_closed_form_for_p_half_q_one():
    torch.manual_seed(0)
    w = torch.randn(1, 1000) ** 3  # heavy tailed: a clearly non-zero index
    index = pqi(w)
    assert 0.3 < index < 0.9
    masks = _linear_masks(w)
    ComposedPruner.of(SAPConfig(p=0.5, q=1.0, eta=0.0, gamma=1.0, beta=0.9)).prune(masks, _ctx(None))
    expected = math.floor(1000 * min(index, 0.9))
    assert masks.total() - masks.remaining() == expected
    # the pruned weights are exactly the `expected` smallest magnitudes
    kept = w.abs()[masks["0"]]
    dropped = w.abs()[~masks["0"]]
    assert dropped.max() <= kept.min()


@pytest.mark.parametrize(("d", "index"), [(1000, 0.37), (57, 0.5), (10, 0.95), (3, 0.2), (0, 0.5)])
@pytest.mark.parametrize(
    ("p", "q", "eta", "gamma", "beta"), [(1.0, 2.0, 0.0, 1.0, 0.9), (0.5, 1.0, 0.1, 3.0, 0.7)]
)
def test_count_formula_with_the_official_ceil(d, index, p, q, eta, gamma, beta):
    c = int(sap_count(d, index, p, q, eta, gamma, beta))
    if d == 0:
        assert c == 0
        return
    r = math.ceil(d * (1 + eta) ** (-q / (q - p)) * (1 - index) ** (q * p / (q - p)))
    assert c == math.floor(d * min(max(gamma * (1 - r / d), 0.0), beta))


def test_one_hot_vector_is_capped_by_beta():
    w = torch.zeros(1, 10)
    w[0, 4] = 1.0  # I_{0.5,1} = 1 - 10^(1-2) = 0.9
    masks = _linear_masks(w)
    ComposedPruner.of(SAPConfig(beta=0.5)).prune(masks, _ctx(None))
    assert masks.remaining() == 5 and bool(masks["0"][0, 4])


def test_neuron_scope_prunes_each_row_by_its_own_count():
    torch.manual_seed(1)
    w = torch.randn(4, 200) * torch.tensor([[1.0], [0.1], [10.0], [1.0]])
    w[1] = w[1] ** 5  # a much sparser row
    w[3] = 1.0 + 0.01 * torch.rand(200)  # an almost flat row: its index is near 0
    rows = pqi_rows(w)
    masks = _linear_masks(w)
    ComposedPruner.of(SAPConfig(scope="neuron")).prune(masks, _ctx(None))
    removed = 200 - masks["0"].sum(dim=1)
    expected = torch.floor(200 * rows.clamp(max=0.9)).long()
    assert torch.equal(removed, expected)
    assert removed[1] > removed[0] > removed[3]


def test_layer_scope_uses_each_layers_index():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(30, 20), nn.Linear(20, 5))
    with torch.no_grad():
        model[1].weight.pow_(5)
    masks = Masks.for_model(model)
    before = {n: pqi(masks.weight(n)) for n in masks}
    ComposedPruner.of(SAPConfig(scope="layer")).prune(masks, _ctx(model))
    for n, total in (("0", 600), ("1", 100)):
        assert total - int(masks[n].sum()) == math.floor(total * min(before[n], 0.9))


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("pruner.q=0.5", "pruner.q=0.5 is invalid: must be in (0.5, inf]"),
        ("pruner.p=0", "pruner.p=0"),
        ("pruner.eta=-0.1", "pruner.eta=-0.1"),
        ("pruner.gamma=0", "pruner.gamma=0"),
        ("pruner.beta=1.5", "pruner.beta=1.5"),
    ],
)
def test_bad_sap_settings_fail_naming_the_key(override: str, needle: str):
    with pytest.raises(ConfigError) as err:
        compose("pruner=sap", override)
    assert needle.split(" ")[0] in str(err.value)
    with pytest.raises(ConfigError):
        ComposedPruner.of(SAPConfig(p=1.0, q=1.0))


def test_rewind_restores_initial_survivors_and_keeps_batch_norm_statistics():
    job = build_job(compose("model=cnn", "model.channels=[4,8]", "dataset=digits", "pruner=sap"))
    init = cpu_state(job.model)
    with torch.no_grad():
        for p in job.model.parameters():
            p.mul_(1.5).add_(0.3)
        for name, buf in job.model.named_buffers():
            if "running" in name:
                buf.add_(2.0)
    running = {k: v.clone() for k, v in job.model.state_dict().items() if "running" in k}
    job.pruner.prune(job.masks, _ctx(job.model))
    assert 0 < job.masks.sparsity() < 0.9
    rewind(job.model, init, job.masks)
    state = job.model.state_dict()
    for name in job.masks:
        keep = job.masks[name]
        assert torch.equal(state[f"{name}.weight"][keep], init[f"{name}.weight"][keep])
        assert (state[f"{name}.weight"][~keep] == 0).all()
    for key in ("features.conv1.bias", "features.bn1.weight", "features.bn1.bias", "fc.bias"):
        assert torch.equal(state[key], init[key])
    for key, value in running.items():
        assert torch.equal(state[key], value), f"{key} was reset"


def test_oneshot_rewind_masks_come_from_the_dense_weights_and_nest():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(50, 40))
    dense = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model[0].weight.normal_()  # the live weights differ from the dense ones
    masks = Masks.for_model(model)
    pruner = ComposedPruner.of(RateConfig(rate=0.2, scope="global", count="target", source="dense"))
    previous = masks["0"].clone()
    for step in (1, 2, 3):
        pruner.prune(masks, _ctx(model, step, dense_state=dense))
        keep = round(2000 * 0.8**step)
        assert masks.remaining() == keep
        top = dense["0.weight"].abs().flatten().argsort(descending=True)[:keep]
        expected = torch.zeros(2000, dtype=torch.bool)
        expected[top] = True
        assert torch.equal(masks["0"].flatten(), expected)
        assert not (masks["0"] & ~previous).any()
        previous = masks["0"].clone()
    assert torch.equal(model[0].weight, dense["0.weight"])  # the pruned model is the dense one
    assert pruner.nominal_sparsity(3) == pytest.approx(1 - 0.8**3)


FAST = (
    "model=mlp",
    "model.input_size=8",
    "dataset=digits",
    "trainer.epochs=1",
    "trainer.num_threads=1",
    "logger=none",
)


def test_sap_run_records_pqi_and_prunes_by_the_index_of_the_best_weights(tmp_path: Path):
    cfg = compose(*FAST, "pruner=sap", "pruner.steps=2", "pruner.pqi_grid=true", f"out_dir={tmp_path}")
    records = run_job(cfg)
    assert [r["step"] for r in records] == [0, 1, 2]
    run = run_dir_of(cfg)
    for r in records:
        assert 0 < r["pqi"] < 1 and 0 < r["gini"] < 1 and 0 < r["pqi_neuron"] < 1
        assert set(r["layer_pqi"]) == set(r["layer_remaining"]) == {"fc1", "fc2", "fc3"}
        grid = json.loads((run / "pqi" / f"step_{r['step']}.json").read_text())
        assert grid["global"][4][0] == pytest.approx(r["pqi"], abs=1e-9)
    for prev, cur in zip(records, records[1:]):
        assert 0 <= cur["pruned_test_acc"] <= 1 and 0 < cur["pruned_pqi"] < 1
        # the count came from the PQI of the previous step's best weights under its mask
        best = torch.load(run / "checkpoints" / f"step_{prev['step']}_best.pt", weights_only=True)
        mask = torch.load(run / "masks" / f"step_{prev['step']}.pt", weights_only=True)
        w = torch.cat([best[f"{n}.weight"][mask[n]] for n in mask])
        d = int(w.numel())
        removed = d - sum(int(m.sum()) for m in torch.load(run / "masks" / f"step_{cur['step']}.pt").values())
        assert removed == math.floor(d * min(pqi(w), 0.9))
    assert records[1]["sparsity"] > 0.05
    assert records[-1]["test_acc"] > 0.5  # 10 classes: far above chance after retraining


@pytest.mark.parametrize("pruner", ["lottery", "oneshot_rewind"])
def test_baselines_follow_the_20_percent_schedule(tmp_path: Path, pruner: str):
    cfg = compose(*FAST, f"pruner={pruner}", "pruner.steps=2", "pruner.scope=layer", f"out_dir={tmp_path}")
    records = run_job(cfg)
    for r in records[1:]:
        assert r["sparsity"] == pytest.approx(1 - 0.8 ** r["step"], abs=0.01)
        for name, remaining in r["layer_remaining"].items():
            assert remaining == pytest.approx(1 - r["layer_sparsity"][name])
            assert remaining == pytest.approx(0.8 ** r["step"], abs=0.02)


@pytest.mark.slow
def test_cli_multirun_of_the_three_methods_and_scopes_on_mnist_draws_the_tradeoff(tmp_path: Path, mnist_root):
    args = [
        "-m",
        "pruner=sap,lottery,oneshot_rewind",
        "pruner.scope=global,layer,neuron",
        "model=mlp",
        "dataset=mnist",
        f"dataset.root={mnist_root}",
        "dataset.train_subset=3000",
        "dataset.test_subset=1000",
        "trainer=sap",
        "trainer.epochs=1",
        "pruner.steps=2",
        "logger=none",
        f"out_dir={tmp_path}",
        "sweep_name=sap_cli",
    ]
    env = cli_env(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "repro.run", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 9
    agg = subprocess.run(
        [sys.executable, "-m", "repro.aggregate", str(tmp_path / "runs"), "--out", str(tmp_path / "report")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert agg.returncode == 0, agg.stderr[-2000:]
    out = tmp_path / "report" / "sap"
    for name in (
        "tradeoff_mlp_mnist.png",
        "tradeoff_mlp_mnist.pdf",
        "pqi_trajectory_mlp_mnist.png",
        "sap_table.md",
    ):
        assert (out / name).stat().st_size > 1000, name
    table = pd.read_csv(out / "sap_table.csv")
    final = table[table["step"] == 2]
    assert sorted(zip(final["method"], final["scope"])) == sorted(
        (m, s) for m in ("SAP(0.5,1)", "LT", "OS") for s in ("global", "layer", "neuron")
    )
    records = [
        json.loads(line) for run_dir in runs for line in (run_dir / "records.jsonl").read_text().splitlines()
    ]
    final = [r for r in records if r["step"] == 2]
    assert all(r["test_acc"] > 0.8 for r in final)  # MNIST, 3k images, one epoch: well above chance
    assert all(r["sparsity"] > 0.05 for r in final)


def test_pqi_shape_names_the_papers_trajectory():
    from repro.reports.sap import pqi_shape

    assert pqi_shape(np.array([0.17, 0.1, 0.05, 0.12, 0.28, 0.06])) == "down-up-down"
    assert pqi_shape(np.array([0.17, 0.1, 0.05, 0.12, 0.28])) == "down-up"
    assert pqi_shape(np.array([0.17, 0.12, 0.09, 0.07, 0.069])) == "falls only"


def test_aggregator_builds_the_sap_figures_and_table_from_real_runs(tmp_path: Path):
    from repro.aggregate import aggregate

    common = (*FAST, "pruner.steps=2", "pruner.pqi_grid=true", f"out_dir={tmp_path}")
    for pruner in ("sap", "sap_1_2", "lottery", "oneshot_rewind"):
        run_job(compose(*common, f"pruner={pruner}"))
    files = {p.name for p in aggregate(tmp_path / "runs", tmp_path / "report", ["sap"], quiet=True)["files"]}
    for stem in (
        "tradeoff_mlp_digits",
        "pqi_trajectory_mlp_digits",
        "layers_mlp_digits_global",
        "heatmap_mlp_digits_SAP0.5_1_global",
    ):
        assert {f"{stem}.png", f"{stem}.pdf"} <= files, stem
    table = pd.read_csv(tmp_path / "report" / "sap" / "sap_table.csv")
    assert set(table["method"]) == {"SAP(0.5,1)", "SAP(1,2)", "LT", "OS"}
    lt = table[(table["method"] == "LT") & (table["step"] == 2)].iloc[0]
    assert float(lt["remaining %"]) == pytest.approx(64.0, abs=0.5)  # 0.8^2 of the weights
