"""Compose-time config: the schemas of every group, found by discovery and checked by one walker.

Each package declares the schemas of the groups it implements in its own ``schemas`` module (which imports
no implementation): ``repro/models/schemas.py``, ``repro/data/schemas.py``, ``repro/pruning/schemas.py``,
``repro/loop/hooks/schemas.py``; the trainer's and the logger's are here. Every YAML option extends one of
them (``defaults: [/schema/<group>/<name>@_here_]``), so Hydra rejects an unknown key or a wrongly typed
value, and :func:`validate` checks the declared ranges, choices and registry names (:mod:`repro.schema`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from repro.errors import bad_value
from repro.schema import SCHEMAS, check, option, schema

PACKAGE = Path(__file__).resolve().parent


@schema("trainer", "base")
@dataclass
class TrainerConfig:
    epochs: int = option(1, ge=0)
    # Epochs of the dense training (step 0); None uses ``epochs``.
    dense_epochs: int | None = option(None, ge=0)
    batch_size: int = option(128, ge=1)
    eval_batch_size: int = option(1000, ge=1)
    optimizer: str = option("sgd", choices=("sgd", "adam"))
    lr: float = option(0.1, gt=0)
    momentum: float = option(0.9, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = option(5e-4, ge=0)
    schedule: str = option("cosine", choices=("constant", "cosine", "multistep"))
    milestones: list[int] = option(list, ge=0, each=True)
    gamma: float = option(0.1, gt=0, le=1)
    grad_clip: float | None = option(None, gt=0)
    # Train every step for this many optimizer steps instead of ``epochs`` (the lottery-ticket protocol);
    # the data order still changes at every pass over the training split.
    iterations: int | None = option(None, ge=1)
    # Measure ``eval_split`` every this many optimizer steps and at the end: the record gets the iteration
    # of minimum loss there (early stopping) and the test metrics at that iteration.
    eval_every: int | None = option(None, ge=1)
    eval_split: str = option("val", choices=("val", "test"))
    # Stop an epoch after this many batches (smoke tests, benchmarks); None runs the whole epoch.
    max_batches: int | None = option(None, ge=1)
    device: str = option("auto", choices=("auto", "cpu", "cuda"))
    amp: bool = True
    channels_last: bool = True
    deterministic: bool = False
    num_threads: int | None = option(None, ge=1)
    progress: bool = True

    def rules(self, prefix: str, root: Any) -> None:
        if self.eval_every and self.eval_split == "val" and not int(root.dataset.get("val_size", 0) or 0):
            allowed = "needs dataset.val_size > 0 (or eval_split=test)"
            raise bad_value(f"{prefix}.eval_every", self.eval_every, allowed)


@schema("logger", "base")
@dataclass
class LoggerConfig:
    name: str = option("none", choices=("wandb", "none"))
    project: str = "repro"
    entity: str | None = None
    # auto: online when a W&B key is configured, offline otherwise.
    mode: str = option("auto", choices=("auto", "offline", "online", "disabled"))
    group: str | None = None
    tags: list[str] = option(list)


def discover_schemas() -> dict[str, dict[str, type]]:
    """Import every ``schemas`` module of the package (each registers its groups' schemas)."""
    for path in sorted(PACKAGE.rglob("schemas.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        importlib.import_module(".".join(parts))
    return SCHEMAS


def register_schemas() -> None:
    """Store every schema as ``schema/<group>/<name>`` so YAML options can extend it."""
    cs = ConfigStore.instance()
    for group, schemas in discover_schemas().items():
        for name, node in schemas.items():
            cs.store(group=f"schema/{group}", name=name, node=node)


def validate(cfg: DictConfig) -> None:
    """Check every group's declared rules and the seed; raise ConfigError naming the first bad key."""
    for group in discover_schemas():
        if group in cfg:
            check(OmegaConf.to_object(cfg[group]), group, cfg)
    seed = cfg.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise bad_value("seed", seed, "must be an integer in [0, 2147483647]")
