"""LOBSTER's fidelity to the group's code: the bisection's midpoint and the BatchNorm parameters."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from repro.masks import Masks
from repro.pruning.base import PruneContext, TrainState
from repro.pruning.lobster import LobsterPruner
from repro.pruning.schemas import LobsterConfig


class ValOnly:
    """The part of a run's data LOBSTER reads: a validation split of fixed batches."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.val = (x, y)

    def loader(self, split: str, batch_size: int, train: bool = False):
        assert split == "val" and not train
        return [self.val]


def pruner(**kw) -> LobsterPruner:
    return LobsterPruner.of(LobsterConfig(**kw))


# ---------------------------------------------------------------------- the bisection's result


def search_case() -> tuple[nn.Module, Masks, ValOnly]:
    """A layer whose validation loss depends on one weight only, placed between the bracket's ends.

    200 weights: 198 spread evenly over [0.01, 0.99] whose inputs are always 0, w0 = 0.4 and w1 = 1.0 on the
    one active input; the loss is softplus(d) with d = 7.8 (w0 kept) or 8.2 (w0 pruned): pruning w0 raises it
    by 5.13 %, just above the 5 % tolerance but within the bisection's 5 % stop rule, so the search stops at
    once with the bracket [smallest weight, mean |w|] and only the mean threshold costs anything.
    """
    layer = nn.Linear(100, 2)
    k = 7
    rest = torch.linspace(0.01, 0.99, 198)
    signs = torch.tensor([1.0, -1.0]).repeat(99)
    with torch.no_grad():
        flat = torch.empty(200)
        others = [i for i in range(200) if i not in (k, 100 + k)]
        flat[others] = rest * signs
        flat[k], flat[100 + k] = 0.4, 1.0  # row 0 (the label's logit) and row 1 on input k
        layer.weight.copy_(flat.view(2, 100))
        layer.bias.copy_(torch.tensor([0.0, 7.2]))  # d = (1.0 + 7.2) - (0.4 + 0.0) = 7.8
    x = torch.zeros(20, 100)
    x[:, k] = 1.0
    model = nn.Sequential(layer)
    return model, Masks.for_model(model), ValOnly(x, torch.zeros(20, dtype=torch.long))


@pytest.mark.parametrize("midpoint", [True, False])
def test_midpoint_prunes_where_the_lower_end_prunes_nothing(midpoint: bool):
    model, masks, data = search_case()
    # tolerance 0.05, bisection_delta 0.05 (the group's); the default is the midpoint
    p = pruner(sparsity=0.99) if midpoint else pruner(sparsity=0.99, midpoint=False)
    base = p.val_loss(model, data)
    mean_t = float(masks.weight("0").detach().abs().mean())
    assert 1.05 < p.loss_below(model, masks, data, mean_t) / base < 1.0525  # the constructed precondition
    threshold = p.find_threshold(model, masks, data)
    p.apply_threshold(masks, threshold)
    if midpoint:  # the group's code: (smallest + mean) / 2, the 50 weights below 0.256 go, w0 stays
        assert threshold == pytest.approx((0.01 + mean_t) / 2, rel=1e-6)
        assert masks.total() - masks.remaining() == 50
        assert masks.sparsity() == pytest.approx(0.25)
    else:  # the verified lower end is the smallest weight: nothing is strictly below it
        assert threshold == pytest.approx(0.01, rel=1e-6)
        assert masks.sparsity() == 0.0
    assert masks.weight("0")[0, 7].item() == pytest.approx(0.4)  # the weight the loss needs survives
    loss = p.val_loss(model, data)
    assert loss == pytest.approx(base, rel=1e-6) and loss <= p.last_search["bound"]
    assert (masks.weight("0")[~masks["0"]] == 0).all()


# ---------------------------------------------------------------------- BatchNorm parameters


