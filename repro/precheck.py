"""Validate a command line before Hydra launches any job.

Every combination of a sweep is composed and validated up front, so a typo or an out-of-range value stops
the whole sweep at once with one line that names the key, the value and what is allowed, instead of a
traceback after hours of the jobs before it.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from repro.config import register_schemas, validate
from repro.errors import ConfigError
from repro.readiness import check_ready
from repro.security import check_job, refuse_secret_args

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
MAX_COMBINATIONS = 256
# Flags of Hydra's CLI that take a value as the next argument.
FLAGS_WITH_VALUE = {
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--experimental-rerun",
    "--info",
    "-i",
}


def split_cli(argv: Sequence[str]) -> tuple[list[str], str]:
    """The command line's overrides (Hydra's own ``hydra.*``, ``hydra/...`` dropped) and config name."""
    overrides: list[str] = []
    config_name = "config"
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg in FLAGS_WITH_VALUE:
            skip = True
            if arg in ("--config-name", "-cn") and i + 1 < len(argv):
                config_name = argv[i + 1]
            continue
        if arg.startswith("-"):
            if arg.startswith(("--config-name=", "-cn=")):
                config_name = arg.split("=", 1)[1]
            continue
        if arg.lstrip("+~").startswith("hydra"):
            continue
        overrides.append(arg)
    return overrides, config_name


def combinations(overrides: list[str]) -> Iterator[list[str]]:
    """Expand sweep overrides (``a=1,2``, ``range(...)``) into the jobs' override lists."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    choices: list[list[str]] = []
    for o in parsed:
        if o.is_sweep_override():
            prefix = o.input_line.split("=", 1)[0]
            choices.append([f"{prefix}={v}" for v in o.sweep_string_iterator()])
        else:
            choices.append([o.input_line])
    total = 1
    for c in choices:
        total *= len(c)
    if total <= MAX_COMBINATIONS:
        yield from (list(combo) for combo in itertools.product(*choices))
        return
    # Too many jobs to compose each: check every value of every sweep once, beside the others' first values.
    firsts = [c[0] for c in choices]
    for i, c in enumerate(choices):
        for value in c:
            yield [*firsts[:i], value, *firsts[i + 1 :]]


def _group_options(group: str) -> list[str]:
    folder = CONF_DIR / group
    return sorted(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml"))


def explain(exc: BaseException, overrides: list[str]) -> str:
    """One line for a Hydra/OmegaConf composition error."""
    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file:
        group, _, option = exc.missing_cfg_file.partition("/")  # experiment/sap/x: group experiment
        if group and option and (CONF_DIR / group).is_dir():
            return f"{group}={option!r} is invalid: allowed: {', '.join(_group_options(group))}"
    if isinstance(exc, ConfigCompositionException) and exc.__cause__ is not None:
        cause = exc.__cause__
        key = getattr(cause, "full_key", None)
        first = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        if key and "not in" in first:
            return unknown_key(key, overrides)
        if key:
            return f"{given(key, overrides)} is invalid: {first}"
        return f"{str(exc).splitlines()[0]} ({first})"
    text = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    first = text[0] if text else type(exc).__name__
    if first.endswith(":") and len(text) > 1:  # Hydra puts the reason on the next line
        first = f"{first} {text[1]}"
    if first.startswith("Could not override"):
        return f"{first} It is not a key of the config (use +key=value to add one)"
    return first


def _compose(overrides: list[str], config_name: str = "config") -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name, overrides=overrides)


def _key_of(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def given(key: str, overrides: list[str]) -> str:
    """``key=value`` as the command line wrote it (the key alone when it did not)."""
    return next((o for o in overrides if _key_of(o) == key), key)


def unknown_key(key: str, overrides: list[str]) -> str:
    """The one line for a key the config does not have, naming the nearest valid key."""
    parent, _, leaf = key.rpartition(".")
    others = [o for o in overrides if _key_of(o) != key]
    try:
        base = _compose(others)
        node = OmegaConf.select(base, parent) if parent else base
        keys = [str(k) for k in node] if isinstance(node, DictConfig) else []
    except Exception:  # the rest of the command line is broken too: report this key alone
        keys = []
    near = difflib.get_close_matches(leaf, keys, n=1)
    where = f"{parent}.{near[0]}" if near and parent else (near[0] if near else "")
    hint = f"no such key, did you mean {where}?" if near else "no such key"
    return f"{given(key, overrides)} is invalid: {hint} (python -m repro.run --cfg job lists every key)"


def check_added_keys(overrides: list[str]) -> None:
    """``+key=value`` may add a config group option, never a new key: the schemas hold every key there is."""
    for o in OverridesParser.create().parse_overrides(overrides):
        if not o.is_add():
            continue
        key = o.key_or_group
        if key.startswith("hydra") or (CONF_DIR / key.replace(".", "/")).is_dir():
            continue
        raise ConfigError(unknown_key(key, overrides))


def compose_checked(overrides: list[str], config_name: str = "config") -> DictConfig:
    """Compose and validate one job's config; raise ConfigError with a one-line message."""
    register_schemas()
    try:
        check_added_keys(overrides)
        cfg = _compose(overrides, config_name)
    except (
        MissingConfigException,
        ConfigCompositionException,
        OverrideParseException,
        OmegaConfBaseException,
    ) as exc:
        raise ConfigError(explain(exc, overrides)) from None
    check_job(cfg, overrides)  # oc.env, secrets, path names, allow_any_target: before validate resolves
    validate(cfg)
    return cfg


def precheck(argv: Sequence[str]) -> None:
    """Raise ConfigError for the first job of the command line whose config is invalid."""
    refuse_secret_args(argv)
    overrides, config_name = split_cli(argv)
    try:
        jobs = list(combinations(overrides))
    except OverrideParseException as exc:
        raise ConfigError(f"cannot parse the command line: {str(exc).splitlines()[0]}") from None
    seen: set[str] = set()
    for job in jobs:
        check_ready(compose_checked(job, config_name), seen)
