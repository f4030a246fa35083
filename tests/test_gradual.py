"""Gradual pruners (cubic schedule, LOBSTER) and the one-shot vs gradual pipeline from one dense start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from repro.errors import ConfigError
from repro.masks import Masks
from repro.pruning.base import PruneContext, TrainState
from repro.pruning.lobster import sensitivity_step
from repro.pruning.method import ComposedPruner
from repro.pruning.schedules import cubic_sparsity
from repro.pruning.schemas import GradualConfig
from repro.run import run_dir_of, run_job
from tests.conftest import compose


def mlp() -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Flatten(), nn.Linear(64, 40), nn.ReLU(), nn.Linear(40, 30), nn.ReLU(), nn.Linear(30, 10)]
    return nn.Sequential(*layers)


def drive(pruner, model: nn.Module, masks: Masks, per_epoch: int, epochs: int, data=None) -> list[float]:
    """Call the pruner's hook as the training loop does, without training; the sparsity after each call."""
    ctx = PruneContext(model=model, step=1, device=torch.device("cpu"), data=data)
    hook = pruner.training_hook(masks, ctx)
    total = per_epoch * epochs
    out = []
    for it in range(1, total + 1):
        hook(TrainState(it // per_epoch, it, per_epoch, total, model, masks, torch.tensor(0.0)))
        out.append(masks.sparsity())
    return out


def test_cubic_formula():
    assert cubic_sparsity(0.0, 0.0, 0.9) == 0.0
    assert cubic_sparsity(0.5, 0.0, 0.9) == pytest.approx(0.9 * (1 - 0.5**3))
    assert cubic_sparsity(1.0, 0.1, 0.95) == 0.95
    assert cubic_sparsity(2.0, 0.1, 0.95) == 0.95


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_cubic_schedule_hits_its_target_exactly_at_the_end_epoch(scope: str):
    model = mlp()
    masks = Masks.for_model(model)
    cfg = GradualConfig(sparsity=0.9, start_epoch=1, end_epoch=4, frequency=7, scope=scope)
    pruner = ComposedPruner.of(cfg)
    per_epoch = 10
    trace = drive(pruner, model, masks, per_epoch, epochs=6)
    t0, t1 = 1 * per_epoch, 4 * per_epoch
    total = masks.total()
    assert all(s == 0.0 for s in trace[:t0]), "pruned before the start epoch"
    assert trace[t1 - 2] < trace[t1 - 1], "reached the target before the end epoch"
    assert trace[t1 - 1] == round(0.9 * total) / total  # the end of end_epoch: exactly the target
    assert trace[t1:] == [trace[t1 - 1]] * (len(trace) - t1), "pruning went on after the end epoch"
    assert all(b >= a for a, b in zip(trace, trace[1:])), "masks must only shrink"
    # events every `frequency` iterations from t0 (and at t1), each at the formula's sparsity
    iters = [it for it, _ in pruner.events]
    assert iters == [*range(t0 + 7, t1, 7), t1]
    for it, reached in pruner.events:
        assert reached == pytest.approx(cubic_sparsity((it - t0) / (t1 - t0), 0.0, 0.9), abs=2 / total)
    if scope == "layer":
        for name, s in masks.layer_sparsity().items():
            n = masks[name].numel()
            assert s == round(0.9 * n) / n, name
    # pruned weights are zero
    for n in masks:
        assert (masks.weight(n)[~masks[n]] == 0).all()


def test_end_fraction_places_the_window_without_knowing_the_epochs():
    model = mlp()
    masks = Masks.for_model(model)
    pruner = ComposedPruner.of(GradualConfig(sparsity=0.8, end_fraction=0.5, frequency=3))
    trace = drive(pruner, model, masks, per_epoch=8, epochs=4)  # 32 iterations, the window ends at 16
    assert trace[15] == round(0.8 * masks.total()) / masks.total()
    assert trace[14] < trace[15]


def test_sensitivity_step_by_hand():
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0]]))
        layer.bias.fill_(4.0)
    layer.weight.grad = torch.tensor([[0.5, 2.0]])  # insensitivities relu(1 - |g|): 0.5 and 0
    layer.bias.grad = torch.tensor([0.0])
    sensitivity_step({"fc": layer}, lmbda=0.1)
    assert layer.weight.tolist() == [[pytest.approx(1.0 - 0.1 * 1.0 * 0.5), 2.0]]
    assert layer.bias.item() == pytest.approx(4.0 - 0.1 * 4.0)


@pytest.mark.parametrize("midpoint", [True, False])
def test_lobster_thresholds_within_tolerance_and_reaches_the_target(tmp_path: Path, midpoint: bool):
    cfg = compose(
        f"pruner.midpoint={midpoint}",
        "model=mlp", "model.hidden=[64]", "trainer.num_threads=1", "dataset=digits", "dataset.val_size=300",
        "pruner=lobster", "pruner.sparsity=0.8",
        "pruner.patience=0", "pruner.check_every=5", "pruner.force_at=0.95", "pruner.tolerance=0.05",
        "trainer.dense_epochs=2", "trainer.epochs=2", f"out_dir={tmp_path}", "logger=none",
    )  # fmt: skip
    from repro.loop.job import build_job

    job = build_job(cfg)
    model, masks, data = job.model, job.masks, job.data
    batches = list(data.loader("train", 64, train=False))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in batches * 3:  # a briefly trained model, so the loss is meaningful
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    pruner = job.pruner
    before = {n: masks[n].clone() for n in masks}
    trace = drive(pruner, model, masks, per_epoch=10, epochs=4, data=data)
    thresholded = [e for e in pruner.events if "threshold" in e]
    assert thresholded, "no plateau pruning happened"
    for e in thresholded:
        assert e["loss_lower"] <= e["bound"]  # the bracket's lower end was verified within the tolerance
        assert e["bound"] == pytest.approx(e["base_loss"] * 1.05)
        # the lower end is applied as verified; the midpoint (the group's default) may pass the bound by
        # the bisection's stop rule (loss_b - loss_a < bisection_delta * bound)
        assert e["loss"] <= e["bound"] * (1.0 if not midpoint else 1.05) + 1e-9
    assert trace[-1] == pytest.approx(0.8, abs=1 / masks.total())
    assert all(b >= a for a, b in zip(trace, trace[1:]))
    for n in masks:  # masks only shrink, pruned weights are zero
        assert not (masks[n] & ~before[n]).any()
        assert (masks.weight(n)[~masks[n]] == 0).all()


