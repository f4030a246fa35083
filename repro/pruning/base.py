"""The pruner interface: a pruner decides how many weights go, where, and from which weights.

The prune-retrain loop is the same for every method; a pruner only fills in :meth:`Pruner.prune` (and, for
methods that prune while training, :meth:`Pruner.training_hook`). Most methods are compositions of parts
(:mod:`repro.pruning.method`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn

from repro.data.core import Data
from repro.masks import Masks


@dataclass
class PruneContext:
    """What a pruner may look at when it prunes step ``step``."""

    model: nn.Module
    step: int
    device: torch.device
    # The run's data (LOBSTER reads its validation split); None in unit tests that need none.
    data: Data | None = None
    # Parameter values before any training, and after the dense training (step 0), on the CPU.
    init_state: dict[str, torch.Tensor] = field(default_factory=dict)
    dense_state: dict[str, torch.Tensor] | None = None
    # Probe results the pruner asked for with ``needs()``, by probe name, measured by the loop just before
    # pruning on the augmented training data (EGP reads ``measurements["egp"]``).
    measurements: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Seeded per run and step: a random score draws from here, never from the global generator.
    generator: torch.Generator = field(default_factory=lambda: torch.Generator().manual_seed(0))


@dataclass
class TrainState:
    """Passed to a training hook after every optimizer step."""

    epoch: int
    iteration: int  # global within this step's training
    iterations_per_epoch: int
    total_iterations: int
    model: nn.Module
    masks: Masks
    loss: torch.Tensor


TrainHook = Callable[[TrainState], None]
P = TypeVar("P", bound="Pruner")


class Pruner:
    """What the loop calls; holds the settings every method shares (``repro.pruning.schemas.PrunerConfig``).

    Settings arrive as keyword arguments from the config (no defaults here: the schema holds them once);
    :meth:`of` builds a pruner from a schema instance, checked, for code and tests that have no config.
    """

    def __init__(
        self,
        *,
        steps: int,
        scope: str,
        prunable: Sequence[str],
        exclude: Sequence[str],
        rewind: str,
        use_best: bool,
        label: str | None,
    ) -> None:
        self.steps = steps
        self.scope = scope
        self.prunable = tuple(prunable)
        self.exclude = tuple(exclude)
        self.rewind = rewind
        self.use_best = use_best
        self._label = label

    @classmethod
    def of(cls: type[P], cfg: Any) -> P:
        """Check the schema instance ``cfg`` (ranges, choices, rules) and build this class from it."""
        from repro.pruning.schemas import settings
        from repro.schema import check

        check(cfg, "pruner")
        return cls(**settings(cfg))

    @property
    def label(self) -> str:
        """The method's name in records (``method``): the config's ``label``, else :meth:`derived_label`."""
        return self._label or self.derived_label()

    def derived_label(self) -> str:
        return type(self).__name__

    def label_at(self, step: int) -> str:
        """The label of one step's record (EGP's from-scratch step differs); :attr:`label` by default."""
        return self.label

    def prune(self, masks: Masks, ctx: PruneContext) -> None:
        """Update ``masks`` in place for step ``ctx.step`` (>= 1)."""
        raise NotImplementedError

    def training_hook(self, masks: Masks, ctx: PruneContext) -> TrainHook | None:
        """A callback run after every optimizer step of step ``ctx.step``'s training, or None."""
        return None

    def nominal_sparsity(self, step: int) -> float | None:
        """The sparsity label of a step, where the method has one (the real value is recorded too)."""
        return None

    def needs(self) -> set[str]:
        """Probes the loop must run into ``ctx.measurements`` before :meth:`prune` (e.g. ``{"egp"}``)."""
        return set()
