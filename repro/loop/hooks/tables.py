"""The per-layer numbers of each step as one W&B Table (``layers``): sparsity, PQI, entropy, OFF/ON/mixed.

Per-layer values live in two places: the record's dictionaries (``layer_sparsity``, ``layer_pqi``,
``layer_remaining``) and the step's ``metrics`` artifact (``egp/entropy``, ``egp/off``, ...). A dashboard
wants them side by side, one row per layer, so this hook joins them. It runs last, after the probes and the
depth check, and only when a logger is on: without one the files already hold everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from omegaconf import DictConfig

from repro.loop.context import StepContext
from repro.registry import register


def per_layer(data: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The entries of ``data`` that map layer names to numbers, one column each: ``layer_pqi`` -> ``pqi``,
    ``egp/entropy`` -> ``egp_entropy`` (labels, neuron arrays and PSP matrices are not per-layer numbers)."""
    out: dict[str, dict[str, float]] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value and all(isinstance(v, int | float) for v in value.values()):
            out[key.removeprefix("layer_").replace("/", "_")] = value
    return out


def layer_frame(columns: dict[str, dict[str, float]], step: int) -> pd.DataFrame:
    """One row per layer (in the order layers first appear), ``step`` first; NaN where a column lacks it."""
    layers = list(dict.fromkeys(name for values in columns.values() for name in values))
    frame = pd.DataFrame({"step": step, "layer": layers})
    for column, values in columns.items():
        frame[column] = [values.get(name, float("nan")) for name in layers]
    return frame


@register("hook", "layer_table")
class LayerTable:
    order = 90

    @classmethod
    def from_config(cls, cfg: DictConfig, pruner: Any) -> LayerTable | None:
        if cfg.logger.name == "none" or cfg.logger.mode == "disabled":
            return None
        return cls()

    def __call__(self, ctx: StepContext) -> dict[str, Any]:
        columns = per_layer(ctx.record) | per_layer(ctx.store.artifact("metrics", ctx.step) or {})
        if columns:
            ctx.logger.log_tables({"layers": layer_frame(columns, ctx.step)}, step=ctx.step)
        return {}
