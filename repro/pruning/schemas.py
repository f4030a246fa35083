"""The pruner schemas (``schema/pruner/<name>``): every pruning default and range, written once, here.

A YAML under ``conf/pruner/`` extends one of these and holds only ``_target_``, ``name`` and the values that
differ. This module imports no implementation: the parts a composition names (``score``, ``count``,
``schedule``) are looked up through :mod:`repro.registry` only when a config is checked.

The built object receives every field but ``_target_``, ``name`` and ``pqi_grid`` (:data:`NOT_PASSED`) as a
keyword argument; the classes repeat no default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from repro.errors import bad_value, check_range
from repro.schema import option, schema

SCOPES = ("global", "layer", "neuron")
# Read by the loop (or Hydra), never passed to the pruner.
NOT_PASSED = ("_target_", "name", "pqi_grid")
# A fraction of the remaining weights removed per step.
RATE = {"gt": 0.0, "lt": 1.0}
# A sparsity to reach.
SPARSITY = {"ge": 0.0, "lt": 1.0}


def lookup(root: Any, path: str) -> Any:
    """``root.a.b`` for a dotted ``path`` through mappings or attributes; None where a level is missing."""
    node = root
    for part in path.split("."):
        if node is None:
            return None
        node = node.get(part) if isinstance(node, Mapping) else getattr(node, part, None)
    return node


def settings(cfg: Any) -> dict[str, Any]:
    """The keyword arguments a pruner is built with from the schema instance ``cfg``."""
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name not in NOT_PASSED}


def part_keys(part: type) -> list[str]:
    """The config keys a registered part reads: its dataclass fields that its constructor takes."""
    return [f.name for f in dataclasses.fields(part) if f.init]


def check_parts(prefix: str, parts: Mapping[str, str | None], keys: Iterable[str]) -> None:
    """Fail unless the composition ``parts`` (kind -> registry name) can be built from the config ``keys``:
    every part's settings present, and a schedule for a count rule that prunes to a target."""
    from repro.registry import get

    keys = set(keys)
    for kind, name in parts.items():
        missing = [k for k in part_keys(get(kind)[name]) if k not in keys] if name is not None else []
        if missing:
            raise bad_value(
                f"{prefix}.{kind}", name, f"it reads {prefix}.{missing[0]}, which this pruner lacks"
            )
    if parts["schedule"] is None and get("count")[str(parts["count"])].needs_target:
        raise bad_value(
            f"{prefix}.schedule", None, f"count={parts['count']} prunes to a target: name a schedule"
        )


@schema("pruner", "base")
@dataclass
class PrunerConfig:
    _target_: str = "???"
    name: str = "???"
    # Pruning steps after the dense training (step 0).
    steps: int = option(1, ge=0)
    scope: str = option("global", choices=SCOPES)
    # Module kinds whose weight is prunable, and fnmatch patterns of module names to leave dense.
    prunable: list[str] = option(
        lambda: ["conv", "linear"], choices=("conv", "linear"), each=True, nonempty=True
    )
    exclude: list[str] = option(list)
    # Where the survivors restart before retraining: none (continue), init (their initial values, the
    # lottery ticket), random (a fresh draw of the initial weights: the random re-initialisation control).
    rewind: str = option("none", choices=("none", "init", "random"))
    # Prune from the step's best-test-accuracy weights instead of the last ones.
    use_best: bool = False
    # Also write each step's PQ Index over the (p, q) heat-map grid to pqi/step_<t>.json (read by the loop,
    # not passed to the pruner; 20 passes over the weights per step, so off unless a SAP figure needs it).
    pqi_grid: bool = False
    # The method's name in records and tables; None: the pruner derives it (LT, SAP(0.5,1), EGP, ...).
    label: str | None = None

    def rules(self, prefix: str, root: Any) -> None:
        prune_step = getattr(self, "prune_step", None)
        if prune_step is not None:
            check_range(f"{prefix}.prune_step", prune_step, 1, self.steps)


@dataclass
class ComposedConfig(PrunerConfig):
    """A pruner composed of parts named in their registries (``repro.pruning.method.ComposedPruner``).

    Each part reads the settings named by its fields (``rate``, ``sparsity``, ``p``, ...) from this node.
    """

    # How weights are ranked within a scope unit (the lowest go): magnitude, random.
    score: str = option("magnitude", registry="score")
    # How many weights each unit loses at a step: target, rate, pqi, egp.
    count: str = option("target", registry="count")
    # The sparsity per step (and, for cubic, per iteration of a step's training); None: the count rule alone.
    schedule: str | None = option(None, registry="schedule")
    # Which weights are scored: live (the model's, or its best checkpoint with use_best) or dense (the
    # step-0 trained weights, loaded into the model before pruning: the SAP paper's one-shot OS).
    source: str = option("live", choices=("live", "dense"))

    def rules(self, prefix: str, root: Any) -> None:
        super().rules(prefix, root)
        parts = {"score": self.score, "count": self.count, "schedule": self.schedule}
        check_parts(prefix, parts, [f.name for f in dataclasses.fields(self)])


@schema("pruner", "oneshot")
@dataclass
class OneShotConfig(ComposedConfig):
    """Prune to ``sparsity`` at step 1 (one-shot: the schedule whose start equals its end)."""

    schedule: str | None = option("oneshot", registry="schedule")
    sparsity: float = option(0.9, **SPARSITY)


