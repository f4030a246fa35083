"""The lottery-ticket protocol: per-layer rates, rewinding to the initial weights, early-stop bookkeeping."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from repro.masks import Masks
from repro.pruning.base import PruneContext
from repro.pruning.layer_rates import LayerRate, LayerTarget
from repro.run import run_job
from tests.conftest import compose


def lenet() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))


def test_each_layer_loses_its_own_rate_and_the_output_layer_half() -> None:
    model = lenet()
    masks = Masks.for_model(model)
    rule = LayerRate(rate=0.2, layer_rates={"4": 0.1})  # "4" is the output layer of this Sequential
    counts = rule(masks, "layer", None, PruneContext(model=model, step=1, device=torch.device("cpu")))
    assert counts == {"0": round(0.2 * 784 * 300), "2": round(0.2 * 300 * 100), "4": round(0.1 * 100 * 10)}


def test_one_shot_to_round_t_reaches_the_iterative_fractions() -> None:
    model = lenet()
    masks = Masks.for_model(model)
    rule = LayerTarget(rate=0.2, layer_rates={"4": 0.1})
    counts = rule(masks, "layer", None, PruneContext(model=model, step=3, device=torch.device("cpu")))
    assert counts["0"] == 784 * 300 - round(0.8**3 * 784 * 300)
    assert counts["4"] == 1000 - round(0.9**3 * 1000)


@pytest.mark.slow
def test_a_three_round_slice_of_the_protocol(mnist_root: Path, tmp_path: Path, monkeypatch) -> None:
    """Rounds of the real preset, shortened: counts per layer, survivors rewound, early stop recorded."""
    import repro.loop.loop as loop_module

    starts: dict[int, dict[str, torch.Tensor]] = {}
    fit = loop_module.fit

    def watching_fit(model, masks, *args, **kw):
        step = int(kw["desc"].split()[1].split("/")[0]) if kw.get("desc") else len(starts)
        starts.setdefault(step, {k: v.detach().clone() for k, v in model.state_dict().items()})
        return fit(model, masks, *args, **kw)

    monkeypatch.setattr(loop_module, "fit", watching_fit)
    cfg = compose("experiment=lottery/mnist_lenet300_100", f"dataset.root={mnist_root}", "pruner.steps=3",
                  "trainer.iterations=300", "trainer.eval_every=100", "control.reinit_steps=[2]",
                  "trainer.progress=true", "logger=none", f"out_dir={tmp_path}")  # fmt: skip
    records = run_job(cfg)
    assert [r["step"] for r in records] == [0, 1, 2, 3]
    for r in records:
        t = r["step"]
        assert r["layer_sparsity"]["fc1"] == pytest.approx(1 - 0.8**t, abs=1e-5)
        assert r["layer_sparsity"]["fc3"] == pytest.approx(1 - 0.9**t, abs=1e-3)
        assert r["method"] == "LT" and r["iterations"] == 300
        assert r["early_stop_iteration"] in (100, 200, 300)
        assert r["early_stop_val_loss"] <= r["end_val_loss"] + 1e-12
        assert 0.8 < r["early_stop_test_acc"] <= 1.0
    assert records[2]["reinit_early_stop_iteration"] in (100, 200, 300)
    assert "reinit_test_acc" not in records[1]
    init = starts[0]
    for step in (1, 2, 3):  # every round starts from the initial weights of the survivors
        for name in ("fc1", "fc2", "fc3"):
            start = starts[step][f"{name}.weight"]
            kept = start != 0
            assert torch.equal(start[kept], init[f"{name}.weight"][kept])
            pruned = 1 - kept.float().mean().item()
            assert pruned == pytest.approx(records[step]["layer_sparsity"][name], abs=1e-3)
