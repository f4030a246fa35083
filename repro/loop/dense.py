"""The shared dense training: runs that differ only in their pruner train the dense model once.

Its identity hashes what the dense training depends on (model, data, trainer, seed, the prunable set), not
the pruner, so a lottery ticket and a SAP run of one setting start from the same weights.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from repro.store import (
    CorruptFileError,
    DensePaths,
    atomic_json,
    atomic_torch_save,
    identity,
    safe_load,
    warn,
)
from repro.store.identity import STEP_LENGTH_KEYS, dense_epochs, file_hashes, non_default
from repro.store.verify import verify_dense
from repro.train import FitResult

# Where the data lives and how progress shows do not change the weights; the step length enters only as
# ``dense_epochs`` (the aggregator pairs runs by the same rule, ``repro.reports.settings.dense_keys``).
DROP = ("trainer.progress", "trainer.device", *STEP_LENGTH_KEYS, "dataset.root", "dataset.download")


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


def save_dense(cache: DensePaths, state: dict[str, torch.Tensor], result: FitResult) -> None:
    """Write the complete dense training: last and best weights and the training summary, then its checksum.

    Complete or not at all: the checksum file is the commit point, so a run killed while writing leaves no
    cache another run could start from.
    """
    blob = {
        "last": state,
        "best": result.best_state,
        "best_acc": result.best_acc,
        "history": result.history,
        "early_stop": result.early_stop,
        "iterations": result.iterations,
    }
    sha = atomic_torch_save(blob, cache.weights)
    atomic_json(cache.meta, {"sha256": sha, "key": cache.key})


def load_dense(cache: DensePaths) -> tuple[dict[str, torch.Tensor], FitResult] | None:
    """The cached dense training, or None when absent, incomplete or damaged (then it is trained again)."""
    if not cache.weights.exists():
        return None
    problems = verify_dense(cache)
    if problems:
        warn(f"{problems[0]}; training the dense model again")
        return None
    try:
        blob = safe_load(cache.weights)
    except CorruptFileError as exc:
        warn(f"{exc}; training the dense model again")
        return None
    result = FitResult(
        history=blob["history"],
        best_state=blob["best"],
        best_acc=float(blob["best_acc"]),
        early_stop=blob["early_stop"],
        iterations=int(blob["iterations"]),
    )
    return blob["last"], result
