"""Guards that make it safe to run someone else's sweep file or preset and share the resulting dashboards.

A shared config must not be able to (1) copy a secret from the environment into what the suite writes or
logs, (2) put a run or sweep folder outside ``out_dir``, or (3) lift the ``_target_`` allow-list. Importing
this module replaces OmegaConf's ``oc.env`` resolver with an allow-listed one, so every config resolved in
this process (compose-time checks, the job, Hydra's own nodes) goes through it.

Ground level on purpose: only the standard library, omegaconf and repro.errors, so any module may call it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from omegaconf.resolvers.oc import env as _omegaconf_env

from repro.errors import ConfigError, bad_value

# --------------------------------------------------------------------------- secrets

# Environment variables whose values must never be written or logged; shorter values are too likely to
# occur by chance (``true``, a port number) to be refused.
SECRET_NAME = re.compile(r"WANDB_API_KEY|.*_TOKEN|.*_KEY|.*_SECRET|.*PASSWORD.*", re.IGNORECASE)
MIN_SECRET_LEN = 8
# Texts larger than this are only scanned, not parsed to name the key holding a secret (checkpoints).
MAX_PARSE_BYTES = 1 << 20


def secrets() -> dict[str, str]:
    """``{name: value}`` of the secret-looking environment variables, read at each call (they change)."""
    return {
        name: value
        for name, value in os.environ.items()
        if SECRET_NAME.fullmatch(name) and len(value.strip()) >= MIN_SECRET_LEN
    }


def find_secret(data: str | bytes) -> tuple[str, str] | None:
    """``(name, value)`` of the first secret-looking variable whose value occurs in ``data``."""
    for name, value in sorted(secrets().items()):
        needle: str | bytes = value.encode() if isinstance(data, bytes) else value
        if needle in data:  # type: ignore[operator]
            return name, value
    return None


def _locate(node: Any, needle: str, prefix: str = "") -> str | None:
    """Dotted key of the first key or leaf of a container that contains ``needle``."""
    if isinstance(node, Mapping):
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            found = key if needle in str(k) else _locate(v, needle, key)
            if found is not None:
                return found
        return None
    if isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            found = _locate(v, needle, f"{prefix}[{i}]")
            if found is not None:
                return found
        return None
    return (prefix or "value") if needle in str(node) else None


def _refusal(key: str, name: str, where: str) -> ConfigError:
    # The value itself is never printed: the message names the variable it came from.
    return ConfigError(
        f"{key}=<the value of ${name}> is invalid: a secret may not be written or logged "
        f"({where}); nothing was written"
    )


def refuse_secrets_in(data: Any, where: str) -> None:
    """Refuse a config or record (dicts, lists, scalars) that holds the value of a secret variable."""
    for name, value in sorted(secrets().items()):
        key = _locate(data, value)
        if key is not None:
            raise _refusal(key, name, where)


def refuse_secret_args(argv: Sequence[str]) -> None:
    """Refuse a command line that holds a secret literally (Hydra and W&B save the command line)."""
    for arg in argv:
        hit = find_secret(arg)
        if hit is not None:
            raise _refusal(_override_key(arg), hit[0], "Hydra and W&B save the command line")


def _key_in_text(text: str, needle: str) -> str:
    """The key of a YAML/JSON text (or one JSON line of it) holding ``needle``; ``content`` if unknown."""
    for chunk in (text, *(line for line in text.splitlines() if needle in line)):
        try:
            node = OmegaConf.to_container(OmegaConf.create(chunk), resolve=False)
        except Exception:  # not YAML/JSON, or a scalar: fall back to naming the file only
            continue
        key = _locate(node, needle)
        if key is not None:
            return key
    return "content"


def refuse_secret(data: str | bytes, where: str | Path) -> None:
    """The last guard before ``data`` is written to ``where`` or logged: refuse it if it holds a secret."""
    hit = find_secret(data)
    if hit is None:
        return
    name, value = hit
    key = "content"
    if len(data) <= MAX_PARSE_BYTES:
        text = data.decode(errors="replace") if isinstance(data, bytes) else data
        key = _key_in_text(text, value)
    raise _refusal(key, name, str(where))


# --------------------------------------------------------------------------- oc.env

# oc.env may fill only these keys (paths that differ between machines), only from these variables;
# Hydra's own nodes (hydra.run.dir, ...) follow the same variable list.
ENV_KEYS = ("out_dir", "dataset.root", "model.checkpoint")
ENV_VARS = ("HOME", "USER", "TMPDIR", "SCRATCH", "SLURM_TMPDIR", "REPRO_DATA", "REPRO_OUT")
_UNSET = object()


def _guarded_env(var: str, default: Any = _UNSET, *, _node_: Any = None) -> Any:
    """``oc.env`` limited to ENV_VARS in ENV_KEYS: a config value may not read the environment otherwise."""
    key = _node_._get_full_key(None) if _node_ is not None else ""
    if not ((key in ENV_KEYS or key.startswith("hydra.")) and var in ENV_VARS):
        raw = _node_._value() if _node_ is not None else f"${{oc.env:{var}}}"
        raise bad_value(
            key or "oc.env",
            raw,
            f"oc.env may only read {', '.join(ENV_VARS)}, and only into {', '.join(ENV_KEYS)}",
        )
    return _omegaconf_env(var) if default is _UNSET else _omegaconf_env(var, default)


def install_env_guard() -> None:
    """Replace ``oc.env`` (uncached, like the original) in this process."""
    OmegaConf.register_new_resolver("oc.env", _guarded_env, replace=True, use_cache=False)


def _user_error(exc: BaseException) -> ConfigError:
    """The ConfigError a resolver raised (OmegaConf wraps it), or a one-line ConfigError for ``exc``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConfigError):
            return seen
        seen = seen.__cause__ or seen.__context__
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    key = getattr(exc, "full_key", None)
    return ConfigError(f"{key}: {first}" if key else first)


