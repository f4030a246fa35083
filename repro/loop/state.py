"""Weights and masks of a run's steps: save them with checksums, find the last good step, restore it."""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn

from repro.data.core import Data
from repro.masks import Masks
from repro.store import CorruptFileError, RunStore, safe_load, warn
from repro.store.verify import left_out, step_problems


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


@torch.no_grad()
def rewind(model: nn.Module, init_state: dict[str, torch.Tensor], masks: Masks) -> None:
    """Reset every parameter to its initial value (normalisation running statistics are kept), then mask."""
    for name, p in model.named_parameters():
        p.copy_(init_state[name])
    masks.apply()


def initial_state(store: RunStore, model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights before any training, saved once (if lost, the seeded build gives them again)."""
    path = store.paths.init
    if path.exists():
        try:
            model.load_state_dict(safe_load(path))
            return cpu_state(model)
        except CorruptFileError as exc:
            warn(f"{exc}; rewriting it from the seeded build")
    store.save_init(cpu_state(model))
    return cpu_state(model)


def save_step(
    store: RunStore,
    record: dict[str, Any],
    model: nn.Module,
    masks: Masks,
    best: dict[str, torch.Tensor] | None,
) -> None:
    """Write the step's files, then its record: the record is the commit point of the step."""
    step = record["step"]
    record["checkpoint_sha256"] = store.save_checkpoint(step, cpu_state(model))
    record["mask_sha256"] = store.save_mask(step, masks.state_dict())
    if best is not None:
        record["best_sha256"] = store.save_checkpoint(step, best, "best")
    store.write_artifact(
        "masks", step, {"sparsity": record["sparsity"], "layer_sparsity": record["layer_sparsity"]}
    )
    record["artifact_sha256"] = store.artifact_checksums(step)
    store.append_record(record)


def last_good_step(store: RunStore) -> int:
    """The last recorded step whose files pass their checksums; records after it are dropped.

    Steps a carried copy holds as records only (``left_out``) count as done: the resume reads the last
    step's files (and step 0's), which a carried copy always holds.
    """
    records = {r["step"]: r for r in store.records()}
    absent = left_out(store.paths)
    good = -1
    for step in sorted(records):
        bad = step_problems(store.paths, records[step], absent)
        if bad:
            warn(f"{bad[0]}; redoing the steps after step {good}")
            break
        good = step
    if good < store.last_step():
        store.truncate_after(good)
    return good


def restore(store: RunStore, step: int, model: nn.Module, masks: Masks) -> dict[str, Any]:
    """Load the model and masks saved at ``step``; return its record."""
    record = next(r for r in store.records() if r["step"] == step)
    model.load_state_dict(safe_load(store.paths.checkpoint(step), record.get("checkpoint_sha256")))
    masks.load_state_dict(safe_load(store.paths.mask(step), record.get("mask_sha256")))
    return record


def fresh_init(cfg: DictConfig, data: Data, seed: int) -> dict[str, torch.Tensor]:
    """The initial weights of another draw of the run's model (seeded by ``seed``, global RNG untouched)."""
    from repro.loop.job import model_for

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_for(cfg, data)
    return cpu_state(model)
