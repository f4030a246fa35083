"""The prune-retrain loop, written once for every pruner.

Step 0 trains the dense network; each later step prunes (the pruner decides how many weights go and where),
optionally rewinds the survivors, retrains with a fresh optimizer and schedule, evaluates, runs the step
hooks and writes one record. A re-run resumes after the last recorded step whose files pass their checks.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from repro.loggers import NullLogger
from repro.loop.batches import Batches
from repro.loop.context import StepContext
from repro.loop.dense import dense_epochs, dense_key, load_dense, save_dense
from repro.loop.hooks import StepHook, build_hooks
from repro.loop.job import Job
from repro.loop.probing import Prober
from repro.loop.state import cpu_state, fresh_init, initial_state, last_good_step, restore, rewind, save_step
from repro.metrics.pqi import pruned_pqi
from repro.pruning.base import PruneContext
from repro.seeding import step_seed
from repro.store import OutPaths, RunStore, safe_load
from repro.train import DivergedError, FitResult, evaluate, fit


class PruneLoop:
    """Runs the steps of one job into ``store``, mirroring metrics to ``logger``."""

    def __init__(self, job: Job, store: RunStore, logger: NullLogger | None = None, share_dense: bool = True):
        self.job = job
        self.cfg = cfg = job.cfg
        self.store = store
        self.logger = logger or NullLogger()
        self.out = OutPaths.of_run(store.dir)
        self.share_dense = share_dense
        self.dense_key = dense_key(cfg)
        t = cfg.trainer
        self.batches = Batches(job.data, int(cfg.seed), t.batch_size, t.eval_batch_size, t.max_batches)
        ent = cfg.entropy
        self.prober = Prober(
            job.model,
            job.data.num_classes,
            psp_include_output=ent.psp_include_output,
            psp_matrix_max_neurons=ent.psp_matrix_max_neurons,
        )
        self.hooks: list[StepHook] = build_hooks(cfg, job.pruner)

    def test(self) -> dict[str, float]:
        return evaluate(self.job.model, self.batches.test(), self.job.device, self.cfg.trainer.amp)

    def validate(self) -> dict[str, float]:
        t = self.cfg.trainer
        return evaluate(self.job.model, self.batches(t.eval_split, train=False), self.job.device, t.amp)

    def epochs(self, step: int) -> int:
        """Epochs of a step's training (the schedule's length; with ``iterations``, the passes they take)."""
        t = self.cfg.trainer
        if t.iterations is not None:
            per_epoch = len(self.batches("train", train=True, step=step))
            return -(-t.iterations // max(per_epoch, 1))
        return dense_epochs(self.cfg) if step == 0 else t.epochs

    def identity_fields(self, step: int) -> dict[str, Any]:
        cfg = self.cfg
        label_at = getattr(self.job.pruner, "label_at", None)
        return {
            "run": self.store.name,
            "model": cfg.model.name,
            "dataset": cfg.dataset.name,
            "pruner": cfg.pruner.name,
            "method": str(label_at(step) if label_at else cfg.pruner.name),
            "scope": cfg.pruner.scope,
            "seed": int(cfg.seed),
        }

    # ------------------------------------------------------------------ the loop

    def run(self) -> list[dict[str, Any]]:
        job, store = self.job, self.store
        store.set_status("running")
        init_state = initial_state(store, job.model)
        last = last_good_step(store)
        dense_state = None
        if last >= 0:
            dense_state = self.dense_state()
            restore(store, last, job.model, job.masks)
        for step in range(last + 1, job.pruner.steps + 1):
            try:
                self.run_step(step, init_state, dense_state)
            except DivergedError as exc:
                record = {"step": step, "status": "diverged", "epoch": exc.epoch, "loss": str(exc.loss)}
                store.append_record(record | self.identity_fields(step))
                store.set_status("diverged", step=step)
                self.logger.summary({"status": "diverged", "diverged_step": step})
                return store.records()
            if step == 0:
                dense_state = self.dense_state()
        store.set_status("finished", step=job.pruner.steps)
        return store.records()

    def dense_state(self) -> dict[str, torch.Tensor]:
        """The dense weights a pruner may read (one-shot with rewinding): the best ones with ``use_best``."""
        paths = self.store.paths
        best = paths.checkpoint(0, "best")
        use = best if self.job.pruner.use_best and best.exists() else paths.checkpoint(0)
        return safe_load(use)

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
            generator=torch.Generator().manual_seed(step_seed(cfg.seed, step)),
        )
        record: dict[str, Any] = {"step": step, **self.identity_fields(step)}
        if step > 0:
            record.update(self.prune(step, ctx, init_state))
        result = self.train(step, ctx)
        test = self.test()
        record.update(self.describe(step, test, result))
        for hook in self.hooks:
            record.update(hook(self.step_context(step, record)))
        record["wall_time"] = time.perf_counter() - start
        best = result.best_state if job.pruner.use_best else None
        save_step(self.store, record, job.model, job.masks, best)
        self.logger.log_record(record)
        print(step_line(self.store.name, record, job.pruner.steps), flush=True)
        return record

    def step_context(self, step: int, record: dict[str, Any]) -> StepContext:
        job = self.job
        return StepContext(
            step=step,
            steps=job.pruner.steps,
            model=job.model,
            masks=job.masks,
            device=job.device,
            batches=self.batches,
            prober=self.prober,
            store=self.store,
            out=self.out,
            logger=self.logger,
            run=self.store.name,
            pruner=self.cfg.pruner.name,
            dense_key=self.dense_key,
            record=dict(record),
        )

    def prune(self, step: int, ctx: PruneContext, init_state: dict) -> dict[str, Any]:
        """Prune step ``step`` from the previous step's (best) weights; evaluate the pruned network."""
        job = self.job
        best = self.store.paths.checkpoint(step - 1, "best")
        reloaded = job.pruner.use_best and best.exists()
        if reloaded:
            job.model.load_state_dict(safe_load(best))
        names = sorted(job.pruner.needs())
        train_batches = self.batches("train", train=True, step=step - 1)
        ctx.measurements.update(self.prober.for_pruner(step - 1, names, reloaded, train_batches))
        job.pruner.prune(job.masks, ctx)
        job.masks.apply()
        pruned = self.test()
        out = {"pruned_test_acc": pruned["acc"], "pruned_test_loss": pruned["loss"]}
        out["pruned_pqi"] = pruned_pqi(job.masks)
        if job.pruner.rewind == "init":
            rewind(job.model, init_state, job.masks)
        elif job.pruner.rewind == "random":  # the same mask, a fresh draw of the initial weights
            seed = step_seed(int(self.cfg.seed) + int(self.cfg.control.seed_offset), step)
            rewind(job.model, fresh_init(self.cfg, job.data, seed), job.masks)
        return out

    def train(self, step: int, ctx: PruneContext) -> FitResult:
        job, cfg = self.job, self.cfg
        hook = job.pruner.training_hook(job.masks, ctx)
        shared = step == 0 and hook is None and self.share_dense
        cache = self.out.dense(self.dense_key) if shared else None
        cached = load_dense(cache) if cache is not None else None
        if cached is not None:
            job.model.load_state_dict(cached[0])
            return cached[1]

        def on_epoch(row: dict[str, float]) -> None:
            self.logger.log_epoch(step, row)

        result = fit(
            job.model,
            job.masks,
            lambda epoch: self.batches("train", train=True, step=step, epoch=epoch),
            cfg.trainer,
            self.epochs(step),
            job.device,
            evaluate_fn=self.test,
            hook=hook,
            on_epoch=on_epoch,
            # the dense training always keeps its best weights: a cache serves pruners that prune from them
            keep_best=job.pruner.use_best or step == 0,
            desc=f"step {step}/{job.pruner.steps}" if cfg.trainer.progress else None,
            validate_fn=self.validate if cfg.trainer.eval_every else None,
        )
        if cache is not None:
            save_dense(cache, cpu_state(job.model), result)
        return result

    def describe(self, step: int, test: dict[str, float], result: FitResult) -> dict[str, Any]:
        job = self.job
        last = result.history[-1] if result.history else {}
        record = {
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
        if self.cfg.trainer.iterations:
            record["iterations"] = result.iterations
        return record | result.early_stop


def step_line(run: str, record: dict[str, Any], steps: int) -> str:
    """The one-line summary printed after every step."""
    pruned = record.get("pruned_test_acc")
    after = f" (after pruning {pruned:.4f})" if pruned is not None else ""
    return (
        f"[repro] {run} step {record['step']}/{steps}: sparsity={record['sparsity']:.4f} "
        f"test_acc={record['test_acc']:.4f}{after} {record['wall_time']:.1f}s"
    )
