"""One-shot pruning with rewinding (the SAP paper's OS baseline).

At step t the mask keeps the largest-magnitude weights *of the step-0 dense model* (``ctx.dense_state``) at
sparsity ``1 - (1 - rate)^t`` per scope unit; the loop then rewinds the survivors to their initial values
(``rewind: init``) and retrains. Masks are nested across steps, so each step equals a one-shot prune of the
dense model to that step's sparsity.

As in the official code, the dense weights are loaded into the model before pruning (normalisation running
statistics included), so the "pruned" evaluation of a step is the dense model under the new mask, and its
running statistics are the ones the rewound network keeps.
"""

from __future__ import annotations

from repro.masks import Masks
from repro.pruning.base import PruneContext, Pruner
from repro.pruning.magnitude import magnitude_scores
from repro.pruning.scopes import counts_for_target, prune_smallest


class OneShotRewindPruner(Pruner):
    """Masks from the dense trained weights at sparsity ``1 - (1 - rate)^t``, retrained from init."""

    def __init__(self, *, rate: float = 0.2, **kw) -> None:
        super().__init__(**kw)
        self.rate = rate

    def target(self, step: int) -> float:
        return 1.0 - (1.0 - self.rate) ** step

    def prune(self, masks: Masks, ctx: PruneContext) -> None:
        if ctx.dense_state is None:
            raise RuntimeError("oneshot_rewind needs the step-0 dense weights (ctx.dense_state)")
        ctx.model.load_state_dict(ctx.dense_state)
        counts = counts_for_target(masks, self.scope, self.target(ctx.step))
        prune_smallest(masks, magnitude_scores(masks, ctx.dense_state), self.scope, counts)

    def nominal_sparsity(self, step: int) -> float | None:
        return self.target(step)
