"""The shallower network: forced zero-entropy layers, exact outputs, folding, counts, and a real MNIST run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from repro.metrics.depth import Gate, ZeroFed, build_shallow
from repro.metrics.depth_check import compare, neuron_states, structure
from repro.models.mlp import MLP
from repro.models.resnet import ResNet, resnet18
from repro.run import run_job
from tests.conftest import compose


@pytest.fixture(autouse=True)
def one_thread():
    """The shared 2-core machine runs several suites at once: one thread avoids oversubscription."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def forced_resnet() -> ResNet:
    """ResNet-18 (width 8) with two layers forced to zero entropy.

    layer1.0.conv1 is fully pruned: relu1 sees its BN's shift alone, positive in channels 4-7 (always ON),
    negative in 0-3 (always OFF). layer2.1.conv1 is fully pruned with a negative shift: relu1 is all OFF,
    so conv2 of that block only ever sees zeros.
    """
    torch.manual_seed(0)
    model = resnet18(in_channels=3, num_classes=10, image_size=32, width=8).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        model.layer1[0].conv1.weight.zero_()
        model.layer1[0].bn1.bias.copy_(torch.tensor([-1.0] * 4 + [1.0] * 4))
        model.layer2[1].conv1.weight.zero_()
        model.layer2[1].bn1.bias.fill_(-1.0)
    return model


def test_shallow_resnet_gives_the_same_outputs_with_two_layers_removed() -> None:
    model = forced_resnet()
    x = torch.randn(48, 3, 32, 32)
    probe, states, rectified = neuron_states(model, [(x[:24], None), (x[24:], None)])
    assert probe.result()["removed_layers"] == 2
    on, off = states["layer1.0.conv1"]
    assert on.tolist() == [False] * 4 + [True] * 4 and off.tolist() == [True] * 4 + [False] * 4
    shallow, changes = build_shallow(model, rectified, states, x[:2])
    assert changes["gates"] == {"layer1.0.conv1": "gate", "layer2.1.conv1": "zero"}
    assert changes["dead"] == ["layer2.1.conv1"]  # computes nothing but feeds the all-OFF gate
    assert set(changes["zero_fed"]) == {"layer1.0.conv1", "layer2.1.conv2"}  # fully pruned / fed zeros
    assert isinstance(shallow.layer2[1].conv2, ZeroFed) and isinstance(shallow.layer1[0].relu1, Gate)
    with torch.no_grad():
        fresh = torch.randn(16, 3, 32, 32)  # the gates hold for any input here: their inputs are constant
        assert torch.allclose(model(x), shallow(x), atol=1e-5, rtol=0)
        assert torch.allclose(model(fresh), shallow(fresh), atol=1e-5, rtol=0)
    before, after = structure(model, x[:2]), structure(shallow, x[:2])
    assert (before["rectifiers"], after["rectifiers"]) == (17, 15)
    assert (before["weight_layers"], after["weight_layers"]) == (21, 18)
    # the two 3x3 convs of layer2.1 (16 x 16 x 9 = 2304 weights each, on an 8 x 8 map) and layer1.0.conv1
    # (8 x 8 x 9 = 576 weights on 16 x 16) no longer run: 2 FLOPs per multiply-add, per sample
    assert before["flops"] - after["flops"] == 2 * (2 * 2304 * 64 + 576 * 256)
    assert after["params"] < before["params"] and after["nonzero_params"] < before["nonzero_params"]


