"""The prune-retrain loop, written once for every pruner.

Step 0 trains the dense network; each later step prunes (the pruner decides how many weights go and where),
optionally rewinds the survivors, retrains with a fresh optimizer and schedule, evaluates, measures, and
writes one record. A re-run resumes after the last recorded step.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn

from repro.analysis import run_analysis
from repro.data import Data, build_data
from repro.instantiate import build
from repro.loggers import NullLogger
from repro.masks import Masks
from repro.metrics.pqi import pruned_pqi, weight_report
from repro.metrics.registry import measure
from repro.models import build_model
from repro.parallel import configure_job
from repro.pruning.base import PruneContext, Pruner
from repro.tracking import (
    CorruptFileError,
    RunStore,
    atomic_torch_save,
    identity,
    safe_load,
    sha256_file,
    warn,
)
from repro.train import DivergedError, FitResult, evaluate, fit, resolve_device


def step_seed(seed: int, step: int) -> int:
    """Each step draws from its own seed, so a resumed run repeats exactly what an uninterrupted one does."""
    return seed * 1_000_003 + step


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


@torch.no_grad()
def rewind(model: nn.Module, init_state: dict[str, torch.Tensor], masks: Masks) -> None:
    """Reset every parameter to its initial value (normalisation running statistics are kept), then mask."""
    for name, p in model.named_parameters():
        p.copy_(init_state[name])
    masks.apply()


@dataclass
class Job:
    """Everything one run needs, built (and validated) before its directory is created."""

    cfg: DictConfig
    data: Data
    model: nn.Module
    pruner: Pruner
    masks: Masks
    device: torch.device


def build_job(cfg: DictConfig) -> Job:
    """Build data, model, pruner and masks; raises ConfigError/DataMissingError before anything is written."""
    from repro.errors import ConfigError

    # Threads per job (trainer.num_threads, else a share of the cores in a parallel sweep), GPU per job.
    device = configure_job(cfg.trainer, resolve_device(cfg.trainer.device))
    if cfg.trainer.deterministic:
        # cuBLAS needs a fixed workspace for reproducible matrix products; cuDNN must not autotune.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)
    data = build_data(cfg.dataset, device=device)
    torch.manual_seed(cfg.seed)
    model = build_model(
        cfg.model,
        in_channels=data.in_channels,
        num_classes=data.num_classes,
        image_size=data.image_size,
        allow_any_target=cfg.allow_any_target,
    ).to(device)
    if cfg.trainer.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    pruner = build(cfg.pruner, "pruner", skip=("name", "pqi_grid"), allow_any=cfg.allow_any_target)
    try:
        masks = Masks.for_model(model, pruner.prunable, pruner.exclude)
    except ValueError:
        raise ConfigError(
            f"pruner.prunable={list(pruner.prunable)} is invalid: model {cfg.model.name} has no such layer "
            f"outside pruner.exclude={list(pruner.exclude)}"
        ) from None
    return Job(cfg, data, model, pruner, masks, device)


class Experiment:
    """Runs the steps of one job into ``store``, mirroring metrics to ``logger``."""

    def __init__(
        self, job: Job, store: RunStore, logger: NullLogger | None = None, dense_cache: Path | None = None
    ) -> None:
        self.job = job
        self.cfg = job.cfg
        self.store = store
        self.logger = logger or NullLogger()
        self.dense_cache = dense_cache
        # (step, results) of the last probe pass on the training data, reused by the next step's pruner.
        self._last_probe: tuple[int, dict[str, dict[str, Any]]] | None = None

    # ------------------------------------------------------------------ helpers

    def batches(self, split: str, train: bool, step: int = 0, epoch: int = 0, **kw: Any):
        t = self.cfg.trainer
        gen = torch.Generator().manual_seed(step_seed(self.cfg.seed, step) * 1000 + epoch)
        size = t.batch_size if train else t.eval_batch_size
        return self.job.data.loader(
            split, size, train=train, generator=gen, max_batches=t.max_batches if train else None, **kw
        )

    def test(self) -> dict[str, float]:
        return evaluate(
            self.job.model, self.batches("test", train=False), self.job.device, self.cfg.trainer.amp
        )

    def dense_key(self) -> str:
        """Identity of the dense training alone: runs that differ only in their pruner share it."""
        return _dense_identity(self.cfg, self.epochs(0))

    def epochs(self, step: int) -> int:
        t = self.cfg.trainer
        return t.dense_epochs if step == 0 and t.dense_epochs is not None else t.epochs

    # ------------------------------------------------------------------ state

    def save_step(self, step: int, record: dict[str, Any], best: dict[str, torch.Tensor] | None) -> None:
        job = self.job
        record["checkpoint_sha256"] = atomic_torch_save(
            cpu_state(job.model), self.store.checkpoint_path(step)
        )
        record["mask_sha256"] = self.store.save_tensors(self.store.mask_path(step), job.masks.state_dict())
        if best is not None:
            record["best_sha256"] = atomic_torch_save(best, self.store.checkpoint_path(step, "best"))
        self.store.write_json(
            f"masks/step_{step}.json",
            {"sparsity": record["sparsity"], "layer_sparsity": record["layer_sparsity"]},
        )
        self.store.append_record(record)  # the commit point of the step

    def initial_state(self) -> dict[str, torch.Tensor]:
        """The weights before any training, saved once (if lost, the seeded build gives them again)."""
        path = self.store.dir / "init.pt"
        if path.exists():
            try:
                self.job.model.load_state_dict(safe_load(path))
                return cpu_state(self.job.model)
            except CorruptFileError as exc:
                warn(f"{exc}; rewriting it from the seeded build")
        atomic_torch_save(cpu_state(self.job.model), path)
        return cpu_state(self.job.model)

    def last_good_step(self) -> int:
        """The last recorded step whose files pass their checksums; records after it are dropped."""
        records = {r["step"]: r for r in self.store.records()}
        good = -1
        for step in sorted(records):
            rec = records[step]
            files = [
                (self.store.checkpoint_path(step), rec.get("checkpoint_sha256")),
                (self.store.mask_path(step), rec.get("mask_sha256")),
            ]
            if "best_sha256" in rec:
                files.append((self.store.checkpoint_path(step, "best"), rec["best_sha256"]))
            bad = [p for p, sha in files if not p.exists() or (sha and sha256_file(p) != sha)]
            if bad:
                warn(f"{bad[0]}: missing or corrupt (checksum mismatch); restarting after step {good}")
                break
            good = step
        if good < self.store.last_step():
            self.store.truncate_after(good)
        return good

    def restore(self, step: int) -> dict[str, Any]:
        """Load the model and masks saved at ``step``; return its record."""
        record = next(r for r in self.store.records() if r["step"] == step)
        state = safe_load(self.store.checkpoint_path(step), record.get("checkpoint_sha256"))
        self.job.model.load_state_dict(state)
        self.job.masks.load_state_dict(safe_load(self.store.mask_path(step), record.get("mask_sha256")))
        return record

    # ------------------------------------------------------------------ the loop

    def run(self) -> list[dict[str, Any]]:
        job, store = self.job, self.store
        store.set_status("running")
        init_state = self.initial_state()
        last = self.last_good_step()
        dense_state = None
        if last >= 0:
            dense_state = safe_load(store.checkpoint_path(0))
            self.restore(last)
        for step in range(last + 1, job.pruner.steps + 1):
            try:
                record = self.run_step(step, init_state, dense_state)
            except DivergedError as exc:
                record = {
                    "step": step,
                    "status": "diverged",
                    "epoch": exc.epoch,
                    "loss": str(exc.loss),
                    **self.identity_fields(),
                }
                store.append_record(record)
                store.set_status("diverged", step=step)
                self.logger.summary({"status": "diverged", "diverged_step": step})
                return store.records()
            if step == 0:
                dense_state = cpu_state(job.model)
        store.set_status("finished", step=job.pruner.steps)
        return store.records()

    def identity_fields(self) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "run": self.store.dir.name,
            "model": cfg.model.name,
            "dataset": cfg.dataset.name,
            "pruner": cfg.pruner.name,
            "scope": cfg.pruner.scope,
            "seed": int(cfg.seed),
        }

    def run_step(self, step: int, init_state: dict, dense_state: dict | None) -> dict[str, Any]:
        job, cfg = self.job, self.cfg
        start = time.perf_counter()
        torch.manual_seed(step_seed(cfg.seed, step))
        ctx = PruneContext(
            model=job.model,
            step=step,
            device=job.device,
            data=job.data,
            init_state=init_state,
            dense_state=dense_state,
        )
        record: dict[str, Any] = {"step": step, **self.identity_fields()}
        if step > 0:
            best = self.store.checkpoint_path(step - 1, "best")
            reloaded = job.pruner.use_best and best.exists()
            if reloaded:
                job.model.load_state_dict(safe_load(best))
            ctx.extras.update(self.pruner_measurements(step - 1, sorted(job.pruner.needs()), reloaded))
            job.pruner.prune(job.masks, ctx)
            job.masks.apply()
            pruned = self.test()
            record.update({"pruned_test_acc": pruned["acc"], "pruned_test_loss": pruned["loss"]})
            record["pruned_pqi"] = pruned_pqi(job.masks)
            if job.pruner.rewind == "init":
                rewind(job.model, init_state, job.masks)
        result = self.train(step, ctx)
        test = self.test()
        record.update(self.describe(step, test, result))
        pqi_fields, pqi_grid = weight_report(job.masks, grid=bool(cfg.pruner.get("pqi_grid", False)))
        record.update(pqi_fields)  # PQI, Gini, per-layer PQI and remaining weights
        if pqi_grid is not None:
            self.store.write_json(f"pqi/step_{step}.json", pqi_grid)
        record.update(self.measure_metrics(step))
        if self.cfg.entropy.get("depth") and step == self.cfg.pruner.steps:
            from repro.metrics.depth import depth_record

            record.update(depth_record(self, step))  # the shallower network vs the pruned one
        record.update(run_analysis(self, step, record))  # sharpness (the `analysis` group)
        record["wall_time"] = time.perf_counter() - start
        self.save_step(step, record, result.best_state if job.pruner.use_best else None)
        self.logger.log({k: v for k, v in record.items() if isinstance(v, int | float)} | {"step": step})
        print(step_line(self.store.dir.name, record, job.pruner.steps), flush=True)
        return record

    def train(self, step: int, ctx: PruneContext):
        job, cfg = self.job, self.cfg
        epochs = self.epochs(step)
        hook = job.pruner.training_hook(job.masks, ctx)
        shareable = step == 0 and hook is None and self.dense_cache is not None
        cache = self.dense_cache / f"{self.dense_key()}.pt" if shareable else None
        if cache is not None and cache.exists():
            job.model.load_state_dict(safe_load(cache))
            return FitResult(history=[{"cached": 1.0}])

        def on_epoch(row: dict[str, float]) -> None:
            self.logger.log({f"train/{k}": v for k, v in row.items()} | {"step": step})

        result = fit(
            job.model,
            job.masks,
            lambda epoch: self.batches("train", train=True, step=step, epoch=epoch),
            cfg.trainer,
            epochs,
            job.device,
            evaluate_fn=self.test,
            hook=hook,
            on_epoch=on_epoch,
            keep_best=job.pruner.use_best,
            desc=f"step {step}/{job.pruner.steps}" if cfg.trainer.progress else None,
        )
        if cache is not None:
            atomic_torch_save(cpu_state(job.model), cache)
        return result

    def describe(self, step: int, test: dict[str, float], result) -> dict[str, Any]:
        job = self.job
        last = result.history[-1] if result.history else {}
        return {
            "epochs": self.epochs(step),
            "test_acc": test["acc"],
            "test_loss": test["loss"],
            "best_test_acc": result.best_acc if result.best_acc >= 0 else test["acc"],
            "train_loss": last.get("train_loss"),
            "train_acc": last.get("train_acc"),
            "sparsity": job.masks.sparsity(),
            "sparsity_all": job.masks.sparsity_all(job.model),
            "remaining": 1.0 - job.masks.sparsity(),
            "nominal_sparsity": job.pruner.nominal_sparsity(step),
            "layer_sparsity": job.masks.layer_sparsity(),
            "status": "ok",
        }

    def probe(self, names: list[str], batches) -> dict[str, dict[str, Any]]:
        ent = self.cfg.entropy
        return measure(
            names,
            self.job.model,
            batches,
            self.job.data.num_classes,
            psp_include_output=ent.psp_include_output,
            psp_matrix_max_neurons=ent.psp_matrix_max_neurons,
        )

    def pruner_measurements(self, step: int, names: list[str], reloaded: bool) -> dict[str, Any]:
        """What the pruner needs, measured on the (augmented) training data with the weights of ``step``.

        The probe pass after ``step`` already measured it on these very batches, unless other weights were
        loaded since (``use_best``) or the run resumed; then one pass recomputes it, identically.
        """
        if not names:
            return {}
        last = self._last_probe
        if not reloaded and last is not None and last[0] == step and set(names) <= set(last[1]):
            return {n: last[1][n] for n in names}
        return self.probe(names, self.batches("train", train=True, step=step))

    def measure_metrics(self, step: int) -> dict[str, Any]:
        """Entropy metrics of ``entropy.names`` in one pass; arrays go to a JSON file beside the records."""
        ent = self.cfg.entropy
        # What the pruner measures before pruning is recorded after each step too (EGP's depth per step).
        names = list(dict.fromkeys([*ent.names, *sorted(self.job.pruner.needs())]))
        self._last_probe = None
        if not names:
            return {}
        on_train = ent.split == "train"
        results = self.probe(names, self.batches(ent.split, train=on_train, step=step))
        if on_train:
            self._last_probe = (step, results)
        scalars: dict[str, Any] = {}
        arrays: dict[str, Any] = {}
        for name, res in results.items():
            for k, v in res.items():
                (arrays if k.startswith("_") else scalars)[
                    f"{name}/{k.lstrip('_')}" if k.startswith("_") else f"{name}_{k}"
                ] = v
        if arrays:
            self.store.write_json(f"metrics/step_{step}.json", arrays)
        return scalars


def step_line(run: str, record: dict[str, Any], steps: int) -> str:
    """The one-line summary printed after every step."""
    pruned = record.get("pruned_test_acc")
    after = f" (after pruning {pruned:.4f})" if pruned is not None else ""
    return (
        f"[repro] {run} step {record['step']}/{steps}: sparsity={record['sparsity']:.4f} "
        f"test_acc={record['test_acc']:.4f}{after} {record['wall_time']:.1f}s"
    )


def _dense_identity(cfg: DictConfig, dense_epochs: int) -> str:
    from omegaconf import OmegaConf

    data = {
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "dataset": OmegaConf.to_container(cfg.dataset, resolve=True),
        "trainer": OmegaConf.to_container(cfg.trainer, resolve=True),
        "seed": int(cfg.seed),
        "dense_epochs": dense_epochs,
        "prunable": [list(cfg.pruner.prunable), list(cfg.pruner.exclude)],
    }
    return identity(
        data,
        drop=(
            "trainer.progress",
            "trainer.device",
            "trainer.epochs",
            "trainer.dense_epochs",
            "dataset.root",
            "dataset.download",
        ),
    )
