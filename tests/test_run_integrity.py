"""No result depends on run order, suite version, a damaged file, a stale lock or an interruption."""

from __future__ import annotations

import dataclasses
import errno
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from filelock import FileLock
from omegaconf import OmegaConf

from repro.config import TrainerConfig
from repro.run import main as run_main
from repro.run import run_dir_of, run_job
from repro.schema import option
from repro.store import OutPaths, RunStore, run_name
from repro.verify import main as verify_main
from tests.conftest import REPO, cli_env, compose

SMALL = ["model=mlp", "model.hidden=[32]", "dataset=digits", "logger=none", "trainer.num_threads=1",
         "trainer.epochs=3", "trainer.dense_epochs=3"]  # fmt: skip
KEYS = ("step", "sparsity", "test_acc", "best_test_acc", "checkpoint_sha256", "mask_sha256", "best_sha256")


def results(records: list[dict]) -> list[dict]:
    return [{k: r.get(k) for k in KEYS} for r in records]


@pytest.mark.parametrize("pruner", ["sap", "lottery", "oneshot_rewind"])
def test_records_do_not_depend_on_which_run_trained_the_dense_model_first(pruner: str, tmp_path: Path):
    """A run alone, and the same run after another pruner filled the shared dense cache: bitwise equal."""
    alone = run_job(compose(*SMALL, f"pruner={pruner}", "pruner.steps=2", f"out_dir={tmp_path / 'a'}"))
    run_job(compose(*SMALL, "pruner=oneshot", f"out_dir={tmp_path / 'b'}"))  # no best kept by this pruner
    assert OutPaths(tmp_path / "b").dense_caches(), "the first run must leave the dense cache"
    after = run_job(compose(*SMALL, f"pruner={pruner}", "pruner.steps=2", f"out_dir={tmp_path / 'b'}"))
    assert results(after) == results(alone)
    assert alone[0]["best_test_acc"] >= alone[0]["test_acc"]