@schema("pruner", "rate")
@dataclass
class RateConfig(ComposedConfig):
    """Remove ``rate`` of the remaining weights per step and unit (nominal sparsity 1 - (1 - rate)^t)."""

    count: str = option("rate", registry="count")
    schedule: str | None = option("geometric", registry="schedule")
    rate: float = option(0.2, **RATE)


@schema("pruner", "layer_rate")
@dataclass
class LayerRateConfig(RateConfig):
    """Per-layer rates (``repro.pruning.layer_rates``): ``layer_rates`` maps name patterns to rates."""

    count: str = option("layer_rate", registry="count")
    scope: str = option("layer", choices=("layer", "neuron"))
    layer_rates: dict[str, float] = option(dict)

    def rules(self, prefix: str, root: Any) -> None:
        super().rules(prefix, root)
        for pattern, value in self.layer_rates.items():
            check_range(f"{prefix}.layer_rates.{pattern}", value, 0.0, 1.0, low_open=True, high_open=True)


@schema("pruner", "sap")
@dataclass
class SAPConfig(ComposedConfig):
    """SAP's PQ Index count rule (PAPERS.md section 2): 0 < p < q, eta >= 0, gamma > 0, 0 < beta <= 1."""

    count: str = option("pqi", registry="count")
    p: float = option(0.5, gt=0.0)
    q: float = option(1.0, gt=0.0)
    eta: float = option(0.0, ge=0.0)
    gamma: float = option(1.0, gt=0.0)
    beta: float = option(0.9, gt=0.0, le=1.0)

    def rules(self, prefix: str, root: Any) -> None:
        check_range(f"{prefix}.q", self.q, self.p, low_open=True)
        super().rules(prefix, root)


@schema("pruner", "egp")
@dataclass
class EGPConfig(ComposedConfig):
    """EGP (PAPERS.md section 1): ``rate`` of the candidates' surviving weights per step, layer by layer."""

    scope: str = option("layer", choices=("layer",))
    rewind: str = option("none", choices=("none",))
    count: str = option("egp", registry="count")
    schedule: str | None = option("geometric", registry="schedule")
    rate: float = option(0.5, **RATE)
    # Layer entropy that drives the allocation: batch (official per-batch mean) or pass (whole pass).
    estimator: str = option("batch", choices=("batch", "pass"))
    # Add the retrain-from-scratch ablation as one extra step after the last EGP step.
    scratch: bool = False


@schema("pruner", "gradual")
@dataclass
class GradualConfig(OneShotConfig):
    """Zhu & Gupta's cubic schedule during step ``prune_step``'s training (the ``cubic`` schedule)."""

    schedule: str | None = option("cubic", registry="schedule")
    initial_sparsity: float = option(0.0, ge=0.0)
    start_epoch: int = option(0, ge=0)
    # None: end after `end_fraction` of the step's iterations; the target is reached exactly there.
    end_epoch: int | None = None
    end_fraction: float = option(0.75, gt=0.0, le=1.0)
    # Optimizer steps between two pruning events.
    frequency: int = option(100, ge=1)
    prune_step: int = 1

    def rules(self, prefix: str, root: Any) -> None:
        check_range(f"{prefix}.initial_sparsity", self.initial_sparsity, 0.0, self.sparsity)
        if self.end_epoch is not None:
            epochs = lookup(root, "trainer.epochs")
            high = epochs if epochs is not None and self.end_epoch > epochs else None
            check_range(f"{prefix}.end_epoch", self.end_epoch, self.start_epoch + 1, high)
        super().rules(prefix, root)


@schema("pruner", "lobster")
@dataclass
class LobsterConfig(PrunerConfig):
    """LOBSTER (``repro.pruning.lobster``): shrink insensitive weights, threshold at loss plateaus."""

    scope: str = option("global", choices=("global",))
    sparsity: float = option(0.9, **SPARSITY)
    lmbda: float = option(1e-4, ge=0.0)
    tolerance: float = option(0.05, ge=0.0)
    patience: int = option(20, ge=0)
    # Optimizer steps between plateau checks; 0 checks once per epoch (the group's code).
    check_every: int = option(0, ge=0)
    plateau_delta: float = option(0.01, ge=0.0)
    bisection_delta: float = option(0.05, gt=0.0)
    # Apply the bisection's last midpoint (the group's code); false: its verified lower end.
    midpoint: bool = option(True, was=False)
    # Shrink and threshold BatchNorm weights and biases too (the group's code); false: leave them alone.
    batchnorm: bool = option(True, was=False)
    # Keep shrinking once the target is reached (the group's code, which has no target); false: the rest of
    # the step fine-tunes as one-shot's and gradual's do.
    shrink_after_target: bool = True
    regularize_bias: bool = True
    restore_best: bool = True
    # Fraction of the step's iterations after which the rest of the target is pruned by magnitude; None:
    # never (the group's code), the plateau thresholding alone prunes.
    force_at: float | None = option(None, gt=0.0, le=1.0, was=0.9)
    val_batch_size: int = option(1000, ge=1)
    prune_step: int = 1

    def rules(self, prefix: str, root: Any) -> None:
        super().rules(prefix, root)
        if root is not self and not int(lookup(root, "dataset.val_size") or 0):
            raise bad_value("dataset.val_size", 0, "pruner=lobster needs a validation split: set it > 0")
