"""Checks that need more than the config: run before the first job of a command line starts.

A sweep whose third job names a missing data set, a ``_target_`` outside the allow-list or an unusable
``out_dir`` must stop before the first job trains, with one line, and leave nothing behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from repro.errors import bad_value
from repro.instantiate import resolve_target


def check_out_dir(value: str) -> None:
    """``out_dir`` must be (or be creatable as) a writable folder."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise bad_value("out_dir", value, "is a file, not a folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise bad_value("out_dir", value, f"{existing} is not writable")


def check_targets(cfg: DictConfig) -> None:
    for key in ("model", "pruner"):
        resolve_target(f"{key}._target_", cfg[key]._target_, bool(cfg.allow_any_target))


def check_build(cfg: DictConfig, seen: set[str]) -> None:
    """Build each distinct (data, model, pruner) once, as the job will: a missing or damaged data set, a
    checkpoint that does not fit, a prunable set the model lacks all fail here, before any job starts."""
    from repro.loop.job import build_job

    groups = ("dataset", "model", "pruner", "trainer")
    parts = {k: OmegaConf.to_container(cfg[k], resolve=True) for k in groups}
    key = json.dumps(parts, sort_keys=True, default=str)
    if key in seen:
        return
    seen.add(key)
    build_job(cfg)


def check_ready(cfg: DictConfig, seen: set[str]) -> None:
    """Raise ConfigError or DataMissingError for the first problem of one job's config."""
    check_out_dir(str(cfg.out_dir))
    check_targets(cfg)
    check_build(cfg, seen)


__all__ = ["check_ready"]
