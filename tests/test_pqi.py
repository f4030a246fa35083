"""PQ Index and Gini: closed forms, hand-computed values, masks, scale invariance, batched scopes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from repro.masks import Masks
from repro.metrics.pqi import (
    P_GRID,
    Q_GRID,
    gini,
    pqi,
    pqi_grid,
    pqi_grid_rows,
    pqi_rows,
    scope_pqi,
    scope_pqi_grid,
    weight_report,
)


def test_constant_vector_has_index_zero_for_every_p_q():
    grid = pqi_grid(torch.full((37,), -0.3), None, P_GRID, Q_GRID)
    assert grid.shape == (10, 11)
    assert torch.equal(grid, torch.zeros_like(grid))


@pytest.mark.parametrize(("p", "q"), [(0.5, 1.0), (1.0, 2.0), (0.1, 1.7), (0.3, 0.9)])
@pytest.mark.parametrize("d", [2, 10, 1000])
def test_one_hot_vector_reaches_the_upper_bound(p: float, q: float, d: int):
    w = torch.zeros(d)
    w[d // 2] = 3.0
    assert pqi(w, p=p, q=q) == pytest.approx(1 - d ** (1 / q - 1 / p), rel=1e-12)


def test_hand_computed_value_of_a_small_vector():
    # p = 0.5, q = 1: 1 - (mean sqrt|w|)^2 / mean |w| on [1, 2, 3, 4]
    s = (1 + math.sqrt(2) + math.sqrt(3) + 2) / 4
    expected = 1 - s**2 / 2.5
    assert expected == pytest.approx(0.0555858, abs=1e-7)
    assert pqi(torch.tensor([1.0, -2.0, 3.0, -4.0])) == pytest.approx(expected, rel=1e-12)
    # p = 1, q = 2 via the norm form 1 - d^(1/2 - 1) ||w||_1 / ||w||_2
    assert pqi(torch.tensor([1.0, 2.0, 3.0, 4.0]), p=1, q=2) == pytest.approx(
        1 - 4**-0.5 * 10 / math.sqrt(30), rel=1e-12
    )


def test_masked_entries_are_ignored_and_count_nothing():
    w = torch.tensor([[9.0, 1.0, 2.0, -7.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0, 0.1, 5.0]])
    mask = torch.tensor([[False, True, True, False, True, True], [True, True, True, True, False, True]])
    rows = pqi_rows(w, mask)
    assert rows[0] == pytest.approx(pqi(torch.tensor([1.0, 2.0, 3.0, 4.0])), rel=1e-12)
    assert rows[1] == pytest.approx(0.0, abs=1e-12)  # the survivors are all equal
    assert pqi(w, mask) == pytest.approx(pqi(torch.tensor([1.0, 2.0, 3.0, 4.0, 5, 5, 5, 5, 5])), rel=1e-12)
    # a fully masked unit, and an all-zero one, get 0 instead of NaN
    assert pqi(w, torch.zeros_like(mask)) == 0.0
    assert pqi(torch.zeros(5)) == 0.0


def test_index_is_scale_and_sign_invariant():
    torch.manual_seed(0)
    w = torch.randn(64, 50, dtype=torch.float64) * torch.rand(64, 1, dtype=torch.float64)
    base = pqi_grid(w, None, P_GRID, Q_GRID)
    for c in (1e-20, 1e-3, 7.0, -1e15):
        assert torch.allclose(pqi_grid(w * c, None, P_GRID, Q_GRID), base, atol=1e-10, rtol=0)
    assert torch.allclose(pqi_rows(w * 1e-8), pqi_rows(w), atol=1e-10, rtol=0)


def test_batched_rows_match_a_loop_over_neurons_and_the_grid_matches_single_values():
    torch.manual_seed(1)
    w = torch.randn(16, 3, 3, 3)
    mask = torch.rand(16, 3, 3, 3) > 0.3
    grid = pqi_grid_rows(w, mask, P_GRID, Q_GRID)
    assert grid.shape == (10, 11, 16)
    for i in (0, 7, 15):
        for pi, qi in ((4, 0), (9, 10), (0, 5)):
            single = pqi(w[i].flatten(), mask[i].flatten(), p=P_GRID[pi], q=Q_GRID[qi])
            assert grid[pi, qi, i].item() == pytest.approx(single, abs=1e-12)
    assert torch.equal(grid[9, 0], torch.zeros(16))  # p = q = 1


def test_gini_closed_forms_and_hand_value():
    assert gini(torch.full((9,), 2.0)) == pytest.approx(0.0, abs=1e-12)
    one_hot = torch.zeros(10)
    one_hot[3] = -1.0
    assert gini(one_hot) == pytest.approx(1 - 1 / 10, rel=1e-12)
    # sorted [1, 2, 3, 4]: sum (2i - 5) a_i = -3 - 2 + 3 + 12 = 10; / (4 * 10)
    assert gini(torch.tensor([4.0, -1.0, 3.0, 2.0])) == pytest.approx(0.25, rel=1e-12)
    assert gini(torch.tensor([4.0, 100.0, 1.0, 3.0, 2.0]), torch.tensor([1, 0, 1, 1, 1]).bool()) == (
        pytest.approx(0.25, rel=1e-12)
    )


def _two_layer_masks() -> Masks:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 3))
    masks = Masks.for_model(model)
    masks["0"] = torch.rand(6, 12) > 0.4
    masks["2"] = torch.rand(3, 6) > 0.2
    return masks


def test_model_scopes_agree_with_the_concatenated_tensors():
    masks = _two_layer_masks()
    w0, w2 = masks.weight("0").detach(), masks.weight("2").detach()
    m0, m2 = masks["0"], masks["2"]
    everything = torch.cat([w0.flatten(), w2.flatten()])
    keep = torch.cat([m0.flatten(), m2.flatten()])
    assert scope_pqi(masks, "global") == pytest.approx(pqi(everything, keep), abs=1e-12)
    layer = scope_pqi(masks, "layer", p=1.0, q=2.0)
    assert layer == pytest.approx({"0": pqi(w0, m0, 1.0, 2.0), "2": pqi(w2, m2, 1.0, 2.0)}, abs=1e-12)
    neuron = scope_pqi(masks, "neuron")
    assert isinstance(neuron, dict)
    assert torch.allclose(neuron["2"], pqi_rows(w2, m2), atol=1e-12)
    grid = scope_pqi_grid(masks, "global", P_GRID, Q_GRID)
    assert isinstance(grid, torch.Tensor)
    assert grid[4, 0].item() == pytest.approx(pqi(everything, keep), abs=1e-12)


def test_weight_report_fields_and_grid_use_the_masks():
    masks = _two_layer_masks()
    fields, arrays = weight_report(masks, grid=True)
    everything = torch.cat([masks.weight(n).detach().flatten() for n in masks])
    keep = torch.cat([masks[n].flatten() for n in masks])
    assert fields["pqi"] == pytest.approx(pqi(everything, keep), abs=1e-6)  # float32 powering
    assert fields["gini"] == pytest.approx(gini(everything, keep), abs=1e-12)
    assert fields["layer_remaining"]["0"] == pytest.approx(masks["0"].float().mean().item())
    assert fields["layer_pqi"]["2"] == pytest.approx(pqi(masks.weight("2"), masks["2"]), abs=1e-6)
    assert arrays is not None and len(arrays["global"]) == 10 and len(arrays["global"][0]) == 11
    assert arrays["global"][4][0] == pytest.approx(fields["pqi"], abs=1e-12)
    assert weight_report(masks)[1] is None
