"""The ``analysis`` config group: sharpness measurements at the end of a run (or at every step).

Called once per step by the prune-retrain loop after the entropy metrics. Scalars go into the step's
record (``sharpness_loss``, ``hessian_top_eig``, ``eps_sharpness``, ``interp_barrier`` ...); curves and
surfaces go to ``sharpness/step_<k>.json`` in the run directory, where the ``sharpness`` report reads them.

Cross-run interpolation: at its final step every run leaves its weights in
``<out_dir>/solutions/<dense key>/<run>.pt``; the dense key identifies the shared dense start, so a run
pruned another way from the same dense model (one of ``interpolate_with``, at the same sparsity) is found
there, and the loss along the straight line between the two solutions is measured by whichever of the two
finishes second (t = 0 is that run, t = 1 its partner).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from repro.metrics import sharpness as sh
from repro.tracking import atomic_torch_save, atomic_write, safe_load

if TYPE_CHECKING:
    from repro.experiment import Experiment

MEASURES = ("curve1d", "surface2d", "hessian", "epsilon", "interpolation")


def analysis_batches(exp: Experiment, split: str, count: int, size: int, seed: int) -> list:
    """A fixed random sample of ``count`` batches of ``size`` from ``split`` (no augmentation)."""
    gen = torch.Generator().manual_seed(seed)
    return list(exp.job.data.loader(split, size, train=True, augment=False, generator=gen, max_batches=count))


def solutions_dir(exp: Experiment) -> Path:
    return exp.store.dir.parent.parent / "solutions" / exp.dense_key()


def run_analysis(exp: Experiment, step: int, record: dict[str, Any]) -> dict[str, Any]:
    """Measure what ``cfg.analysis.names`` asks for at this step; return the record's new scalars."""
    cfg = exp.cfg.get("analysis")
    if cfg is None or not cfg.names:
        return {}
    final = step == exp.job.pruner.steps
    if cfg.at == "final" and not final:
        return {}
    names = set(cfg.names)
    job = exp.job
    model = job.model
    batches = analysis_batches(exp, cfg.split, cfg.batches, cfg.batch_size, cfg.seed)
    free = sh.free_parameters(model, job.masks, cfg.params)
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
    if "interpolation" in names and final:
        curves = interpolate_with_partners(exp, record, batches)
        if curves:
            arrays["interpolation"] = curves
            scalars["interp_barrier"] = max(c["barrier"] for c in curves)
            scalars["interp_partners"] = ",".join(c["partner_pruner"] for c in curves)
    if arrays:
        exp.store.write_json(f"sharpness/step_{step}.json", arrays)
    return scalars


def interpolate_with_partners(exp: Experiment, record: dict[str, Any], batches: list) -> list[dict[str, Any]]:
    """Curves to every finished partner of this run; then leave this run's solution for later partners."""
    cfg = exp.cfg.analysis
    folder = solutions_dir(exp)
    me = exp.store.dir.name
    mine = {k: v.detach().cpu().clone() for k, v in exp.job.model.state_dict().items()}
    margin = cfg.interp_margin
    ts = torch.linspace(-margin, 1.0 + margin, cfg.interp_points).tolist()
    curves = []
    for meta_path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        meta = json.loads(meta_path.read_text())
        if meta["run"] == me or meta["pruner"] == exp.cfg.pruner.name:
            continue
        if meta["pruner"] not in cfg.interpolate_with:
            continue
        if abs(meta["sparsity"] - record["sparsity"]) > cfg.interp_sparsity_tol:
            continue
        partner = safe_load(meta_path.with_suffix(".pt"))
        curve = sh.interpolate(exp.job.model, mine, partner, batches, ts)
        curve.update(partner_run=meta["run"], partner_pruner=meta["pruner"], pruner=exp.cfg.pruner.name)
        curve["barrier"] = sh.barrier(curve)
        curves.append(curve)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(mine, folder / f"{me}.pt")
    meta = {
        "run": me,
        "pruner": exp.cfg.pruner.name,
        "sparsity": record["sparsity"],
        "run_dir": str(exp.store.dir),
    }
    atomic_write(folder / f"{me}.json", json.dumps(meta, sort_keys=True).encode())
    return curves
