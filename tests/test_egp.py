"""EGP: the allocation formula by hand, layer-wise magnitude pruning, the loop, IMP, the scratch ablation."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from repro.aggregate import aggregate
from repro.errors import ConfigError
from repro.loop.job import build_job
from repro.masks import Masks
from repro.pruning.base import PruneContext
from repro.pruning.counts import allocate
from repro.pruning.egp import EGPPruner, reinitialise
from repro.pruning.method import ComposedPruner
from repro.pruning.schemas import EGPConfig
from repro.run import run_dir_of, run_job
from tests.conftest import compose


def test_allocation_without_capping_is_the_softmax_share_of_the_budget() -> None:
    # I = H x mean|w| = (1, 2); R = sum I / I = (3, 1.5); P = 0.5 x 2000 = 1000
    counts = allocate({"a": 1.0, "b": 1.0}, {"a": 1.0, "b": 2.0}, {"a": 1000, "b": 1000}, 0.5)
    share_a = 1.0 / (1.0 + math.exp(1.5 - 3.0))
    assert counts == {"a": math.floor(1000 * share_a), "b": math.floor(1000 * (1 - share_a))}
    assert counts == {"a": 817, "b": 182}


def test_allocation_caps_a_layer_and_redistributes_its_remainder() -> None:
    entropy = {"a": 0.5, "b": 1.0, "c": 1.0, "zero": 0.0, "empty": 0.7}
    mean_abs = {"a": 0.1, "b": 0.2, "c": 0.4, "zero": 0.3, "empty": 0.0}
    remaining = {"a": 10, "b": 100, "c": 1000, "zero": 50, "empty": 0}
    counts = allocate(entropy, mean_abs, remaining, 0.5)
    # candidates a, b, c (zero entropy and no weights are out): I = (.05, .2, .4), R = (13, 3.25, 1.625),
    # P = 555. a's share ~555 > 10: a is fully pruned, P = 545, sum I = .6 -> R = (3, 1.5) for b, c;
    # b's share 545 x 1 / (1 + e^-1.5) = 445.6 > 100: b is fully pruned too, P = 445 all to c.
    share_a = 555 / (1 + math.exp(3.25 - 13) + math.exp(1.625 - 13))
    share_b = 545 / (1 + math.exp(1.5 - 3))
    assert share_a > 10 and share_b > 100
    assert counts == {"a": 10, "b": 100, "c": 445, "zero": 0, "empty": 0}


def test_allocation_keeps_the_budget_when_nothing_is_capped_after_one_round() -> None:
    entropy, mean_abs = {"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 0.1, "b": 1.0, "c": 1.0}
    remaining = {"a": 100, "b": 5000, "c": 5000}
    counts = allocate(entropy, mean_abs, remaining, 0.5)
    # a (I = .1) takes its 100, then b and c (equal R) split the remaining 5050 - 100 evenly
    assert counts == {"a": 100, "b": 2475, "c": 2475}


def mlp_with_known_weights() -> nn.Sequential:
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        for i, layer in enumerate(net[::2]):
            layer.weight.copy_(
                torch.arange(1, layer.weight.numel() + 1, dtype=torch.float).view_as(layer.weight)
            )
            layer.weight.mul_((-1) ** i / 16)
    return net


def test_prune_removes_the_allocated_smallest_weights_layer_by_layer() -> None:
    net = mlp_with_known_weights()
    masks = Masks.for_model(net)
    pruner = EGPPruner.of(EGPConfig(rate=0.5, steps=1, scope="layer"))
    probe = {"_entropy": {"0": 1.0, "2": 0.0}, "_entropy_pass": {"0": 0.5, "2": 0.0}}
    ctx = PruneContext(model=net, step=1, device=torch.device("cpu"), measurements={"egp": probe})
    pruner.prune(masks, ctx)
    # layer 0 is the only candidate: 8 of its 16 weights go, the 8 smallest |w| (1..8 / 16)
    assert pruner.last_allocation == {"0": 8, "2": 0}
    assert masks["0"].flatten().tolist() == [False] * 8 + [True] * 8
    assert bool(masks["2"].all()) and bool(masks["4"].all())  # zero entropy; not rectified (classifier)


def test_prune_without_the_probe_fails_clearly() -> None:
    net = mlp_with_known_weights()
    with pytest.raises(RuntimeError, match="egp"):
        EGPPruner.of(EGPConfig(steps=1)).prune(
            Masks.for_model(net), PruneContext(net, 1, torch.device("cpu"))
        )
    assert EGPPruner.of(EGPConfig(steps=1)).needs() == {"egp"}


def test_egp_config_and_its_bad_values() -> None:
    cfg = compose("pruner=egp")
    assert (cfg.pruner.rate, cfg.pruner.scope, cfg.pruner.rewind, cfg.pruner.estimator) == (
        0.5,
        "layer",
        "none",
        "batch",
    )
    for override, key in (
        ("pruner.scope=global", "pruner.scope"),
        ("pruner.estimator=median", "pruner.estimator"),
        ("pruner.rate=1.0", "pruner.rate"),
    ):
        with pytest.raises(ConfigError, match=key):
            compose("pruner=egp", override)


def test_imp_is_global_magnitude_over_every_conv_and_linear() -> None:
    cfg = compose("pruner=imp", "model=resnet18", "model.width=4")
    assert (cfg.pruner.rate, cfg.pruner.scope, cfg.pruner.rewind) == (0.5, "global", "none")
    job = build_job(cfg)
    assert isinstance(job.pruner, ComposedPruner) and job.pruner.label == "IMP"
    assert {"fc", "layer2.0.downsample.0", "conv1"} <= set(job.masks)
    job.pruner.prune(job.masks, None)
    assert job.masks.sparsity() == pytest.approx(0.5, abs=1e-4)
    job.pruner.prune(job.masks, None)
    assert job.masks.sparsity() == pytest.approx(0.75, abs=1e-4)
    assert job.pruner.nominal_sparsity(2) == 0.75


def test_reinitialise_freezes_fully_pruned_layers_and_resets_the_rest() -> None:
    net = nn.Sequential(
        nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)
    )
    masks = Masks.for_model(net)
    masks["0"] = torch.zeros_like(masks["0"])
    masks["3"] = torch.rand(4, 4) > 0.5
    masks.apply()
    with torch.no_grad():
        net[1].weight.fill_(3.0)
        net[1].running_mean.fill_(2.0)
    before = net[3].weight.detach().clone()
    out = reinitialise(net, masks)
    assert out["frozen"] == ["0"]
    assert not net[0].weight.any() and not net[0].bias.any() and not net[0].weight.requires_grad
    assert bool(masks["3"].all()) and bool(masks["5"].all()) and not masks["0"].any()
    assert (net[3].weight != 0).all() and not torch.equal(net[3].weight, before)
    assert net[1].weight.eq(1).all() and net[1].running_mean.eq(0).all()


@pytest.fixture
def one_thread():
    """The shared 2-core machine runs several suites at once: one thread avoids oversubscription."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_egp_run_on_digits_records_entropy_depth_and_the_scratch_ablation(tmp_path: Path, one_thread) -> None:
    cfg = compose(
        "model=resnet18",
        "model.width=4",
        "model.input_size=16",
        "pruner=egp",
        "pruner.steps=3",
        "pruner.scratch=true",
        "entropy=egp",
        "trainer.epochs=2",
        "trainer.dense_epochs=4",
        "trainer.num_threads=1",
        f"out_dir={tmp_path}",
        "logger=none",
    )
    records = run_job(cfg)
    assert [r["step"] for r in records] == [0, 1, 2, 3, 4]
    dense, *steps, scratch = records
    assert dense["test_acc"] > 0.9 and all(r["egp_layers"] == 17 for r in records)
    for before, after in zip(records, steps):
        # half of the candidates' weights per step, only in the 17 rectified convs
        assert after["egp_rectified_sparsity"] > before["egp_rectified_sparsity"]
        assert after["sparsity"] <= after["nominal_sparsity"] + 1e-9
        untouched = {n: s for n, s in after["layer_sparsity"].items() if n == "fc" or "downsample" in n}
        assert len(untouched) == 4 and set(untouched.values()) == {0.0}
    last = steps[-1]
    assert last["egp_removed_layers"] >= 1 and last["test_acc"] > 0.5
    # the depth check ran after the last pruning step: the shallow net is as accurate and cheaper
    assert last["depth_acc_equal"] and last["depth_removed_layers"] == last["egp_removed_layers"]
    assert last["depth_shallow_rectifiers"] == 17 - last["depth_removed_layers"]
    assert last["depth_shallow_flops"] < last["depth_flops"]
    assert last["depth_shallow_nonzero_params"] < last["depth_nonzero_params"]
    # the ablation: fully pruned layers stay exactly zero, the others are dense again
    state = torch.load(run_dir_of(cfg) / "checkpoints" / "step_4_last.pt", weights_only=True)
    gone = [n for n, s in last["layer_sparsity"].items() if s == 1.0]
    assert gone
    for name, s in scratch["layer_sparsity"].items():
        assert s == (1.0 if name in gone else 0.0)
    for name in gone:
        assert not state[f"{name}.weight"].any()
    assert scratch["nominal_sparsity"] is None and scratch["test_acc"] > 0.2
    # the aggregator's EGP table and figures come from these records
    aggregate(tmp_path, quiet=True)
    table = pd.read_csv(tmp_path / "egp" / "egp_table.csv")
    assert [m.lower() for m in table["method"]] == ["egp"] * 4 + ["egp-scratch"]  # labels come from records
    assert table["removed layers"].iloc[3] == last["egp_removed_layers"]
    assert table["rectified layers"].iloc[3] == 17
    for stem in ("accuracy_vs_sparsity_resnet18_digits", "neuron_states_resnet18_digits_egp"):
        (png,) = [p for p in (tmp_path / "egp").glob("*.png") if p.stem.lower() == stem]
        assert png.stat().st_size > 1000
