"""EGP's ON/OFF entropy: hand-built pre-activations, both estimators, conv neurons, the layer map."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision
from torch import nn

from repro.metrics.entropy import EGPProbe, binary_entropy, rectified_layers
from repro.metrics.registry import measure
from repro.models.resnet import resnet18
from repro.models.swin import swin
from tests.conftest import compose


def h(p: float) -> float:
    """Binary entropy in bits, written out by hand."""
    if p in (0.0, 1.0):
        return 0.0
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def two_layer_net() -> nn.Sequential:
    """relu1 sees x + 10 (always ON); relu2 sees x0 (its neuron 0) and -1 (neuron 1, always OFF)."""
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
        net[0].bias.fill_(10.0)
        net[2].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
        net[2].bias.copy_(torch.tensor([-10.0, -1.0]))
    return net


def run_probe(model: nn.Module, batches) -> dict:
    return measure(["egp"], model, [(x, torch.zeros(len(x), dtype=torch.long)) for x in batches], 2)["egp"]


def test_zero_entropy_for_constant_signs_and_one_bit_for_half_positive() -> None:
    # x0 alternates +-0.5 so exactly half of the observations of relu2's neuron 0 are positive in every batch
    x = torch.tensor([[0.5, 0.3], [-0.5, -0.2], [0.5, 0.0], [-0.5, 0.9]])
    res = run_probe(two_layer_net(), [x, x.flip(0)])
    assert res["_entropy"]["0"] == 0.0 and res["_entropy_pass"]["0"] == 0.0
    assert (res["_on"]["0"], res["_off"]["0"], res["_mixed"]["0"]) == (2, 0, 0)
    # per batch: the mean over non-constant neurons (neuron 0 alone) is 1 bit; whole pass: (1 + 0) / 2
    assert res["_entropy"]["2"] == pytest.approx(1.0, abs=1e-12)
    assert res["_entropy_pass"]["2"] == pytest.approx(0.5, abs=1e-12)
    assert (res["_on"]["2"], res["_off"]["2"], res["_mixed"]["2"]) == (0, 1, 1)
    assert res["layers"] == 2 and res["removed_layers"] == 1


def test_per_batch_estimator_matches_a_hand_computation() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
        net[0].bias.zero_()
    b1 = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0]])  # n0: p = 1/4, n1: constant ON
    b2 = torch.tensor([[1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]])  # n0: constant ON, n1: p = 1/2
    b3 = torch.tensor([[-1.0, 1.0], [-2.0, 2.0]])  # both constant: the batch counts as 0
    b4 = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, -1.0]])  # n0: 3/4, n1: 1/2
    res = run_probe(net, [b1, b2, b3, b4])
    per_batch = (h(1 / 4) + h(1 / 2) + 0.0 + (h(3 / 4) + h(1 / 2)) / 2) / 4
    assert res["_entropy"]["0"] == pytest.approx(per_batch, abs=1e-12)
    # whole pass: n0 is ON in 1 + 4 + 0 + 3 of 14 observations, n1 in 4 + 2 + 2 + 2
    assert res["_entropy_pass"]["0"] == pytest.approx((h(8 / 14) + h(10 / 14)) / 2, abs=1e-12)
    assert res["removed_layers"] == 0 and res["_mixed"]["0"] == 2


def test_clamped_entropy_matches_the_official_formula() -> None:
    p = torch.tensor([0.0, 1.0, 0.5, 1e-7])
    got = binary_entropy(p)
    assert got[:3].tolist() == [0.0, 0.0, 1.0]
    # below 1e-5 the log's argument is clamped: -(p log2 1e-5 + (1 - p) log2 (1 - p))
    assert float(got[3]) == pytest.approx(-(1e-7 * math.log2(1e-5) + (1 - 1e-7) * math.log2(1 - 1e-7)))


def test_conv_neuron_is_a_channel_observed_over_samples_and_positions() -> None:
    conv = nn.Sequential(nn.Conv2d(2, 2, 1, bias=False), nn.ReLU())
    with torch.no_grad():
        conv[0].weight.copy_(torch.eye(2).view(2, 2, 1, 1))
    x = torch.ones(3, 2, 2, 2)
    x[:, 0, 0, :] = -1.0  # channel 0 is positive at exactly half of its positions in every sample
    x[:, 1] = -1.0  # channel 1 never fires
    res = run_probe(conv, [x])
    assert res["_entropy"]["0"] == pytest.approx(1.0)  # only channel 0 is non-constant
    assert res["_entropy_pass"]["0"] == pytest.approx(0.5)
    assert (res["_off"]["0"], res["_on"]["0"], res["_mixed"]["0"]) == (1, 0, 1)


def test_transformer_neuron_is_a_feature_observed_over_samples_and_tokens() -> None:
    mlp = nn.Sequential(nn.Linear(3, 3, bias=False), nn.GELU())
    with torch.no_grad():
        mlp[0].weight.copy_(torch.eye(3))
    x = torch.ones(2, 4, 3)  # [batch, tokens, features]
    x[:, :3, 0] = -1.0  # feature 0: ON in 1 of 4 tokens
    res = run_probe(mlp, [x])
    assert res["_kind"]["0"] == "gelu"
    assert res["_entropy_pass"]["0"] == pytest.approx(h(0.25) / 3)
    assert (res["_on"]["0"], res["_mixed"]["0"]) == (2, 1)


def test_hooks_are_removed_and_nothing_is_stored() -> None:
    net = two_layer_net()
    probe = EGPProbe()
    probe.attach(net)
    net(torch.randn(5, 2))
    probe.detach()
    assert not net._forward_hooks and not net._forward_pre_hooks
    assert all(not m._forward_hooks for m in net)
    counts = probe.counts["2"]
    assert counts.obs == 5 and counts.on.shape == (2,)


# --------------------------------------------------------------------------- layer map


def test_cifar_resnet18_maps_17_rectifiers_to_the_stem_and_block_convs() -> None:
    model = resnet18(in_channels=3, num_classes=10, image_size=32, width=8)
    found = rectified_layers(model, torch.randn(2, 3, 32, 32))
    assert len(found) == 17
    pairs = {r.activation: r.layer for r in found}
    assert pairs["relu"] == "conv1"
    # the second ReLU follows the residual add (with a projection shortcut here) and still maps to conv2
    assert pairs["layer2.0.relu1"] == "layer2.0.conv1" and pairs["layer2.0.relu2"] == "layer2.0.conv2"
    assert all("downsample" not in r.layer and r.layer != "fc" for r in found)
    assert all(r.neuron_dim == 1 and r.kind == "relu" for r in found)


def test_shared_relu_of_torchvision_resnet18_is_split_by_call() -> None:
    # torchvision runs the projection shortcut after conv2: the deeper conv2 is still the one rectified
    found = rectified_layers(torchvision.models.resnet18(), torch.randn(2, 3, 64, 64))
    assert len(found) == 17
    calls = {(r.activation, r.call): r.layer for r in found}
    assert calls[("layer2.0.relu", 0)] == "layer2.0.conv1"
    assert calls[("layer2.0.relu", 1)] == "layer2.0.conv2"


def test_swin_t_maps_12_gelus_to_the_first_mlp_linear() -> None:
    model = swin(in_channels=3, num_classes=10, image_size=32).eval()
    found = rectified_layers(model, torch.randn(2, 3, 32, 32))
    assert len(found) == 12
    assert all(r.kind == "gelu" and r.neuron_dim == -1 for r in found)
    assert all(r.layer == r.activation[: -len(".1")] + ".0" and ".mlp." in r.layer for r in found)


def test_entropy_config_selects_the_probe_on_augmented_training_data() -> None:
    cfg = compose("entropy=egp")
    assert list(cfg.entropy.names) == ["egp"] and cfg.entropy.split == "train" and cfg.entropy.depth
