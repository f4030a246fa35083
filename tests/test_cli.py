"""The real command line in a subprocess: a 2-job multirun with offline W&B, resume by skipping, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env
from tests.wandb_files import offline_runs

FAST = ["model=mlp", "dataset=digits", "trainer.dense_epochs=1", "trainer.epochs=1", "pruner.steps=1"]


def repro(tmp_path: Path, *args: str, module: str = "repro.run") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_multirun_writes_runs_wandb_and_table_then_skips(tmp_path: Path):
    args = ["-m", "pruner=oneshot,lottery", *FAST, f"out_dir={tmp_path}", "sweep_name=two"]
    first = repro(tmp_path, *args)
    assert first.returncode == 0, first.stderr[-2000:]
    runs = sorted((tmp_path / "runs").iterdir())
    assert [r.name.split("-")[2] for r in runs] == ["lottery", "oneshot"]
    for run in runs:
        assert len((run / "records.jsonl").read_text().splitlines()) == 2
    logged = sorted((r.job_type, r.group) for r in offline_runs(tmp_path / "wandb"))
    assert logged == [("lottery", "two"), ("oneshot", "two"), ("report", "two")], "one per job, one report"
    tables = list((tmp_path / "multirun" / "two").glob("*/summary.md"))
    assert len(tables) == 1 and "one-shot" in tables[0].read_text() and "LT" in tables[0].read_text()
    assert "summary.md" in first.stdout

    mtimes = [(r / "records.jsonl").stat().st_mtime_ns for r in runs]
    second = repro(tmp_path, *args)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.count("skip ") == 2
    assert [(r / "records.jsonl").stat().st_mtime_ns for r in runs] == mtimes


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["model=resnet1800"], "model='resnet1800' is invalid: allowed: "),
        (["pruner.sparsity=1.5"], "pruner.sparsity=1.5 is invalid: must be in [0.0, 1.0)"),
        (["dataset=mnist", "dataset.root=/nonexistent"], "dataset.root='/nonexistent'"),
        (["-m", "pruner.sparsity=0.5,1.5"], "pruner.sparsity=1.5"),
        (["model.hiddn=3"], "model.hiddn"),
    ],
)
def test_bad_input_fails_in_one_line_without_a_run_directory(tmp_path: Path, args: list[str], needle: str):
    result = repro(
        tmp_path,
        *args,
        "model=mlp" if "model" not in args[0] else "seed=0",
        f"out_dir={tmp_path}",
        "logger=none",
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert needle in lines[0]
    assert not (tmp_path / "runs").exists()


def test_aggregate_cli_rejects_missing_folder(tmp_path: Path):
    result = repro(tmp_path, str(tmp_path / "nope"), module="repro.aggregate")
    assert result.returncode == 2 and "is not a folder" in result.stderr
