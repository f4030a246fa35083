"""The shared dense training: runs that differ only in their pruner train the dense model once.

Its identity hashes what the dense training depends on (model, data, trainer, seed, the prunable set), not
the pruner, so a lottery ticket and a SAP run of one setting start from the same weights.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from repro.store import identity

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
    data = {
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "dataset": OmegaConf.to_container(cfg.dataset, resolve=True),
        "trainer": OmegaConf.to_container(cfg.trainer, resolve=True),
        "seed": int(cfg.seed),
        "dense_epochs": dense_epochs(cfg),
        "prunable": [list(cfg.pruner.prunable), list(cfg.pruner.exclude)],
    }
    return identity(data, drop=DROP)
