"""Schemas of the ``pruner`` config group (declared beside the pruners; no pruner is imported here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from repro.errors import check_choice, check_range
from repro.schema import schema

SCOPES = ("global", "layer", "neuron")


# --------------------------------------------------------------------------- pruner


@schema("pruner", "base")
@dataclass
class PrunerConfig:
    _target_: str = "???"
    name: str = "???"
    # Pruning steps after the dense training (step 0).
    steps: int = 1
    scope: str = "global"
    # Module kinds whose weight is prunable, and fnmatch patterns of module names to leave dense.
    prunable: list[str] = field(default_factory=lambda: ["conv", "linear"])
    exclude: list[str] = field(default_factory=list)
    # Where surviving weights restart before retraining: none (continue), init (values at step 0 start).
    rewind: str = "none"
    # Prune from the step's best-test-accuracy weights instead of the last ones.
    use_best: bool = False
    # Also write each step's PQ Index over the (p, q) heat-map grid to pqi/step_<t>.json (read by the loop,
    # not passed to the pruner; 20 passes over the weights per step, so off unless a SAP figure needs it).
    pqi_grid: bool = False

    def rules(self, prefix: str, root: Any) -> None:
        check_range(f"{prefix}.steps", self.steps, 0)
        check_choice(f"{prefix}.scope", self.scope, SCOPES)
        check_choice(f"{prefix}.rewind", self.rewind, ("none", "init", "random"))
        for i, kind in enumerate(self.prunable):
            check_choice(f"{prefix}.prunable[{i}]", kind, ("conv", "linear"))
        if not self.prunable:
            check_choice(f"{prefix}.prunable", self.prunable, ("a non-empty list of conv, linear",))


@schema("pruner", "oneshot")
@dataclass
class OneShotConfig(PrunerConfig):
    sparsity: float = 0.9

    def rules(self, prefix: str, root: Any) -> None:
        super().rules(prefix, root)
        check_range(f"{prefix}.sparsity", self.sparsity, 0.0, 1.0, high_open=True)


@schema("pruner", "rate")
@dataclass
class RateConfig(PrunerConfig):
    # Fraction of the remaining weights removed at each step.
    rate: float = 0.2

    def rules(self, prefix: str, root: Any) -> None:
        super().rules(prefix, root)
        check_range(f"{prefix}.rate", self.rate, 0.0, 1.0, low_open=True, high_open=True)


@schema("pruner", "sap")
@dataclass
class SAPConfig(PrunerConfig):
    # SAP count rule (repro.pruning.sap): PQ Index exponents 0 < p < q, eta >= 0, gamma > 0, 0 < beta <= 1.
    p: float = 0.5
    q: float = 1.0
    eta: float = 0.0
    gamma: float = 1.0
    beta: float = 0.9

    def rules(self, prefix: str, root: Any) -> None:
        super().rules(prefix, root)
        check_range(f"{prefix}.p", self.p, 0.0, low_open=True)
        check_range(f"{prefix}.q", self.q, self.p, low_open=True)
        check_range(f"{prefix}.eta", self.eta, 0.0)
        check_range(f"{prefix}.gamma", self.gamma, 0.0, low_open=True)
        check_range(f"{prefix}.beta", self.beta, 0.0, 1.0, low_open=True)


@schema("pruner", "gradual")
@dataclass
class GradualConfig(OneShotConfig):
    # Cubic schedule of Zhu & Gupta during step `prune_step`'s training (repro.pruning.gradual).
    initial_sparsity: float = 0.0
    start_epoch: int = 0
    # None: end after `end_fraction` of the step's iterations; the target is reached exactly there.
    end_epoch: int | None = None
    end_fraction: float = 0.75
    frequency: int = 100
    prune_step: int = 1

    def rules(self, prefix: str, root: Any) -> None:
        super().rules(prefix, root)
        check_range(f"{prefix}.initial_sparsity", self.initial_sparsity, 0.0, self.sparsity)
        check_range(f"{prefix}.start_epoch", self.start_epoch, 0)
        if self.end_epoch is not None:
            check_range(f"{prefix}.end_epoch", self.end_epoch, self.start_epoch + 1)
        check_range(f"{prefix}.end_fraction", self.end_fraction, 0.0, 1.0, low_open=True)
        check_range(f"{prefix}.frequency", self.frequency, 1)
        check_range(f"{prefix}.prune_step", self.prune_step, 1, self.steps)
        self.rules_with(root, prefix)

    def rules_with(self, cfg: Any, prefix: str) -> None:
        if self.end_epoch is not None and self.end_epoch > cfg.trainer.epochs:
            check_range(f"{prefix}.end_epoch", self.end_epoch, self.start_epoch + 1, cfg.trainer.epochs)


@schema("pruner", "lobster")
@dataclass
class LobsterConfig(OneShotConfig):
    # LOBSTER (repro.pruning.lobster): shrink insensitive weights, threshold at validation-loss plateaus.
    lmbda: float = 1e-4
    tolerance: float = 0.05
    patience: int = 20
    # Optimizer steps between plateau checks; 0 checks once per epoch (the group's code).
    check_every: int = 0
    plateau_delta: float = 0.01
    bisection_delta: float = 0.05
    midpoint: bool = False
    regularize_bias: bool = True
    restore_best: bool = True
    # Fraction of the step's iterations after which the rest of the target is pruned by magnitude.
    force_at: float | None = 0.9
    val_batch_size: int = 1000
    prune_step: int = 1

    def rules(self, prefix: str, root: Any) -> None:
        super().rules(prefix, root)
        check_choice(f"{prefix}.scope", self.scope, ("global",))
        check_range(f"{prefix}.lmbda", self.lmbda, 0.0)
        check_range(f"{prefix}.tolerance", self.tolerance, 0.0)
        check_range(f"{prefix}.patience", self.patience, 0)
        check_range(f"{prefix}.check_every", self.check_every, 0)
        check_range(f"{prefix}.plateau_delta", self.plateau_delta, 0.0)
        check_range(f"{prefix}.bisection_delta", self.bisection_delta, 0.0, low_open=True)
        if self.force_at is not None:
            check_range(f"{prefix}.force_at", self.force_at, 0.0, 1.0, low_open=True)
        check_range(f"{prefix}.val_batch_size", self.val_batch_size, 1)
        check_range(f"{prefix}.prune_step", self.prune_step, 1, self.steps)
        self.rules_with(root, prefix)

    def rules_with(self, cfg: Any, prefix: str) -> None:
        if int(cfg.dataset.get("val_size", 0) or 0) == 0:
            from repro.errors import bad_value

            raise bad_value("dataset.val_size", 0, "pruner=lobster needs a validation split: set it > 0")


@schema("pruner", "egp")
@dataclass
class EGPConfig(RateConfig):
    # EGP (repro.pruning.egp): rate of the candidates' surviving weights per step, layer-wise only.
    rate: float = 0.5
    scope: str = "layer"
    # Layer entropy that drives the allocation: batch (official per-batch mean) or pass (whole pass).
    estimator: str = "batch"
    # Add the retrain-from-scratch ablation as one extra step after the last EGP step.
    scratch: bool = False

    def rules(self, prefix: str, root: Any) -> None:
        super().rules(prefix, root)
        check_choice(f"{prefix}.scope", self.scope, ("layer",))
        check_choice(f"{prefix}.estimator", self.estimator, ("batch", "pass"))
        check_choice(f"{prefix}.rewind", self.rewind, ("none",))


@schema("pruner", "not_implemented")
@dataclass
class NotImplementedPrunerConfig(PrunerConfig):
    pass