def test_mlp_layer_always_on_is_folded_into_its_neighbour() -> None:
    torch.manual_seed(1)
    mlp = MLP(in_channels=1, num_classes=10, image_size=8, hidden=[32, 32, 32]).eval()
    with torch.no_grad():
        mlp.fc2.weight.mul_(0.01)
        mlp.fc2.bias.fill_(5.0)  # relu2 always ON
        mlp.fc3.weight.normal_(0, 0.001)  # relu3 sees its bias alone: constant sign per neuron
        mlp.fc3.bias.copy_(torch.linspace(-1, 1, 32))
    x = torch.randn(64, 1, 8, 8)
    _, states, rectified = neuron_states(mlp, [(x, None)])
    shallow, changes = build_shallow(mlp, rectified, states, x[:2])
    assert changes["gates"] == {"fc2": "identity", "fc3": "gate"}
    assert changes["folded"] == ["fc2+fc3", "fc2+fc4"]
    assert isinstance(shallow.fc3, nn.Identity) and shallow.fc2.out_features == 10
    with torch.no_grad():
        assert torch.allclose(mlp(x), shallow(x), atol=1e-5, rtol=0)
    before, after = structure(mlp, x[:2]), structure(shallow, x[:2])
    assert (before["rectifiers"], after["rectifiers"]) == (3, 1)
    assert (before["weight_layers"], after["weight_layers"]) == (4, 2)
    # 64x32 + 32x32 + 32x32 + 32x10 weights and biases -> 64x32 + 32x10 (+ biases)
    assert (before["params"], after["params"]) == (4522, 2080 + 330)


def test_gates_are_checked_on_data_they_were_not_measured_on() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    x = torch.rand(32, 2) + 0.1  # always positive: through an identity fc, relu looks always ON
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
        net[0].bias.zero_()
    _, states, rectified = neuron_states(net.eval(), [(x, None)])
    shallow, changes = build_shallow(net, rectified, states, x[:2])
    assert changes["folded"] == ["0+2"]
    y = torch.zeros(32, dtype=torch.long)
    same = compare(net, shallow, [(x, y)])
    other = compare(net, shallow, [(-x, y)])
    assert same["max_diff"] < 1e-5 and same["agreement"] == 1.0
    assert other["max_diff"] > 0.1  # on negative inputs the removed ReLU mattered: the check sees it


@pytest.mark.parametrize(
    "layer",
    [
        nn.Conv2d(3, 5, 3, stride=2, padding=1),
        nn.Conv2d(3, 5, 3, padding="same", bias=False),
        nn.Conv2d(3, 5, (3, 1), stride=(1, 2), dilation=2),
        nn.Linear(7, 5),
    ],
)
def test_zero_fed_layer_outputs_what_the_layer_gives_on_zeros(layer: nn.Module) -> None:
    x = torch.zeros(2, 3, 9, 11) if isinstance(layer, nn.Conv2d) else torch.zeros(2, 4, 7)
    with torch.no_grad():
        assert torch.equal(ZeroFed(layer)(x), layer(x))


@pytest.mark.slow
def test_egp_removes_layers_imp_does_not_and_the_shallow_net_is_exact_on_mnist(
    mnist_root: Path, tmp_path: Path
) -> None:
    common = [
        "model=resnet18",
        "model.width=4",
        "model.input_size=28",
        "dataset=mnist",
        f"dataset.root={mnist_root}",
        "dataset.train_subset=6000",
        "dataset.test_subset=2000",
        "entropy=egp",
        "pruner.steps=3",
        "trainer.epochs=1",
        "trainer.dense_epochs=2",
        "trainer.num_threads=1",
        f"out_dir={tmp_path}",
        "logger=none",
    ]
    egp = run_job(compose(*common, "pruner=egp"))
    imp = run_job(compose(*common, "pruner=imp"))
    assert egp[0]["test_acc"] == imp[0]["test_acc"] > 0.9  # one shared dense training
    assert egp[-1]["egp_removed_layers"] >= 1 and imp[-1]["egp_removed_layers"] == 0
    assert egp[-1]["test_acc"] > 0.9 and imp[-1]["test_acc"] > 0.9
    assert egp[-1]["depth_acc_equal"] and egp[-1]["depth_removed_layers"] == egp[-1]["egp_removed_layers"]
    assert imp[-1]["depth_removed_layers"] == 0
