"""PSP-entropy: hand-built ON/OFF patterns per class, conv neurons, streaming, and its config."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from repro.metrics.psp import binary_entropy_bits
from repro.metrics.registry import measure
from tests.conftest import compose

FLOOR = -(1e-4 * math.log2(1e-4) + 0.9999 * math.log2(0.9999))  # h(1e-4) = h(0.9999), about 0.00147 bits


def two_neuron_net() -> nn.Sequential:
    """fc1 copies its 2-d input: neuron 0 sees x0, neuron 1 sees x1; fc2 is the output layer."""
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
        net[0].bias.zero_()
        net[2].weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
        net[2].bias.zero_()
    return net


def labelled_batches(n_per_class: int = 8, batch: int = 5):
    """Class 0: x0 = +1 (neuron 0 always ON), class 1: x0 = -1 (always OFF); x1 alternates in each class."""
    xs, ys = [], []
    for label, sign in ((0, 1.0), (1, -1.0)):
        for i in range(n_per_class):
            xs.append([sign, 1.0 if i % 2 == 0 else -1.0])
            ys.append(label)
    x, y = torch.tensor(xs), torch.tensor(ys)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(y), batch)]


def test_binary_entropy_values():
    p = torch.tensor([0.0, 0.5, 1.0, 0.25])
    h = binary_entropy_bits(p)
    assert h[0].item() == pytest.approx(FLOOR, abs=1e-6)
    assert h[2].item() == pytest.approx(FLOOR, abs=1e-6)
    assert h[1].item() == pytest.approx(1.0, abs=1e-6)
    assert h[3].item() == pytest.approx(-(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75)), rel=1e-6)


def test_class_specific_neuron_is_at_the_floor_and_half_on_neuron_has_one_bit_per_class():
    res = measure(["psp"], two_neuron_net(), labelled_batches(), num_classes=2)["psp"]
    matrix = torch.tensor(res["_matrices"]["0"])  # fc1 (module "0"): [2 neurons, 2 classes]
    assert matrix.shape == (2, 2)
    # neuron 0: ON for every class-0 sample, OFF for every class-1 sample -> the clamp floor for both classes
    assert matrix[0].tolist() == pytest.approx([FLOOR, FLOOR], abs=1e-4)
    # neuron 1: ON for exactly half of each class -> 1 bit per class
    assert matrix[1].tolist() == pytest.approx([1.0, 1.0], abs=1e-6)
    # neuron entropy sums the classes; layer = mean over neurons; network = mean over hidden layers (fc1 only)
    assert res["_neuron_entropy"]["0"] == pytest.approx([2 * FLOOR, 2.0], abs=1e-4)
    assert res["layers"] == {"0": pytest.approx(FLOOR + 1.0, abs=1e-4)}
    assert res["network"] == pytest.approx(FLOOR + 1.0, abs=1e-4)
    assert res["_class_counts"] == [8, 8]


def test_output_layer_is_left_out_unless_asked():
    batches = labelled_batches()
    default = measure(["psp"], two_neuron_net(), batches, num_classes=2)["psp"]
    assert set(default["layers"]) == {"0"}
    with_out = measure(["psp"], two_neuron_net(), batches, num_classes=2, psp_include_output=True)["psp"]
    assert set(with_out["layers"]) == {"0", "2"}
    # output neuron 0 = relu(x0): ON exactly for class 0 -> floor; output neuron 1 = -relu(x0): never ON
    assert with_out["layers"]["2"] == pytest.approx(2 * FLOOR, abs=1e-4)


def test_every_conv_output_element_is_a_neuron_and_streaming_equals_one_batch():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 4))
    x, y = torch.randn(24, 1, 6, 6), torch.arange(24) % 4
    whole = measure(["psp"], net, [(x, y)], num_classes=4)["psp"]
    streamed = measure(["psp"], net, [(x[i : i + 7], y[i : i + 7]) for i in range(0, 24, 7)], num_classes=4)
    assert len(whole["_matrices"]["0"]) == 3 * 4 * 4  # channels x height x width
    assert streamed["psp"]["_matrices"] == whole["_matrices"]
    # by hand for one neuron: channel 1 at (2, 3), class 2
    z = net[0](x)[:, 1, 2, 3]
    p = float((z[y == 2] > 0).float().mean())
    expected = float(binary_entropy_bits(torch.tensor(p)))
    assert whole["_matrices"]["0"][1 * 16 + 2 * 4 + 3][2] == pytest.approx(expected, abs=1e-4)


def test_entropy_configs_select_one_or_several_metrics():
    assert list(compose("entropy=psp").entropy.names) == ["psp"]
    assert list(compose("entropy=egp_psp").entropy.names) == ["egp", "psp"]
    assert list(compose("entropy.names=[psp]").entropy.names) == ["psp"]
