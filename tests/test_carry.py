"""A run carried as a light copy to a fresh ``out_dir`` goes on with the numbers of an uninterrupted run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from repro.carry import main as carry_main
from repro.run import run_dir_of, run_job
from repro.store import RunStore, read_json
from repro.store.verify import artifact_files, verify_run
from tests.conftest import compose

SMALL = ["model=mlp", "model.hidden=[32]", "dataset=digits", "logger=none", "trainer.num_threads=1",
         "trainer.epochs=2", "trainer.dense_epochs=2", "pruner.steps=4"]  # fmt: skip
KEYS = ("step", "sparsity", "test_acc", "pruned_test_acc", "checkpoint_sha256", "mask_sha256", "best_sha256")


def results(records: list[dict]) -> list[dict]:
    return [{k: r.get(k) for k in KEYS} for r in records]


def interrupted_copy(finished: Path, out_dir: Path, after: int) -> Path:
    """The run as a machine left it when it stopped after step ``after``."""
    run = out_dir / "runs" / finished.name
    shutil.copytree(finished, run)
    store = RunStore(run)
    store.truncate_after(after)
    store.set_status("running", step=after + 1)
    for late in range(after + 1, 5):
        for path in (run / "checkpoints").glob(f"step_{late}_*.pt"):
            path.unlink()
        (run / "masks" / f"step_{late}.pt").unlink()
    return run


def carried_files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*.pt"))


def assert_artifacts_travel(light: Path) -> None:
    """Every step's artifacts (what the tables and figures read) are in the copy and verified there."""
    store = RunStore(light)
    artifacts = [artifact_files(store.paths, r) for r in store.records()]
    assert all(artifacts) and all(path.exists() for files in artifacts for path, _ in files)
    path = artifacts[1][0][0]  # a step whose weights stayed behind: its artifact is still checked
    kept = path.read_bytes()
    path.write_bytes(kept[: len(kept) // 2])
    assert any("checksum mismatch" in p for p in verify_run(store))
    path.write_bytes(kept)


@pytest.mark.parametrize("pruner", ["lottery", "oneshot_rewind"])
def test_a_carried_run_resumes_elsewhere_with_the_uninterrupted_numbers(pruner: str, tmp_path: Path):
    """Iterative (last step's weights) and one-shot from the dense weights (step 0's): bitwise equal."""
    reference = run_job(compose(*SMALL, f"pruner={pruner}", f"out_dir={tmp_path / 'a'}"))
    finished = run_dir_of(compose(*SMALL, f"pruner={pruner}", f"out_dir={tmp_path / 'a'}"))
    stopped = interrupted_copy(finished, tmp_path / "b", after=2)

    with pytest.raises(SystemExit) as out:
        carry_main([str(stopped.parent), "--to", str(tmp_path / "records")])
    assert out.value.code == 0
    light = tmp_path / "records" / stopped.name
    assert carried_files(light) == [
        "checkpoints/step_0_best.pt", "checkpoints/step_0_last.pt", "checkpoints/step_2_best.pt",
        "checkpoints/step_2_last.pt", "init.pt", "masks/step_0.pt", "masks/step_2.pt",
    ]  # fmt: skip
    assert read_json(light / "carried.json") == {"left_out": [1], "artifacts": "all"}
    assert verify_run(RunStore(light)) == [], "steps kept as records only are not damage"
    assert_artifacts_travel(light)

    fresh = tmp_path / "fresh"
    with pytest.raises(SystemExit) as back:
        carry_main([str(light), "--to", str(fresh / "runs")])
    assert back.value.code == 0
    resumed = run_job(compose(*SMALL, f"pruner={pruner}", f"out_dir={fresh}"))
    assert [r["step"] for r in resumed] == [0, 1, 2, 3, 4]
    assert results(resumed) == results(reference)
    assert verify_run(RunStore(fresh / "runs" / stopped.name)) == []


def test_a_finished_run_travels_as_records_and_is_not_run_again(tmp_path: Path, capsys):
    cfg = compose(*SMALL, "pruner=lottery", f"out_dir={tmp_path / 'a'}")
    reference = run_job(cfg)
    with pytest.raises(SystemExit):
        carry_main([str(run_dir_of(cfg)), "--to", str(tmp_path / "b" / "runs")])
    light = tmp_path / "b" / "runs" / run_dir_of(cfg).name
    assert carried_files(light) == []
    assert read_json(light / "carried.json") == {"left_out": [0, 1, 2, 3, 4], "artifacts": "all"}
    assert_artifacts_travel(light)
    again = run_job(compose(*SMALL, "pruner=lottery", f"out_dir={tmp_path / 'b'}"))
    assert "skip" in capsys.readouterr().out
    assert results(again) == results(reference)


def test_a_copy_never_replaces_a_run_further_along(tmp_path: Path, capsys):
    cfg = compose(*SMALL, "pruner=lottery", f"out_dir={tmp_path / 'a'}")
    run_job(cfg)
    stopped = interrupted_copy(run_dir_of(cfg), tmp_path / "b", after=1)
    with pytest.raises(SystemExit) as out:
        carry_main([str(stopped), "--to", str(run_dir_of(cfg).parent)])
    assert out.value.code == 1
    assert "has more recorded steps" in capsys.readouterr().err
    assert len(RunStore(run_dir_of(cfg)).records()) == 5


def test_a_folder_without_runs_is_refused_in_one_line(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as out:
        carry_main([str(tmp_path), "--to", str(tmp_path / "x")])
    assert out.value.code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_a_damaged_run_is_not_carried(tmp_path: Path, capsys):
    cfg = compose(*SMALL, "pruner=lottery", f"out_dir={tmp_path / 'a'}")
    run_job(cfg)
    stopped = interrupted_copy(run_dir_of(cfg), tmp_path / "b", after=2)
    last = stopped / "checkpoints" / "step_2_last.pt"
    last.write_bytes(last.read_bytes()[:100])
    with pytest.raises(SystemExit) as out:
        carry_main([str(stopped), "--to", str(tmp_path / "records")])
    assert out.value.code == 1
    assert "checksum mismatch" in capsys.readouterr().err
    assert not (tmp_path / "records" / stopped.name).exists(), "no half copy is left"
