"""The shared dense training: runs that differ only in their pruner train the dense model once.

Its identity hashes what the dense training depends on (model, data, trainer, seed, the prunable set), not
the pruner, so a lottery ticket and a SAP run of one setting start from the same weights.
"""

from __future__ import annotations

from omegaconf import DictConfig

from repro.store import identity
from repro.store.identity import file_hashes, non_default

DROP = (
    "trainer.progress",
    "trainer.device",
    "trainer.epochs",
    "trainer.dense_epochs",
    "dataset.root",
    "dataset.download",
)


def dense_epochs(cfg: DictConfig) -> int:
    t = cfg.trainer
    return t.dense_epochs if t.dense_epochs is not None else t.epochs


def dense_key(cfg: DictConfig) -> str:
    """Identity of the dense training alone."""
    values = non_default(cfg)  # a field added later with its default keeps every cache valid
    data = {
        "model": values["model"],
        "dataset": values["dataset"],
        "trainer": values["trainer"],
        "inputs": file_hashes(cfg),
        "seed": int(cfg.seed),
        "dense_epochs": dense_epochs(cfg),
        "prunable": [list(cfg.pruner.prunable), list(cfg.pruner.exclude)],
    }
    return identity(data, drop=DROP)