def resolve_checked(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config, every interpolation (and so every ``oc.env``) evaluated."""
    try:
        data = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        raise _user_error(exc) from None
    assert isinstance(data, dict)
    return data


# --------------------------------------------------------------------------- paths

# Keys whose values become path components (run directory name, sweep folder).
NAME_KEYS = ("model.name", "dataset.name", "pruner.name", "sweep_name", "seed")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def check_names(data: Mapping[str, Any]) -> None:
    """Every value that becomes a path component is a plain name (no ``/``, no leading ``.``)."""
    for key in NAME_KEYS:
        value = _get(data, key)
        if value is not None and not SAFE_NAME.fullmatch(str(value)):
            raise bad_value(
                key,
                value,
                "it becomes part of a path under out_dir: 1-64 letters, digits, '_', '-' or '.', "
                "starting with a letter or digit",
            )


def inside(out_dir: str | Path, path: Path, key: str) -> Path:
    """Return ``path`` if it lies inside ``out_dir`` once ``..`` is resolved; refuse it otherwise.

    Resolved lexically, so an ``out_dir/runs`` that the user made a link to another disk keeps working.
    """
    root = os.path.normpath(os.path.abspath(out_dir))
    target = os.path.normpath(os.path.abspath(path))
    if os.path.commonpath([root, target]) != root:
        raise bad_value(key, str(path), f"must lie inside out_dir={str(out_dir)!r}")
    return path


# --------------------------------------------------------------------------- allow_any_target

ALLOW_ANY_ENV = "REPRO_ALLOW_ANY_TARGET"
_warned = False


def _override_key(override: str) -> str:
    return override.split("=", 1)[0].strip().lstrip("+~")


def allow_any_from_env() -> bool:
    return os.environ.get(ALLOW_ANY_ENV, "").strip().lower() in ("1", "true", "yes")


def warn_any_target() -> None:
    """One warning line per process while the allow-list is lifted."""
    global _warned
    if not _warned:
        _warned = True
        print(
            "[repro] warning: allow_any_target is on: a _target_ may import and call any object",
            file=sys.stderr,
            flush=True,
        )


def permit_any_target(requested: bool, command_line: Sequence[str] | None) -> bool:
    """Whether the ``_target_`` allow-list is lifted.

    Only the user's own command line (``allow_any_target=true``) or ``REPRO_ALLOW_ANY_TARGET=1`` may lift it;
    a value that came from a preset or a config dir is refused. ``command_line`` is None outside a Hydra
    job (library use), where the caller's argument is trusted.
    """
    if allow_any_from_env():
        warn_any_target()
        return True
    if not requested:
        return False
    if command_line is not None and not any(_override_key(o) == "allow_any_target" for o in command_line):
        raise bad_value(
            "allow_any_target",
            True,
            f"only the command line (allow_any_target=true) or {ALLOW_ANY_ENV}=1 may lift the _target_ "
            "allow-list, not a sweep file or preset",
        )
    warn_any_target()
    return True


def check_sweep_overrides(path: Path, overrides: Sequence[str]) -> None:
    """A sweep file may neither lift the allow-list nor set Hydra options (callbacks, output folders)."""
    for override in overrides:
        key = _override_key(override)
        if key == "allow_any_target":
            raise bad_value(
                key,
                override.split("=", 1)[-1],
                f"a sweep file ({path}) may not set it; only the command line or {ALLOW_ANY_ENV}=1 can",
            )
        if key.startswith("hydra"):
            raise bad_value(
                key,
                override.split("=", 1)[-1],
                f"a sweep file ({path}) may not set Hydra options; pass them on the command line",
            )


# --------------------------------------------------------------------------- compose time


def check_job(cfg: DictConfig, command_line: Sequence[str]) -> None:
    """Compose-time checks of one job, before anything exists on disk (called by precheck)."""
    data = resolve_checked(cfg)
    refuse_secrets_in(data, "config.yaml and W&B")
    check_names(data)
    out_dir = str(data.get("out_dir", "outputs"))
    if "sweep_name" in data:
        inside(out_dir, Path(out_dir) / "multirun" / str(data["sweep_name"]), "sweep_name")
    permit_any_target(bool(data.get("allow_any_target", False)), command_line)


install_env_guard()
