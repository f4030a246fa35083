"""Seeded batch factories: the only way the loop and its hooks draw data.

Each (step, epoch) has its own generator (:mod:`repro.seeding`), so a hook or a pruner that draws batches
never shifts the data order of training, and a resumed run sees the batches an uninterrupted one sees.
"""

from __future__ import annotations

from typing import Any

import torch

from repro.data.core import Data
from repro.data.loader import TensorLoader
from repro.seeding import epoch_seed


class Batches:
    """Batches of one run's data, seeded from the run's seed, the step and the epoch."""

    def __init__(self, data: Data, seed: int, batch_size: int, eval_batch_size: int, max_batches: int | None):
        self.data = data
        self.seed = seed
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.max_batches = max_batches

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    def __call__(self, split: str, train: bool, step: int = 0, epoch: int = 0, **kw: Any) -> TensorLoader:
        """``train=True``: shuffled (and augmented) with the (step, epoch) generator; else ordered, plain."""
        gen = torch.Generator().manual_seed(epoch_seed(self.seed, step, epoch))
        size = self.batch_size if train else self.eval_batch_size
        return self.data.loader(
            split, size, train=train, generator=gen, max_batches=self.max_batches if train else None, **kw
        )

    def test(self) -> TensorLoader:
        return self("test", train=False)

    def sample(self, split: str, count: int, size: int, seed: int) -> list:
        """A fixed random sample of ``count`` batches of ``size`` from ``split``, without augmentation."""
        gen = torch.Generator().manual_seed(seed)
        loader = self.data.loader(split, size, train=True, augment=False, generator=gen, max_batches=count)
        return list(loader)
