"""Faults injected on purpose: kills, divergence, corrupt files, concurrent runs, bad input, pickled code."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from repro.aggregate import aggregate
from repro.errors import ConfigError
from repro.instantiate import resolve_target
from repro.run import run_dir_of, run_job
from repro.store import CorruptFileError, RunStore, safe_load
from tests.conftest import REPO, cli_env, compose

SMALL = ["model=mlp", "dataset=digits", "logger=none", "trainer.dense_epochs=1"]
RESULT_KEYS = (
    "step",
    "test_acc",
    "test_loss",
    "sparsity",
    "layer_sparsity",
    "checkpoint_sha256",
    "mask_sha256",
)


def same_results(a: list[dict], b: list[dict]) -> bool:
    return [{k: r.get(k) for k in RESULT_KEYS} for r in a] == [{k: r.get(k) for k in RESULT_KEYS} for r in b]


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "repro.run", *args],
        cwd=REPO,
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout: float = 300.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def records_of(run_dir: Path) -> list[dict]:
    return RunStore(run_dir).records()


# --------------------------------------------------------------------------- kill and resume


def test_sigkill_mid_step_then_rerun_matches_an_uninterrupted_run_bitwise(tmp_path: Path):
    args = [*SMALL, "pruner=lottery", "pruner.steps=3", "trainer.epochs=15", "trainer.num_threads=1"]
    reference = run_job(compose(*args, f"out_dir={tmp_path / 'ref'}"))
    cfg = compose(*args, f"out_dir={tmp_path / 'killed'}")
    run_dir = run_dir_of(cfg)
    proc = start(tmp_path, *args, f"out_dir={tmp_path / 'killed'}")
    wait_for(lambda: len(records_of(run_dir)) >= 2 or proc.poll() is not None)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = records_of(run_dir)
    assert 2 <= len(done) < 4, "the kill must land in the middle of the run"
    stamps = {r["step"]: r["wall_time"] for r in done}
    resumed = run_job(cfg)
    assert [r["step"] for r in resumed] == [0, 1, 2, 3]
    assert {r["step"]: r["wall_time"] for r in resumed if r["step"] in stamps} == stamps, (
        "finished steps rerun"
    )
    assert same_results(resumed, reference)


def test_multirun_killed_between_jobs_resumes_with_the_unfinished_job(tmp_path: Path):
    args = ["-m", "seed=0,1", *SMALL, "pruner.sparsity=0.5", "trainer.epochs=10", f"out_dir={tmp_path}"]
    first_dir = run_dir_of(compose(*args[2:], "seed=0"))
    proc = start(tmp_path, *args)
    wait_for(lambda: RunStore(first_dir).is_finished() or proc.poll() is not None)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert RunStore(first_dir).is_finished()
    again = subprocess.run(
        [sys.executable, "-m", "repro.run", *args],
        cwd=REPO,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("skip ") == 1
    assert all(RunStore(p).is_finished() for p in (tmp_path / "runs").iterdir())


# --------------------------------------------------------------------------- divergence


def test_diverging_job_is_recorded_the_sweep_goes_on_and_the_table_shows_it(tmp_path: Path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "repro.run",
            "-m",
            "trainer.lr=0.05,1e30",
            *SMALL,
            "trainer.epochs=1",
            f"out_dir={tmp_path}",
            "sweep_name=div",
        ],
        cwd=REPO,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    statuses = sorted(RunStore(p).status()["status"] for p in (tmp_path / "runs").iterdir())
    assert statuses == ["diverged", "finished"]
    diverged = next(p for p in (tmp_path / "runs").iterdir() if RunStore(p).status()["status"] == "diverged")
    assert records_of(diverged)[-1]["status"] == "diverged" and records_of(diverged)[-1]["step"] == 0
    table = aggregate(tmp_path / "runs", quiet=True)["table"]
    assert table["excluded"].str.contains("diverged").any()  # shown beside its setting, never averaged


# --------------------------------------------------------------------------- corruption


def test_truncated_checkpoint_is_reported_and_the_run_restarts_from_the_last_good_step(tmp_path, capsys):
    cfg = compose(*SMALL, "pruner=lottery", "pruner.steps=2", "trainer.epochs=1", f"out_dir={tmp_path}")
    full = run_job(cfg)
    store = RunStore(run_dir_of(cfg))
    bad = store.paths.checkpoint(1)
    bad.write_bytes(bad.read_bytes()[:100])  # the run stays marked finished: the damage is found anyway
    capsys.readouterr()
    again = run_job(cfg)
    assert str(bad) in capsys.readouterr().err
    assert again[0]["wall_time"] == full[0]["wall_time"], "step 0 was good and must not rerun"
    assert again[1]["wall_time"] != full[1]["wall_time"], "step 1 had a corrupt checkpoint and must rerun"
    assert same_results(again, full)


def test_truncated_records_file_drops_only_the_broken_line(tmp_path: Path, capsys):
    cfg = compose(*SMALL, "pruner=lottery", "pruner.steps=2", "trainer.epochs=1", f"out_dir={tmp_path}")
    full = run_job(cfg)
    store = RunStore(run_dir_of(cfg))
    text = store.records_path.read_text()
    store.records_path.write_text(text[: len(text) - 40])  # cut into the last record of a finished run
    again = run_job(cfg)
    assert "line 3 is corrupt" in capsys.readouterr().err
    assert same_results(again, full)


def test_safe_load_refuses_a_modified_file(tmp_path: Path):
    path = tmp_path / "x.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(CorruptFileError, match="checksum"):
        safe_load(path, sha256="0" * 64)


# --------------------------------------------------------------------------- concurrency


def test_two_processes_started_together_train_the_run_once(tmp_path: Path):
    args = [*SMALL, "pruner.sparsity=0.5", "trainer.epochs=10", f"out_dir={tmp_path}"]
    procs = [start(tmp_path, *args) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    trained = [o for o in outs if "step 1/1" in o]
    assert len(trained) == 1, outs
    assert len(records_of(run_dir_of(compose(*args)))) == 2


# --------------------------------------------------------------------------- targets


def test_target_allow_list_can_be_lifted_on_purpose():
    with pytest.raises(ConfigError, match="_target_ must be inside"):
        resolve_target("pruner._target_", "collections.OrderedDict")
    assert (
        resolve_target("pruner._target_", "collections.OrderedDict", allow_any=True).__name__ == "OrderedDict"
    )


# --------------------------------------------------------------------------- determinism and secrets


def test_same_seed_gives_bitwise_identical_records(tmp_path: Path):
    args = [*SMALL, "pruner=lottery", "pruner.steps=1", "trainer.epochs=2"]
    a = run_job(compose(*args, f"out_dir={tmp_path / 'a'}"))
    b = run_job(compose(*args, f"out_dir={tmp_path / 'b'}"))
    c = run_job(compose(*args, "seed=1", f"out_dir={tmp_path / 'c'}"))
    assert same_results(a, b)
    assert a[-1]["checkpoint_sha256"] != c[-1]["checkpoint_sha256"]


def test_wandb_key_never_reaches_files_the_suite_writes(tmp_path: Path, monkeypatch):
    secret = "0123456789abcdef0123456789abcdef01234567"
    env = cli_env(tmp_path) | {"WANDB_API_KEY": secret, "WANDB_MODE": "offline"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "repro.run",
            "model=linear",
            "dataset=digits",
            "logger=wandb",
            "trainer.epochs=1",
            f"out_dir={tmp_path / 'out'}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert secret not in result.stdout + result.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".wandb" for p in files), "the offline W&B run must exist"
    for path in files:
        assert secret.encode() not in path.read_bytes(), path
