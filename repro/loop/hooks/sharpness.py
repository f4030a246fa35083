"""Sharpness of the solution (the ``analysis`` config group), at the last step or at every step.

Every loss is the mean over a fixed random sample of training batches. Scalars go into the record
(``sharpness_loss``, ``hessian_top_eig``, ``eps_sharpness``, ``interp_barrier`` ...); curves and surfaces
into the step's ``sharpness`` artifact, where the one-shot-vs-gradual report reads them. Only the surviving
weights move (``analysis.params=weights``): pruned entries stay zero.
"""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig

from repro.loop.context import StepContext
from repro.loop.hooks.interpolation import interpolate_with_partners
from repro.metrics import sharpness as sh
from repro.registry import register


@register("hook", "sharpness")
class SharpnessHook:
    order = 40

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.names = set(cfg.names)

    @classmethod
    def from_config(cls, cfg: DictConfig, pruner: Any) -> SharpnessHook | None:
        analysis = cfg.get("analysis")
        if analysis is None or not analysis.names:
            return None
        return cls(analysis)

    def __call__(self, ctx: StepContext) -> dict[str, Any]:
        cfg, names, model = self.cfg, self.names, ctx.model
        if cfg.at == "final" and not ctx.final:
            return {}
        batches = ctx.batches.sample(cfg.split, cfg.batches, cfg.batch_size, cfg.seed)
        free = sh.free_parameters(model, ctx.masks, cfg.params)
        gen = torch.Generator().manual_seed(cfg.seed)
        scalars: dict[str, Any] = {}
        arrays: dict[str, Any] = {}
        loss, acc = sh.evaluate_loss(model, batches)
        scalars.update(sharpness_loss=loss, sharpness_acc=acc)
        alphas = torch.linspace(-cfg.radius, cfg.radius, cfg.points_1d).tolist()
        d1 = sh.filter_normalized_direction(free, gen)
        if "curve1d" in names:
            arrays["curve1d"] = sh.loss_curve(model, free, batches, d1, alphas)
        if "surface2d" in names:
            d2 = sh.filter_normalized_direction(free, gen)
            grid = torch.linspace(-cfg.radius, cfg.radius, cfg.points_2d).tolist()
            arrays["surface2d"] = sh.loss_surface(model, free, batches, d1, d2, grid, grid)
        if "hessian" in names:
            was = model.training
            model.eval()
            eig, iters = sh.top_hessian_eigenvalue(
                sh.batch_loss_terms(model, batches),
                [f.param for f in free],
                [f.keep for f in free],
                iters=cfg.hessian_iters,
                tol=cfg.hessian_tol,
                generator=gen,
            )
            model.train(was)
            scalars.update(hessian_top_eig=eig, hessian_iters=iters)
        if "epsilon" in names:
            eps = sh.epsilon_sharpness(model, free, batches, cfg.epsilon, cfg.epsilon_steps)
            scalars.update(eps_sharpness=eps["sharpness"], eps_loss_increase=eps["increase"])
        if "interpolation" in names and ctx.final:
            curves = interpolate_with_partners(ctx, cfg, batches)
            if curves:
                arrays["interpolation"] = curves
                scalars["interp_barrier"] = max(c["barrier"] for c in curves)
                scalars["interp_partners"] = ",".join(c["partner_pruner"] for c in curves)
        if arrays:
            ctx.store.write_artifact("sharpness", ctx.step, arrays)
        return scalars
