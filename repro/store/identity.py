"""A run's identity: a short hash of the config values that change what it computes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

# Keys that do not change what a run computes: they are left out of its identity.
NON_IDENTITY_KEYS = (
    "logger",
    "out_dir",
    "sweep_name",
    "allow_any_target",
    "hydra",
    "trainer.progress",
    "trainer.device",
    "dataset.root",
    "dataset.download",
)


def resolved(cfg: DictConfig) -> dict[str, Any]:
    container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert isinstance(container, dict)
    container.pop("hydra", None)
    return container


def identity(cfg: DictConfig | dict[str, Any], drop: tuple[str, ...] = NON_IDENTITY_KEYS) -> str:
    """Short hash of the resolved config without the keys that do not change results."""
    data = resolved(cfg) if isinstance(cfg, DictConfig) else json.loads(json.dumps(cfg))
    for key in drop:
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def run_name(cfg: DictConfig) -> str:
    return f"{cfg.model.name}-{cfg.dataset.name}-{cfg.pruner.name}-s{cfg.seed}-{identity(cfg)}"
