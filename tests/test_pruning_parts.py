"""Pruning parts in isolation (scores, count rules, schedules), their compositions, labels and schemas."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from repro.errors import ConfigError
from repro.instantiate import build
from repro.masks import Masks
from repro.precheck import compose_checked
from repro.pruning.base import PruneContext, Pruner, TrainState
from repro.pruning.counts import FixedRate, Target
from repro.pruning.egp import EGPPruner
from repro.pruning.lobster import LobsterPruner
from repro.pruning.method import ComposedPruner
from repro.pruning.schedules import Cubic, Geometric, GradualCubic, OneShot
from repro.pruning.schemas import OneShotConfig, RateConfig, settings
from repro.pruning.scores import Magnitude, Random
from repro.pruning.update import prune_smallest
from repro.registry import get
from repro.schema import SCHEMAS, check

CONF = Path(__file__).resolve().parents[1] / "conf" / "pruner"
CPU = torch.device("cpu")


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))


def ctx(model: nn.Module, step: int = 1, seed: int = 0) -> PruneContext:
    return PruneContext(model, step, CPU, generator=torch.Generator().manual_seed(seed))


def compose(*overrides: str):
    return compose_checked(["model=mlp", "dataset=digits", *overrides])


def built(*overrides: str) -> Pruner:
    return build(compose(*overrides).pruner, "pruner", skip=("name", "pqi_grid"))


# --------------------------------------------------------------------------- scores


def test_random_score_follows_the_context_generator_only() -> None:
    model = net()
    masks = Masks.for_model(model)
    a = Random()(masks, ctx(model, seed=1))
    torch.manual_seed(123)  # the global generator plays no part
    b = Random()(masks, ctx(model, seed=1))
    c = Random()(masks, ctx(model, seed=2))
    assert all(torch.equal(a[n], b[n]) for n in masks)
    assert not all(torch.equal(a[n], c[n]) for n in masks)
    assert all(a[n].shape == masks[n].shape and a[n].min() >= 0 and a[n].max() < 1 for n in masks)
    assert all(torch.equal(Magnitude()(masks, ctx(model))[n], masks.weight(n).abs()) for n in masks)


def test_random_masks_repeat_with_the_seed_and_differ_with_another() -> None:
    def mask(seed: int) -> dict[str, torch.Tensor]:
        model = net()
        masks = Masks.for_model(model)
        ComposedPruner.of(OneShotConfig(score="random", sparsity=0.5)).prune(masks, ctx(model, seed=seed))
        return masks.state_dict()

    first, again, other = mask(7), mask(7), mask(8)
    assert all(torch.equal(first[n], again[n]) for n in first)
    assert not all(torch.equal(first[n], other[n]) for n in first)
    magnitude = Masks.for_model(net())
    ComposedPruner.of(OneShotConfig(sparsity=0.5)).prune(magnitude, ctx(net()))
    assert not all(torch.equal(first[n], magnitude[n]) for n in first)  # not the magnitude mask


# --------------------------------------------------------------------------- schedules


def test_geometric_schedule_is_one_minus_point_eight_to_the_t() -> None:
    schedule = Geometric(rate=0.2)
    for t in range(8):
        assert schedule.target(t) == 1 - 0.8**t
        assert schedule.nominal(t) == schedule.target(t)
    assert schedule.during(1) is None


def test_one_shot_is_the_cubic_ramp_whose_start_equals_its_end() -> None:
    one = OneShot(sparsity=0.9)
    assert [one.target(t) for t in range(4)] == [0.0, 0.9, 0.9, 0.9]
    ramp = Cubic(initial=0.0, final=0.9, start=1, end=1)
    assert [ramp.target(t) for t in range(4)] == [one.target(t) for t in range(4)]
    assert Cubic(0.2, 0.7, 5, 5).target(4) == 0.2 and Cubic(0.2, 0.7, 5, 5).target(5) == 0.7


def test_cubic_ramp_reaches_its_target_exactly_at_the_end() -> None:
    ramp = Cubic(initial=0.1, final=0.95, start=10, end=40)
    values = [ramp.target(t) for t in range(0, 60)]
    assert ramp.target(40) == 0.95 and values[40:] == [0.95] * 20
    assert values[:11] == pytest.approx([0.1] * 11)
    assert ramp.target(25) == pytest.approx(0.95 - 0.85 * 0.5**3)
    assert all(b > a for a, b in zip(values[10:40], values[11:41]))


def test_gradual_cubic_prunes_only_at_events_of_its_step() -> None:
    schedule = GradualCubic(
        sparsity=0.8, initial_sparsity=0.0, start_epoch=1, end_epoch=3, end_fraction=0.75, frequency=4,
        prune_step=2,
    )  # fmt: skip
    assert schedule.during(1) is None and schedule.target(2) is None  # nothing before the training
    assert [schedule.nominal(t) for t in range(4)] == [0.0, 0.0, 0.8, 0.8]  # one-shot at step 2, per step
    at = schedule.during(2)
    assert at is not None
    model = net()
    masks = Masks.for_model(model)
    targets = {}
    for it in range(1, 51):
        value = at(TrainState(it // 10, it, 10, 50, model, masks, torch.tensor(0.0)))
        if value is not None:
            targets[it] = value
    assert list(targets) == [14, 18, 22, 26, 30]  # every 4 iterations from the end of epoch 1, and t1 = 30
    assert targets[30] == 0.8 and targets[14] == pytest.approx(0.8 * (1 - (1 - 4 / 20) ** 3))


# --------------------------------------------------------------------------- count rules


@pytest.mark.parametrize(("scope", "left"), [("global", 5120), ("layer", 5120), ("neuron", 5100)])
def test_fixed_rate_compounds_per_unit_and_target_reaches_its_sparsity(scope: str, left: int) -> None:
    model = nn.Sequential(nn.Linear(100, 100))
    masks = Masks.for_model(model)
    rule = FixedRate(rate=0.2)
    for _ in range(3):
        prune_smallest(masks, Magnitude()(masks, ctx(model)), scope, rule(masks, scope, None, ctx(model)))
    # 10000 -> 8000 -> 6400 -> 5120; a row of 100 -> 80 -> 64 -> 51 (64 - round(12.8))
    assert masks.remaining() == left
    prune_smallest(masks, Magnitude()(masks, ctx(model)), scope, Target()(masks, scope, 0.9, ctx(model)))
    assert masks.sparsity() == 0.9


# --------------------------------------------------------------------------- YAML-only compositions


@pytest.mark.parametrize("scope", ["global", "layer", "neuron"])
def test_yaml_only_random_pruner_composes_builds_and_prunes_to_its_target(scope: str) -> None:
    pruner = built("pruner=random", f"pruner.scope={scope}", "pruner.sparsity=0.75")
    assert type(pruner) is ComposedPruner and pruner.label == "random"
    model = net()
    masks = Masks.for_model(model)
    pruner.prune(masks, ctx(model, seed=3))
    assert masks.sparsity() == 0.75  # 3168 weights: a quarter of every unit (rows of 36 and 288) stays
    if scope != "global":
        assert all(int(masks[n].sum()) * 4 == masks[n].numel() for n in masks)
    if scope == "neuron":
        assert all((masks[n].flatten(1).sum(1) * 4 == masks[n].flatten(1).shape[1]).all() for n in masks)
    assert pruner.nominal_sparsity(1) == 0.75


def test_yaml_only_random_iterative_pruner_removes_a_fifth_of_the_rest_per_step() -> None:
    pruner = built("pruner=random_iterative")
    assert (pruner.label, pruner.steps, pruner.rewind) == ("random-iterative", 2, "none")
    model = nn.Sequential(nn.Linear(100, 100))
    masks = Masks.for_model(model)
    for step in (1, 2, 3):
        pruner.prune(masks, ctx(model, step, seed=step))
        assert masks.remaining() == round(10000 * 0.8**step)
        assert pruner.nominal_sparsity(step) == 1 - 0.8**step


# --------------------------------------------------------------------------- labels, schemas, defaults


@pytest.mark.parametrize(
    ("overrides", "label"),
    [
        (["pruner=oneshot"], "one-shot"),
        (["pruner=lottery"], "LT"),
        (["pruner=imp"], "IMP"),
        (["pruner=oneshot_rewind"], "OS"),
        (["pruner=sap"], "SAP(0.5,1)"),
        (["pruner=sap_1_2"], "SAP(1,2)"),
        (["pruner=sap", "pruner.eta=0.1", "pruner.beta=0.5"], "SAP(0.5,1,eta=0.1,beta=0.5)"),
        (["pruner=egp"], "EGP"),
        (["pruner=gradual"], "gradual"),
        (["pruner=gradual_cpu", "pruner.score=random"], "gradual (random scores)"),
        (["pruner=lobster", "dataset.val_size=10"], "LOBSTER"),
        (["pruner=random"], "random"),
        (["pruner=random_iterative"], "random-iterative"),
        (["pruner=lottery", "pruner.label=mine"], "mine"),
    ],
)
def test_every_method_names_itself(overrides: list[str], label: str) -> None:
    assert built(*overrides).label == label


def test_egp_names_its_from_scratch_step() -> None:
    pruner = built("pruner=egp_scratch", "pruner.steps=3")
    assert isinstance(pruner, EGPPruner) and pruner.steps == 4
    assert [pruner.label_at(s) for s in range(5)] == ["EGP"] * 4 + ["EGP-scratch"]
    assert [pruner.nominal_sparsity(s) for s in range(5)] == [0.0, 0.5, 0.75, 0.875, None]


def test_registries_list_the_parts() -> None:
    assert get("score").names() == ["magnitude", "random"]
    assert get("count").names() == ["egp", "layer_rate", "layer_target", "pqi", "rate", "target"]
    assert get("schedule").names() == ["cubic", "geometric", "oneshot"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["pruner=sap", "pruner.schedule=oneshot"],
            "pruner.schedule='oneshot' is invalid: it reads pruner.sparsity",
        ),
        (["pruner=lottery", "pruner.count=pqi"], "pruner.count='pqi' is invalid: it reads pruner.p"),
        (
            ["pruner=oneshot", "pruner.schedule=null"],
            "pruner.schedule=None is invalid: count=target prunes to",
        ),
        (
            ["pruner=oneshot", "pruner.score=largest"],
            "pruner.score='largest' is invalid: allowed: magnitude, random",
        ),
        (["pruner=lottery", "pruner.rate=1.0"], r"pruner.rate=1.0 is invalid: must be in (0.0, 1.0)"),
        (["pruner=gradual", "pruner.prune_step=2"], "pruner.prune_step=2 is invalid: must be in [1, 1]"),
        (["pruner=gradual", "pruner.initial_sparsity=0.95"], "pruner.initial_sparsity=0.95 is invalid"),
    ],
)
def test_bad_compositions_fail_at_compose_time(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        compose(*overrides)
    assert message in str(err.value)


def test_schemas_check_standalone_and_the_classes_repeat_no_default() -> None:
    with pytest.raises(ConfigError, match=r"pruner.rate=0 is invalid: must be in \(0.0, 1.0\)"):
        check(RateConfig(rate=0), "pruner")
    with pytest.raises(ConfigError, match="pruner.rate=0.2 is invalid: no part reads it"):
        ComposedPruner(**settings(OneShotConfig()), rate=0.2)
    for cls in (Pruner, ComposedPruner, EGPPruner, LobsterPruner):
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        assert all(p.default is inspect.Parameter.empty for p in params), cls


def _schema_of(path: Path) -> type:
    for entry in OmegaConf.load(path).defaults:
        if entry.startswith("/schema/pruner/"):
            return SCHEMAS["pruner"][entry.removeprefix("/schema/pruner/").split("@")[0]]
        if entry != "_self_":
            return _schema_of(CONF / f"{entry.removeprefix('/pruner/').split('@')[0]}.yaml")
    raise AssertionError(f"{path.name} extends no schema")


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.stem)
def test_yamls_hold_only_what_differs_from_their_schema(path: Path) -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(_schema_of(path))}
    node = OmegaConf.to_container(OmegaConf.load(path))
    assert isinstance(node, dict)
    for key, value in node.items():
        if key not in ("defaults", "_target_", "name"):
            assert key in defaults and value != defaults[key], f"{path.name}: {key}={value} repeats a default"
    compose(f"pruner={path.stem}", "dataset.val_size=10")  # and every option composes
