"""The weight report of every step: PQ Index and Gini of the surviving weights, per layer too.

With ``pruner.pqi_grid`` the PQ Index over the (p, q) grid of the SAP paper's heat maps is written as the
step's ``pqi`` artifact (20 passes over the weights, so only when a figure needs it).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from repro.loop.context import StepContext
from repro.metrics.pqi import weight_report
from repro.registry import register


@register("hook", "weights")
class WeightReport:
    order = 10

    def __init__(self, grid: bool) -> None:
        self.grid = grid

    @classmethod
    def from_config(cls, cfg: DictConfig, pruner: Any) -> WeightReport:
        return cls(grid=bool(cfg.pruner.get("pqi_grid", False)))

    def __call__(self, ctx: StepContext) -> dict[str, Any]:
        fields, grid = weight_report(ctx.masks, grid=self.grid)
        if grid is not None:
            ctx.store.write_artifact("pqi", ctx.step, grid)
        return fields
