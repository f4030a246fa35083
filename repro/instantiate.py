"""Build objects from a config's ``_target_``, limited to trusted packages.

A sweep file or a shared config must not be able to run arbitrary code on a cluster, so ``_target_`` must
name something inside an allowed top-level package unless the user opts out with
``allow_any_target=true`` on their own command line or ``REPRO_ALLOW_ANY_TARGET=1`` (repro.security refuses
it from a sweep file or preset).
"""

from __future__ import annotations

import importlib
from typing import Any

from omegaconf import DictConfig, OmegaConf

from repro.errors import ConfigError
from repro.security import permit_any_target

ALLOWED_PACKAGES = ("repro", "torch", "torchvision", "timm")
META_KEYS = ("_target_", "_recursive_", "_convert_", "_partial_")


def _command_line() -> list[str] | None:
    """Overrides of the running Hydra job's command line; None when called as a library (no Hydra job)."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else None


def resolve_target(key: str, target: str, allow_any: bool = False) -> Any:
    """Return the callable named by ``target``; ``key`` names the config entry in error messages."""
    allow_any = permit_any_target(allow_any, _command_line())
    top = target.split(".", 1)[0]
    if not allow_any and top not in ALLOWED_PACKAGES:
        raise ConfigError(
            f"{key}={target!r} is invalid: _target_ must be inside {', '.join(ALLOWED_PACKAGES)} "
            "(set allow_any_target=true to lift this)"
        )
    found = locate(target)
    if found is None:
        raise ConfigError(f"{key}={target!r} is invalid: no such module or attribute")
    return found


def locate(target: str) -> Any:
    """The object at dotted path ``target`` (module, then attributes), or None (quietly: no logging)."""
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj
    return None


def build(
    cfg: DictConfig, key: str, skip: tuple[str, ...] = (), allow_any: bool = False, **extra: Any
) -> Any:
    """Call ``cfg._target_`` with the node's other keys (minus ``skip``) plus ``extra``."""
    fn = resolve_target(f"{key}._target_", cfg._target_, allow_any)
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(kwargs, dict)
    for k in (*META_KEYS, *skip):
        kwargs.pop(k, None)
    kwargs.update(extra)
    return fn(**kwargs)