def bn_model() -> nn.Module:
    """Tanh, not ReLU: a zeroed BatchNorm channel still gets gradients (SGD would move it back)."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
    )  # fmt: skip


def hooked(p: LobsterPruner, model: nn.Module, masks: Masks):
    """The pruner's training hook for step 1, with a validation split it never reaches (no plateau check)."""
    data = ValOnly(torch.randn(8, 1, 8, 8), torch.zeros(8, dtype=torch.long))
    return p.training_hook(masks, PruneContext(model=model, step=1, device=torch.device("cpu"), data=data))


def state(model: nn.Module, masks: Masks, iteration: int = 1) -> TrainState:
    return TrainState(0, iteration, 1000, 1000, model, masks, torch.tensor(0.0))


@pytest.mark.parametrize("batchnorm", [True, False])
def test_insensitive_batchnorm_parameters_shrink(batchnorm: bool):
    model = bn_model()
    bn = model[1]
    masks = Masks.for_model(model)
    hook = hooked(pruner(lmbda=0.1, check_every=999, batchnorm=batchnorm), model, masks)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 1.0, 1.0, 1.0]))
        bn.bias.copy_(torch.tensor([0.5, 0.5, -0.5, -0.5]))
    for param in model.parameters():
        param.grad = torch.zeros_like(param)
    bn.weight.grad = torch.tensor([0.0, 0.5, 2.0, 1.0])  # insensitivities relu(1 - |g|): 1, 0.5, 0, 0
    bn.bias.grad = torch.tensor([0.0, 3.0, 0.0, 1.0])  # 1, 0, 1, 0
    hook(state(model, masks))
    if batchnorm:
        assert bn.weight.tolist() == pytest.approx([0.9, 0.95, 1.0, 1.0])
        assert bn.bias.tolist() == pytest.approx([0.45, 0.5, -0.45, -0.5])
    else:
        assert bn.weight.tolist() == [1.0, 1.0, 1.0, 1.0] and bn.bias.tolist() == [0.5, 0.5, -0.5, -0.5]


def set_bn_case(model: nn.Module) -> None:
    """Conv and linear weights of magnitude >= 0.02 but 10 (conv) + 20 (linear) at 0.005; BatchNorm
    weights 0.001, 0.002, 0.5, 1.0 and biases 0.0005, -0.3, 0.004, 0.2."""
    with torch.no_grad():
        for layer, small in ((model[0], 10), (model[4], 20)):
            w = layer.weight.view(-1)
            w.copy_(torch.linspace(0.02, 0.5, w.numel()))
            w[:small] = 0.005
        model[1].weight.copy_(torch.tensor([0.001, 0.002, 0.5, 1.0]))
        model[1].bias.copy_(torch.tensor([0.0005, -0.3, 0.004, 0.2]))


def test_batchnorm_parameters_below_the_threshold_are_zeroed_for_good():
    model = bn_model()
    set_bn_case(model)
    bn = model[1]
    masks = Masks.for_model(model)
    p = pruner(sparsity=0.9, lmbda=1e-4, check_every=999)
    hook = hooked(p, model, masks)
    p.apply_threshold(masks, 0.01)
    assert masks.total() == 36 + 432 and masks.total() - masks.remaining() == 30  # the 30 weights at 0.005
    assert masks.sparsity() == pytest.approx(30 / 468)
    assert bn.weight.tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0]) and bn.weight[0].item() == 0.0
    assert bn.bias.tolist() == pytest.approx([0.0, -0.3, 0.0, 0.2]) and bn.bias[2].item() == 0.0
    assert p.norm_sparsity() == pytest.approx(4 / 8)
    # training moves every parameter; the thresholded BatchNorm parameters stay exactly zero
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
    for it in range(1, 4):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        masks.apply()
        hook(state(model, masks, it))
    # SGD did push them (channel 0 has no input left: its 9 conv weights are pruned, so no weight gradient)
    assert bn.weight.grad[1] != 0 and (bn.bias.grad[[0, 2]] != 0).all()
    assert bn.weight[:2].tolist() == [0.0, 0.0] and bn.bias[0].item() == 0.0 and bn.bias[2].item() == 0.0
    assert (bn.weight[2:] != 0).all() and bn.weight[2].item() != 0.5 and bn.bias[1].item() != -0.3


