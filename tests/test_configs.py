"""Every YAML under conf/ composes, and every pruner runs one tiny step end to end.

The option lists are read from the folders, so a new YAML is covered without touching this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.errors import ConfigError
from repro.instantiate import resolve_target
from repro.precheck import CONF_DIR
from repro.run import run_job
from tests.conftest import compose

TINY = ("model=mlp", "dataset=digits", "trainer.epochs=1", "trainer.dense_epochs=1", "trainer.max_batches=2",
        "trainer.progress=false", "logger=none")  # fmt: skip


def options(group: str) -> list[str]:
    folder = CONF_DIR / group
    return sorted(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml"))


GROUPS = ["model", "dataset", "pruner", "entropy", "analysis", "trainer", "logger"]
CASES = [(g, o) for g in GROUPS for o in options(g)] + [("experiment", o) for o in options("experiment")]


@pytest.mark.parametrize(("group", "option"), CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_every_option_composes_and_validates(group: str, option: str) -> None:
    extra = ("dataset.val_size=100",) if "lobster" in option else ()
    cfg = compose(f"{group}={option}", *extra)
    for key in ("model", "pruner"):  # what the job will build must be importable
        assert callable(resolve_target(f"{key}._target_", cfg[key]._target_))


def test_preset_fragments_are_not_offered_as_experiments() -> None:
    assert not [o for o in options("experiment") if o.endswith("common")]


@pytest.mark.parametrize("pruner", options("pruner"))
def test_every_pruner_runs_one_tiny_step(pruner: str, tmp_path: Path) -> None:
    extra = ["dataset.val_size=100"] if pruner.startswith("lobster") else []
    cfg = compose(*TINY, f"pruner={pruner}", "pruner.steps=1", f"out_dir={tmp_path}", *extra)
    if pruner.startswith("lobster") and cfg.pruner.force_at is None:
        # no plateau in one tiny step, and the group's default never forces
        cfg = compose(
            *TINY, f"pruner={pruner}", "pruner.steps=1", f"out_dir={tmp_path}", *extra, "pruner.force_at=0.9"
        )
    records = run_job(cfg)
    steps = [r["step"] for r in records]
    assert steps == list(range(len(steps))) and len(steps) >= 2  # egp_scratch adds its ablation step
    pruned = records[1]
    assert pruned["status"] == "ok" and pruned["method"]
    assert 0.0 < pruned["sparsity"] < 1.0, (pruner, pruned["sparsity"])
    assert (tmp_path / "runs" / pruned["run"] / "records.jsonl").exists()


def test_a_misspelt_probe_is_refused_at_compose_time() -> None:
    with pytest.raises(ConfigError, match=r"entropy.names\[0\]='egpp' is invalid: allowed: egp, psp"):
        compose("entropy.names=[egpp]")


def test_a_non_finite_number_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"trainer.lr=inf is invalid"):
        compose("trainer.lr=inf")


def test_help_lists_the_groups_a_user_chooses_from(capsys) -> None:
    from repro.run import main as run_main

    with pytest.raises(SystemExit) as exit_info:
        run_main(["--help"])
    text = capsys.readouterr().out
    assert exit_info.value.code == 0
    for group in ("model:", "dataset:", "pruner:", "entropy:", "analysis:", "control:", "experiment:"):
        assert f"  {group}" in text
    assert "[resnet18]" in text and "lottery/mnist_lenet300_100" in text
    assert "schema" not in text and "preset_parts" not in text and "common" not in text


SWEEPS = sorted((CONF_DIR.parent / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_every_value_of_every_sweep_file_composes(path: Path) -> None:
    """Each swept value beside the other parameters' first values (all combinations are checked at run
    time by precheck; this keeps a shipped sweep from breaking when a preset or a pruner changes)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from repro.precheck import split_cli
    from repro.sweep import sweep_argv

    overrides, _ = split_cli(sweep_argv(path, ["dataset.root=../shared/data"]))
    parsed = OverridesParser.create().parse_overrides(overrides)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    swept = [(o.input_line.split("=", 1)[0], list(o.sweep_string_iterator())) for o in parsed
             if o.is_sweep_override()]  # fmt: skip
    firsts = [f"{k}={v[0]}" for k, v in swept]
    for i, (key, choices) in enumerate(swept):
        for value in choices:
            compose(*fixed, *firsts[:i], f"{key}={value}", *firsts[i + 1 :])
