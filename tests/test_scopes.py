"""Exact counts per scope unit, masks persisting, and the one-shot / rate count rules."""

import pytest
import torch
from torch import nn

from repro.masks import Masks, prunable_modules
from repro.pruning.counts import counts_for_fraction, counts_for_target
from repro.pruning.method import ComposedPruner
from repro.pruning.schemas import OneShotConfig, RateConfig
from repro.pruning.scores import magnitude_scores
from repro.pruning.update import prune_smallest


def two_layer_masks() -> tuple[nn.Module, Masks]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.arange(12, dtype=torch.float).view(3, 4) + 1)  # 1..12
        model[2].weight.copy_(-(torch.arange(6, dtype=torch.float).view(2, 3) + 0.5))  # |w| 0.5..5.5
    return model, Masks.for_model(model)


def test_prunable_modules_respects_kinds_and_exclude():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 2))
    assert list(prunable_modules(model)) == ["0", "3"]
    assert list(prunable_modules(model, kinds=["linear"])) == ["3"]
    assert list(prunable_modules(model, exclude=["3"])) == ["0"]


def test_global_prunes_smallest_magnitudes_across_layers():
    model, masks = two_layer_masks()
    prune_smallest(masks, magnitude_scores(masks), "global", 5)
    # smallest |w|: 0.5, 1, 1.5, 2, 2.5 -> three from layer 2 (0.5, 1.5, 2.5) and two from layer 0 (1, 2)
    assert masks.remaining() == 13
    assert masks["0"].flatten()[:2].tolist() == [False, False]
    assert masks["2"].flatten().tolist() == [False, False, False, True, True, True]


def test_layer_scope_prunes_each_layer_by_its_own_count():
    _, masks = two_layer_masks()
    prune_smallest(masks, magnitude_scores(masks), "layer", {"0": 6, "2": 1})
    assert int(masks["0"].sum()) == 6 and int(masks["2"].sum()) == 5
    assert masks["0"].flatten()[6:].all() and not masks["0"].flatten()[:6].any()


def test_neuron_scope_prunes_each_row_by_its_own_count():
    _, masks = two_layer_masks()
    prune_smallest(
        masks, magnitude_scores(masks), "neuron", {"0": torch.tensor([0, 2, 4]), "2": torch.tensor([1, 0])}
    )
    assert masks["0"].sum(dim=1).tolist() == [4, 2, 0]
    assert masks["0"][1].tolist() == [False, False, True, True]
    assert masks["2"].sum(dim=1).tolist() == [2, 3]


def test_pruning_never_regrows_and_counts_only_survivors():
    _, masks = two_layer_masks()
    prune_smallest(masks, magnitude_scores(masks), "global", 4)
    before = {n: masks[n].clone() for n in masks}
    prune_smallest(masks, magnitude_scores(masks), "global", 4)
    assert masks.remaining() == 18 - 8
    for n in masks:
        assert not (masks[n] & ~before[n]).any()


@pytest.mark.parametrize("scope", ["global", "layer", "neuron"])
@pytest.mark.parametrize("target", [0.0, 0.5, 0.9, 0.99])
def test_target_sparsity_is_reached_exactly(scope, target):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.Flatten(), nn.Linear(16 * 6 * 6, 10))
    masks = Masks.for_model(model)
    prune_smallest(masks, magnitude_scores(masks), scope, counts_for_target(masks, scope, target))
    assert masks.sparsity() == pytest.approx(target, abs=2e-3)
    masks.apply()
    assert (model[0].weight[~masks["0"]] == 0).all()


def test_fraction_of_remaining_compounds():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(100, 100))
    masks = Masks.for_model(model)
    for _ in range(3):
        prune_smallest(masks, magnitude_scores(masks), "global", counts_for_fraction(masks, "global", 0.2))
    assert masks.remaining() == 5120  # 10000 * 0.8^3


def test_pruners_report_nominal_sparsity():
    assert ComposedPruner.of(RateConfig(rate=0.5)).nominal_sparsity(3) == pytest.approx(0.875)
    assert ComposedPruner.of(OneShotConfig(sparsity=0.9)).nominal_sparsity(1) == 0.9


def test_masks_state_roundtrip_rejects_mismatch():
    _, masks = two_layer_masks()
    state = masks.state_dict()
    state["0"][0, 0] = False
    masks.load_state_dict(state)
    assert not masks["0"][0, 0]
    with pytest.raises(ValueError, match="shape"):
        masks.load_state_dict({"0": torch.ones(2, 2, dtype=torch.bool), "2": state["2"]})