def test_bad_gradual_and_lobster_settings_fail_at_compose_time():
    with pytest.raises(ConfigError, match=r"pruner.end_epoch=5 is invalid: must be in \[1, 2\]"):
        compose("pruner=gradual", "pruner.end_epoch=5", "trainer.epochs=2")
    with pytest.raises(ConfigError, match="dataset.val_size=0 is invalid: pruner=lobster needs"):
        compose("pruner=lobster")
    with pytest.raises(ConfigError, match="pruner.scope='layer' is invalid: allowed: global"):
        compose("pruner=lobster", "dataset.val_size=100", "pruner.scope=layer")
    with pytest.raises(ConfigError, match="analysis.names"):
        compose("analysis=sharpness", "analysis.names=[hessian,curvy]")


def test_oneshot_and_gradual_share_the_dense_start_and_report_sharpness(tmp_path: Path):
    """The paper's pipeline on digits: three pruners from one dense model, sharpness, PSP, the report."""
    common = [
        "model=mlp", "model.hidden=[64]", "dataset=digits", "dataset.val_size=200", "trainer.batch_size=128",
        "trainer.dense_epochs=3", "trainer.epochs=4", "trainer.num_threads=1", "pruner.sparsity=0.9",
        "entropy=psp", "entropy.psp_include_output=true", "analysis=sharpness", "analysis.batches=1",
        "analysis.batch_size=256", "analysis.points_1d=7", "analysis.points_2d=3", "analysis.hessian_iters=5",
        "analysis.epsilon_steps=2", "analysis.interp_points=5", f"out_dir={tmp_path}", "logger=none",
    ]  # fmt: skip
    runs = {}
    for pruner in ("oneshot", "gradual", "lobster"):
        # 4 epochs are far too few for the plateaus: the rest is forced at 90 % of the step
        extra = (
            ["pruner.patience=1", "pruner.check_every=5", "pruner.force_at=0.9"]
            if pruner == "lobster"
            else []
        )
        cfg = compose(*common, f"pruner={pruner}", *extra)
        runs[pruner] = (run_job(cfg), run_dir_of(cfg))
    dense = {
        p: torch.load(d / "checkpoints" / "step_0_last.pt", weights_only=True) for p, (_, d) in runs.items()
    }
    for key, value in dense["oneshot"].items():
        assert torch.equal(dense["gradual"][key], value) and torch.equal(dense["lobster"][key], value)
    for pruner, (records, run_dir) in runs.items():
        last = records[-1]
        assert last["sparsity"] == pytest.approx(0.9, abs=1e-3), pruner
        assert last["test_acc"] > 0.5, pruner  # 10 classes: chance is 0.1
        assert last["hessian_top_eig"] > 0 and last["eps_sharpness"] > 0
        assert 0 < last["psp_network"] < 10  # bits, summed over 10 classes
        state = torch.load(run_dir / "checkpoints" / "step_1_last.pt", weights_only=True)
        masks = torch.load(run_dir / "masks" / "step_1.pt", weights_only=True)
        for name, keep in masks.items():
            assert (state[f"{name}.weight"][~keep] == 0).all(), f"{pruner}: pruned weights moved"
        arrays = json.loads((run_dir / "metrics" / "step_1.json").read_text())
        assert len(arrays["psp/matrices"]["fc1"]) == 64 and len(arrays["psp/matrices"]["fc1"][0]) == 10
        assert set(last["psp_layers"]) == {"fc1", "fc2"}  # entropy.psp_include_output=true keeps the output
        assert len(arrays["psp/matrices"]["fc2"]) == 10
    # the later runs measured the line to the earlier solutions (t=0: this run, t=1: its partner)
    assert runs["gradual"][0][-1]["interp_partners"] == "oneshot"
    curve = json.loads((runs["gradual"][1] / "sharpness" / "step_1.json").read_text())["interpolation"][0]
    assert curve["loss"][0] == pytest.approx(runs["gradual"][0][-1]["sharpness_loss"], rel=1e-6)
    assert curve["loss"][-1] == pytest.approx(runs["oneshot"][0][-1]["sharpness_loss"], rel=1e-6)

    import pandas as pd

    from repro.aggregate import aggregate
    from repro.reports.runs import normal

    out = aggregate(tmp_path / "runs", tmp_path / "agg", quiet=True)
    names = {p.name for p in out["files"]}
    assert {"curve1d_mlp_digits.png", "surface2d_mlp_digits.png", "interpolation_mlp_digits.png"} <= names
    assert {"psp_hist_mlp_digits.png", "psp_matrix_mlp_digits.png", "oneshot_vs_gradual.md"} <= names
    table = pd.read_csv(tmp_path / "agg" / "sharpness" / "oneshot_vs_gradual.csv")
    assert {normal(m) for m in table["method"]} == {"dense", "oneshot", "gradual", "lobster"}
