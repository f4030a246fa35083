"""Schemas of the hooks' config groups, ``entropy`` and ``analysis`` (no hook is imported here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repro.errors import bad_value
from repro.schema import option, schema

MEASURES = ("curve1d", "surface2d", "hessian", "epsilon", "interpolation")


@schema("entropy", "base")
@dataclass
class EntropyConfig:
    # Activation probes measured after every step, by registry name (repro.metrics: egp, psp).
    names: list[str] = option(list, registry="probe", each=True)
    split: str = option("test", choices=("train", "test"))
    max_batches: int | None = option(None, ge=1)
    # After the last pruning step, build the shallower network from the zero-entropy layers and compare
    # it with the pruned one (repro.metrics.depth): layers, parameters, FLOPs, latency, test accuracy.
    depth: bool = False
    # Batch size of the latency measurement.
    latency_batch: int = option(128, ge=1)
    # PSP-entropy (repro.metrics.psp): count the output layer as a hidden layer; keep the [neurons x classes]
    # matrices only of layers with at most this many neurons (None: every layer).
    psp_include_output: bool = False
    psp_matrix_max_neurons: int | None = option(None, ge=0)


@schema("analysis", "base")
@dataclass
class AnalysisConfig:
    # Sharpness measurements (repro.loop.hooks.sharpness): curve1d, surface2d, hessian, epsilon,
    # interpolation. Empty: none.
    names: list[str] = option(list, choices=MEASURES, each=True)
    # final: only after the last step; all: after every step (the dense step 0 included).
    at: str = option("final", choices=("final", "all"))
    split: str = option("train", choices=("train", "test", "val"))
    # The cost bound: every loss is the mean over `batches` fixed random batches of `batch_size`.
    batches: int = option(4, ge=1)
    batch_size: int = option(512, ge=1)
    seed: int = option(0, ge=0)
    # weights: surviving entries of the prunable weights move; all: every other parameter too.
    params: str = option("weights", choices=("weights", "all"))
    radius: float = option(1.0, gt=0)
    points_1d: int = option(41, ge=2)
    points_2d: int = option(21, ge=2)
    hessian_iters: int = option(20, ge=1)
    hessian_tol: float = option(1e-3, ge=0)
    epsilon: float = option(1e-3, gt=0)
    epsilon_steps: int = option(10, ge=1)
    interpolate_with: list[str] = option(lambda: ["oneshot", "gradual", "lobster"])
    interp_points: int = option(21, ge=2)
    interp_margin: float = option(0.0, ge=0)
    interp_sparsity_tol: float = option(0.005, ge=0)

    def rules(self, prefix: str, root: Any) -> None:
        if self.split == "val" and self.names and int(root.dataset.get("val_size", 0) or 0) == 0:
            raise bad_value(f"{prefix}.split", "val", "needs dataset.val_size > 0")


@schema("control", "base")
@dataclass
class ControlConfig:
    # Steps at which a randomly re-initialised copy with the step's mask is trained too
    # (repro.loop.hooks.reinit).
    reinit_steps: list[int] = option(list, ge=1, each=True)
    # The copies draw their weights from seed + seed_offset (never the run's own initial weights).
    seed_offset: int = option(1000, ge=1)
