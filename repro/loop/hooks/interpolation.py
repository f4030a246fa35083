"""The loss along the straight line between two solutions pruned differently from one dense start.

At its final step every run leaves its weights among the solutions of its dense start (the store's
``solutions(dense_key)``); a run pruned another way from the same dense model (one of
``analysis.interpolate_with``, at the same sparsity) is found there, and whichever of the two finishes
second measures the curve (t = 0 is that run, t = 1 its partner).
"""

from __future__ import annotations

import json
from typing import Any

import torch
from omegaconf import DictConfig

from repro.loop.context import StepContext
from repro.metrics import sharpness as sh
from repro.store import atomic_json, atomic_torch_save, safe_load


def interpolate_with_partners(ctx: StepContext, cfg: DictConfig, batches: list) -> list[dict[str, Any]]:
    """Curves to every finished partner of this run; then leave this run's solution for later partners."""
    folder = ctx.out.solutions(ctx.dense_key)
    mine = {k: v.detach().cpu().clone() for k, v in ctx.model.state_dict().items()}
    sparsity = ctx.record["sparsity"]
    ts = torch.linspace(-cfg.interp_margin, 1.0 + cfg.interp_margin, cfg.interp_points).tolist()
    curves = []
    for meta_path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        meta = json.loads(meta_path.read_text())
        if meta["run"] == ctx.run or meta["pruner"] == ctx.pruner:
            continue
        if meta["pruner"] not in cfg.interpolate_with:
            continue
        if abs(meta["sparsity"] - sparsity) > cfg.interp_sparsity_tol:
            continue
        partner = safe_load(meta_path.with_suffix(".pt"))
        curve = sh.interpolate(ctx.model, mine, partner, batches, ts)
        curve.update(partner_run=meta["run"], partner_pruner=meta["pruner"], pruner=ctx.pruner)
        curve["barrier"] = sh.barrier(curve)
        curves.append(curve)
    weights, description = ctx.out.solution(ctx.dense_key, ctx.run)
    atomic_torch_save(mine, weights)
    meta = {"run": ctx.run, "pruner": ctx.pruner, "sparsity": sparsity, "run_dir": str(ctx.store.dir)}
    atomic_json(description, meta)
    return curves
