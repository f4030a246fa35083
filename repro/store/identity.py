"""A run's identity: a short hash of what it computes, stable across upgrades of the suite.

As open_lth names a run by the hyperparameters that differ from their defaults, the hash covers only the
config values that differ from their schema's default (a field added later with a default leaves every
finished run's name unchanged), a result-format version (bumped when records change meaning), and the
content hash of every input file the run reads (a replaced ``model.checkpoint`` is a new run).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

# Bump when the same config would produce records of a different meaning.
FORMAT_VERSION = 2

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
# Keys that set the length of the pruning steps: the shared dense training depends on them only through
# its epoch count (``trainer.dense_epochs``, else ``trainer.epochs``), so runs differing in them alone
# start from one dense model.
STEP_LENGTH_KEYS = ("trainer.epochs", "trainer.dense_epochs")


def dense_epochs(config: Mapping[str, Any]) -> Any:
    """The epochs of a run's dense training (step 0): ``trainer.dense_epochs``, else ``trainer.epochs``."""
    trainer = config.get("trainer") or {}
    value = trainer.get("dense_epochs")
    return trainer.get("epochs") if value is None else value


# Config keys naming files whose content a run reads.
INPUT_FILES = ("model.checkpoint",)


def resolved(cfg: DictConfig) -> dict[str, Any]:
    container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert isinstance(container, dict)
    container.pop("hydra", None)
    return container


def _schema_defaults(node: Any) -> dict[str, Any]:
    """Default values of the dataclass a structured config node was made from (empty for plain nodes)."""
    kind = OmegaConf.get_type(node) if isinstance(node, DictConfig) else None
    if kind is None or not dataclasses.is_dataclass(kind):
        return {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(kind):
        if "was" in f.metadata:  # a changed default: identities compare against the one runs were named by
            out[f.name] = f.metadata["was"]
        elif f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return json.loads(json.dumps(out, default=str))


def non_default(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config without the values equal to their schema's default."""
    data = resolved(cfg)
    for group, values in data.items():
        if isinstance(values, dict) and isinstance(cfg.get(group), DictConfig):
            defaults = _schema_defaults(cfg[group])
            data[group] = {k: v for k, v in values.items() if k not in defaults or defaults[k] != v}
    # A group added later whose values are all defaults leaves the identity unchanged.
    return {k: v for k, v in data.items() if v != {}}


def _drop(data: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)


def file_hashes(cfg: DictConfig) -> dict[str, str]:
    """sha256 of every input file the config names (missing files are left to the job to report)."""
    out = {}
    for key in INPUT_FILES:
        value = OmegaConf.select(cfg, key, default=None)
        if isinstance(value, str) and value and Path(value).is_file():
            out[key] = hashlib.sha256(Path(value).read_bytes()).hexdigest()
    return out


def digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:10]


def identity(cfg: DictConfig | dict[str, Any], drop: tuple[str, ...] = NON_IDENTITY_KEYS) -> str:
    """Short hash of the non-default config values that change results, the format and the input files."""
    if isinstance(cfg, DictConfig):
        data = non_default(cfg)
        data["_inputs"] = file_hashes(cfg)
    else:
        data = json.loads(json.dumps(cfg, default=str))
    _drop(data, drop)
    data["_format"] = FORMAT_VERSION
    return digest(data)


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> {"a.b.c": value}; lists become JSON text so that every value is hashable (a table
    column, a W&B config key one can group and filter by)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            out[name] = json.dumps(value, sort_keys=True, default=str)
        else:
            out[name] = value
    return out


def run_name(cfg: DictConfig) -> str:
    return f"{cfg.model.name}-{cfg.dataset.name}-{cfg.pruner.name}-s{cfg.seed}-{identity(cfg)}"