def test_a_capped_threshold_prunes_batchnorm_only_below_the_weights_it_kept():
    model = bn_model()
    set_bn_case(model)
    with torch.no_grad():
        model[0].weight.view(-1)[10:15] = 0.003  # 35 weights below 0.01: 5 at 0.003, 30 at 0.005
        model[1].weight[2] = 0.007  # between the kept weights (0.005) and the threshold (0.01)
    masks = Masks.for_model(model)
    p = pruner(sparsity=20 / 468)  # the cap: 20 of the 35
    p.track_norm(model)
    p.apply_threshold(masks, 0.01)
    assert masks.total() - masks.remaining() == 20 and p.reached(masks)
    # the kept weights at 0.005 set the cut: BatchNorm 0.001, 0.002, 0.0005 and 0.004 go, 0.007 stays
    assert model[1].weight.tolist() == pytest.approx([0.0, 0.0, 0.007, 1.0])
    assert model[1].bias.tolist() == pytest.approx([0.0, -0.3, 0.0, 0.2])
    assert p.norm_sparsity() == pytest.approx(4 / 8)


def test_the_search_counts_batchnorm_and_batchnorm_false_leaves_it_alone():
    model = bn_model()
    set_bn_case(model)
    masks = Masks.for_model(model)
    on, off = pruner(), pruner(batchnorm=False)
    on.track_norm(model)
    off.track_norm(model)
    assert set(on.norm_params) == {"1.weight", "1.bias"} and off.norm_params == {}
    # the bracket's mean averages per-tensor means of |w|: conv, linear and the BatchNorm weight
    means_on = [float(a.mean()) for a in on._surviving_abs(masks)]
    assert len(means_on) == 3 and means_on[2] == pytest.approx((0.001 + 0.002 + 0.5 + 1.0) / 4)
    assert len(off._surviving_abs(masks)) == 2
    off.apply_threshold(masks, 0.01)
    assert model[1].weight.tolist() == pytest.approx([0.001, 0.002, 0.5, 1.0])


@pytest.mark.parametrize("shrink", [True, False])
def test_shrinking_after_the_target_is_an_option(shrink: bool):
    model = bn_model()
    set_bn_case(model)
    masks = Masks.for_model(model)
    p = pruner(sparsity=30 / 468, lmbda=0.1, check_every=999, shrink_after_target=shrink)
    hook = hooked(p, model, masks)
    p.apply_threshold(masks, 0.01)
    assert p.reached(masks)
    for param in model.parameters():
        param.grad = torch.zeros_like(param)  # insensitive everywhere: shrink by lmbda
    before = {n: t.detach().clone() for n, t in model.state_dict().items()}
    hook(state(model, masks))
    for name in ("0.weight", "4.bias", "1.weight"):
        after = model.state_dict()[name]
        assert torch.allclose(after, before[name] * (0.9 if shrink else 1.0)), name


def test_the_changed_defaults_keep_finished_lobster_runs_named():
    """Runs made before midpoint/batchnorm/force_at changed used false/false/0.9: those values still add
    nothing to a run's identity, and the new defaults do (a run with them computes something else)."""
    from repro.store.identity import non_default
    from tests.conftest import compose

    old = compose(
        "pruner=lobster",
        "dataset.val_size=50",
        "pruner.midpoint=false",
        "pruner.batchnorm=false",
        "pruner.force_at=0.9",
    )
    assert not {"midpoint", "batchnorm", "force_at"} & set(non_default(old)["pruner"])
    new = non_default(compose("pruner=lobster", "dataset.val_size=50"))["pruner"]
    assert {k: new[k] for k in ("midpoint", "batchnorm", "force_at")} == {
        "midpoint": True,
        "batchnorm": True,
        "force_at": None,
    }