def test_a_damaged_dense_cache_is_trained_again_not_used(tmp_path: Path, capsys):
    run_job(compose(*SMALL, "pruner=oneshot", f"out_dir={tmp_path}"))
    cache = OutPaths(tmp_path).dense_caches()[0]
    good = cache.weights.read_bytes()
    other = compose(*SMALL, "pruner=lottery", "pruner.steps=1", f"out_dir={tmp_path / 'ref'}")
    reference = run_job(other)
    cache.weights.write_bytes(good[: len(good) // 2])  # truncated
    cut = run_job(compose(*SMALL, "pruner=lottery", "pruner.steps=1", f"out_dir={tmp_path}"))
    assert "checksum mismatch" in capsys.readouterr().err
    assert results(cut) == results(reference)


def test_a_field_added_with_its_default_keeps_every_run_name():
    cfg = compose(*SMALL)
    name = run_name(cfg)

    @dataclasses.dataclass
    class Upgraded(TrainerConfig):
        warmup_epochs: int = 0  # a field a later version adds

    def with_trainer(**values):
        current = OmegaConf.to_container(cfg.trainer)
        upgraded = OmegaConf.merge(OmegaConf.structured(Upgraded), current, values)
        out = cfg.copy()
        out.trainer = upgraded
        return out

    assert run_name(with_trainer()) == name
    assert run_name(with_trainer(warmup_epochs=2)) != name, "a non-default value is part of the identity"


def test_a_changed_default_keeps_finished_runs_named_and_renames_the_new_meaning():
    """``option(new, was=old)``: the old value keeps the finished run's name; the new default is a new run."""
    cfg = compose(*SMALL)
    name = run_name(cfg)

    @dataclasses.dataclass
    class Upgraded(TrainerConfig):
        deterministic: bool = option(True, was=False)  # the default flipped in a later version

    def with_trainer(**values):
        out = cfg.copy()
        out.trainer = OmegaConf.merge(
            OmegaConf.structured(Upgraded), OmegaConf.to_container(cfg.trainer), values
        )
        return out

    assert cfg.trainer.deterministic is False
    assert run_name(with_trainer(deterministic=False)) == name, "finished runs keep their name"
    assert run_name(with_trainer(deterministic=True)) != name, "the new default is a new run"


def test_a_replaced_checkpoint_file_is_a_new_run(tmp_path: Path):
    path = tmp_path / "start.pt"
    model = torch.nn.Linear(2, 2)
    torch.save(model.state_dict(), path)
    first = run_name(compose("model=linear", f"model.checkpoint={path}"))
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    assert run_name(compose("model=linear", f"model.checkpoint={path}")) != first


def test_verify_names_each_damaged_file_and_a_rerun_redoes_the_damaged_steps(tmp_path: Path, capsys):
    cfg = compose(*SMALL, "pruner=lottery", "pruner.steps=2", f"out_dir={tmp_path}")
    full = run_job(cfg)
    with pytest.raises(SystemExit) as ok:
        verify_main([str(tmp_path)])
    assert ok.value.code == 0
    store = RunStore(run_dir_of(cfg))
    mask = store.paths.mask(2)
    mask.write_bytes(mask.read_bytes()[:50])
    capsys.readouterr()
    with pytest.raises(SystemExit) as bad:
        verify_main([str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert bad.value.code == 1 and out == [f"{mask}: checksum mismatch (truncated or modified)"]
    again = run_job(cfg)
    assert str(mask) in capsys.readouterr().err
    assert again[1]["wall_time"] == full[1]["wall_time"], "the good steps are kept"
    assert results(again) == results(full)


def test_a_malformed_status_or_an_empty_lock_file_does_not_block_the_run(tmp_path: Path):
    cfg = compose(*SMALL, "pruner.sparsity=0.5", f"out_dir={tmp_path}")
    store = RunStore(run_dir_of(cfg))
    store.dir.mkdir(parents=True)
    store.paths.status.write_text("{not json")
    store.paths.lock.write_bytes(b"")  # left by a full disk, or by a dead process
    records = run_job(cfg)
    assert [r["step"] for r in records] == [0, 1] and store.status()["status"] == "finished"


def test_a_held_lock_keeps_a_second_process_out(tmp_path: Path, capsys):
    cfg = compose(*SMALL, "pruner.sparsity=0.5", f"out_dir={tmp_path}")
    store = RunStore(run_dir_of(cfg))
    store.dir.mkdir(parents=True)
    with FileLock(store.paths.lock, timeout=0):
        assert run_job(cfg) == []
        assert "holds the run's lock" in capsys.readouterr().out
    assert [r["step"] for r in run_job(cfg)] == [0, 1], "released when its holder lets go (or dies)"


def default_signals() -> None:
    """The job's own signal handling, also when the tests run in the background (SIGINT ignored there)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_is_one_line_marks_the_run_and_the_same_command_resumes(sig, code, tmp_path: Path):
    args = [*SMALL, "pruner=lottery", "pruner.steps=3", "trainer.epochs=6", f"out_dir={tmp_path}"]
    cfg = compose(*args)
    store = RunStore(run_dir_of(cfg))
    proc = subprocess.Popen([sys.executable, "-m", "repro.run", *args], cwd=REPO, env=cli_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signals)  # fmt: skip
    while not store.records() and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == code
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted after step" in lines[0], lines
    assert store.status()["status"] == "interrupted"
    resumed = run_job(cfg)
    assert [r["step"] for r in resumed] == [0, 1, 2, 3]
    assert results(resumed) == results(run_job(compose(*args[:-1], f"out_dir={tmp_path / 'ref'}")))


def test_result_files_follow_the_umask_so_a_group_can_read_them(tmp_path: Path):
    old = os.umask(0o022)
    try:
        cfg = compose(*SMALL, "pruner.sparsity=0.5", f"out_dir={tmp_path}")
        run_job(cfg)
    finally:
        os.umask(old)
    store = RunStore(run_dir_of(cfg))
    for path in (store.paths.records, store.paths.config, store.paths.checkpoint(1), store.paths.mask(1)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_a_full_disk_is_one_line_naming_out_dir(tmp_path: Path, capsys, monkeypatch):
    import repro.store.files as files

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(SystemExit) as exit_info:
        run_main([*SMALL, "pruner.sparsity=0.5", f"out_dir={tmp_path}"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_info.value.code == 2
    assert len(err) == 1 and err[0].startswith(f"error: out_dir='{tmp_path}' is invalid: cannot write"), err
    assert "No space left on device" in err[0]
