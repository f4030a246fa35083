"""Activation probes after every step (the ``entropy`` config group): EGP entropy, PSP-entropy.

Every probe named in ``entropy.names``, plus those the pruner needs before its next prune, runs in one pass
over ``entropy.split``. Scalars go into the record as ``<probe>_<key>``, per-layer arrays into the step's
``metrics`` artifact as ``<probe>/<key>``. A pass on the training data is kept for the next prune.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from repro.loop.context import StepContext
from repro.registry import register


@register("hook", "probes")
class ProbeHook:
    order = 20

    def __init__(self, names: list[str], split: str) -> None:
        self.names = names
        self.split = split

    @classmethod
    def from_config(cls, cfg: DictConfig, pruner: Any) -> ProbeHook:
        # What the pruner measures before pruning is recorded after each step too (EGP's depth per step).
        names = list(dict.fromkeys([*cfg.entropy.names, *sorted(pruner.needs())]))
        return cls(names, cfg.entropy.split)

    def __call__(self, ctx: StepContext) -> dict[str, Any]:
        ctx.prober.forget()
        if not self.names:
            return {}
        on_train = self.split == "train"
        results = ctx.prober.measure(self.names, ctx.batches(self.split, train=on_train, step=ctx.step))
        if on_train:
            ctx.prober.remember(ctx.step, results)
        scalars: dict[str, Any] = {}
        arrays: dict[str, Any] = {}
        for name, res in results.items():
            for k, v in res.items():
                if k.startswith("_"):
                    arrays[f"{name}/{k.lstrip('_')}"] = v
                else:
                    scalars[f"{name}_{k}"] = v
        if arrays:
            ctx.store.write_artifact("metrics", ctx.step, arrays)
        return scalars
