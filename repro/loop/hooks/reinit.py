"""The random re-initialisation control of the lottery-ticket paper (``control=reinit``).

At each step of ``control.steps`` a copy of the network gets the step's mask and a fresh random
initialisation (another draw of the same rule), and is trained exactly as the step was. The record gains
its results under ``reinit_*``: test accuracy at the end, and the early-stop iteration and test accuracy
when the trainer tracks a validation split. Same mask, new weights: whether the ticket's initial values
matter.
"""

from __future__ import annotations

import copy
from typing import Any

from omegaconf import DictConfig

from repro.loop.context import StepContext
from repro.loop.state import fresh_init
from repro.masks import Masks
from repro.registry import register
from repro.seeding import step_seed
from repro.train import evaluate, fit


@register("hook", "reinit")
class ReinitControl:
    order = 50

    def __init__(self, cfg: DictConfig, steps: list[int]) -> None:
        self.cfg = cfg
        self.steps = set(steps)

    @classmethod
    def from_config(cls, cfg: DictConfig, pruner: Any) -> ReinitControl | None:
        control = cfg.get("control")
        if control is None or not control.reinit_steps:
            return None
        return cls(cfg, list(control.reinit_steps))

    def __call__(self, ctx: StepContext) -> dict[str, Any]:
        if ctx.step not in self.steps:
            return {}
        cfg, t = self.cfg, self.cfg.trainer
        model = copy.deepcopy(ctx.model)
        seed = step_seed(int(cfg.seed) + int(cfg.control.seed_offset), ctx.step)
        model.load_state_dict(fresh_init(cfg, ctx.batches.data, seed))
        masks = Masks.for_model(model, cfg.pruner.prunable, cfg.pruner.exclude)
        masks.load_state_dict(ctx.masks.state_dict())
        masks.apply()

        def test() -> dict[str, float]:
            return evaluate(model, ctx.batches.test(), ctx.device, t.amp)

        def validate() -> dict[str, float]:
            return evaluate(model, ctx.batches(t.eval_split, train=False), ctx.device, t.amp)

        epochs = int(ctx.record.get("epochs", t.epochs))
        result = fit(
            model,
            masks,
            lambda epoch: ctx.batches("train", train=True, step=ctx.step, epoch=epoch),
            t,
            epochs,
            ctx.device,
            evaluate_fn=test,
            validate_fn=validate if t.eval_every else None,
        )
        final = test()
        out = {"reinit_test_acc": final["acc"], "reinit_test_loss": final["loss"]}
        out.update({f"reinit_{k}": v for k, v in result.early_stop.items()})
        return out
