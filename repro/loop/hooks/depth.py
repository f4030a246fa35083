"""The depth check after the last pruning step (``entropy.depth``): build the shallower network, compare it.

The gates come from one pass over the augmented training data (as EGP's entropy), the accuracies from the
test set; :mod:`repro.metrics.depth` does the surgery. Writes the run's depth report, returns ``depth_*``.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from repro.loop.context import StepContext
from repro.metrics.depth_check import depth_report
from repro.registry import register


@register("hook", "depth")
class DepthHook:
    order = 30

    def __init__(self, latency_batch: int, at_step: int) -> None:
        self.latency_batch = latency_batch
        self.at_step = at_step

    @classmethod
    def from_config(cls, cfg: DictConfig, pruner: Any) -> DepthHook | None:
        # The last configured pruning step: EGP's retrain-from-scratch ablation, run as one more step, is a
        # different network and is not checked.
        if not cfg.entropy.get("depth"):
            return None
        return cls(int(cfg.entropy.latency_batch), int(cfg.pruner.steps))

    def __call__(self, ctx: StepContext) -> dict[str, Any]:
        if ctx.step != self.at_step:
            return {}
        out, report = depth_report(
            ctx.model,
            ctx.batches("train", train=True, step=ctx.step),
            ctx.batches.test,
            self.latency_batch,
        )
        ctx.store.write_artifact("depth", ctx.step, {"step": ctx.step, **report})
        return out
