"""The prune-retrain loop on real data: accuracy, sparsity, rewinding, resume and identity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from repro.loop.job import build_job
from repro.loop.state import rewind
from repro.run import run_dir_of, run_job
from repro.store import RunStore, identity
from tests.conftest import compose


def test_lenet300_on_real_mnist_prunes_to_90_percent_and_keeps_accuracy(mnist_root: Path, tmp_path: Path):
    cfg = compose(
        "experiment=mnist_lenet300", f"dataset.root={mnist_root}", f"out_dir={tmp_path}", "logger=none"
    )
    records = run_job(cfg)
    dense, pruned = records
    assert dense["step"] == 0 and dense["sparsity"] == 0.0
    assert dense["test_acc"] >= 0.97
    assert pruned["sparsity"] == pytest.approx(0.9, abs=1e-3)
    assert pruned["test_acc"] >= 0.96
    # the sparsity over all parameters counts biases as dense, so it is a little lower
    assert 0.89 < pruned["sparsity_all"] < pruned["sparsity"]
    masks = torch.load(run_dir_of(cfg) / "masks" / "step_1.pt", weights_only=True)
    state = torch.load(run_dir_of(cfg) / "checkpoints" / "step_1_last.pt", weights_only=True)
    for name, keep in masks.items():
        assert (state[f"{name}.weight"][~keep] == 0).all(), "pruned weights drifted away from zero"


def test_rewind_restores_initial_values_of_survivors_only():
    cfg = compose("model=mlp", "dataset=digits", "pruner=lottery")
    job = build_job(cfg)
    init = {k: v.clone() for k, v in job.model.state_dict().items()}
    with torch.no_grad():
        for p in job.model.parameters():
            p.add_(1.0)
    job.pruner.prune(job.masks, None)
    rewind(job.model, init, job.masks)
    for name in job.masks:
        w, keep = job.masks.weight(name), job.masks[name]
        assert torch.equal(w[keep], init[f"{name}.weight"][keep])
        assert (w[~keep] == 0).all()
    assert torch.equal(job.model.fc1.bias, init["fc1.bias"])


def test_resume_recomputes_only_unfinished_steps_and_matches(tmp_path: Path):
    cfg = compose(
        "model=mlp",
        "dataset=digits",
        "pruner=lottery",
        "pruner.steps=2",
        f"out_dir={tmp_path}",
        "logger=none",
        "trainer.dense_epochs=1",
    )
    full = run_job(cfg)
    store = RunStore(run_dir_of(cfg))
    # simulate a kill during step 2: its record is not written yet and the run is marked running
    lines = store.records_path.read_text().splitlines()
    store.records_path.write_text("\n".join(lines[:2]) + "\n")
    store.set_status("running")
    resumed = run_job(cfg)
    assert [r["step"] for r in resumed] == [0, 1, 2]
    assert resumed[1]["wall_time"] == full[1]["wall_time"], "a finished step was recomputed"
    for key in ("test_acc", "test_loss", "sparsity"):
        assert resumed[2][key] == full[2][key]


def test_finished_run_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture):
    cfg = compose(
        "model=linear", "dataset=digits", "pruner.sparsity=0.5", f"out_dir={tmp_path}", "logger=none"
    )
    first = run_job(cfg)
    mtime = (run_dir_of(cfg) / "records.jsonl").stat().st_mtime_ns
    assert run_job(cfg) == first
    assert (run_dir_of(cfg) / "records.jsonl").stat().st_mtime_ns == mtime
    assert "skip" in capsys.readouterr().out


def test_identity_ignores_paths_and_logger_but_not_seed():
    a = compose("out_dir=/a", "logger=none")
    b = compose("out_dir=/b", "logger=wandb", "dataset.root=/elsewhere")
    c = compose("seed=1")
    assert identity(a) == identity(b) != identity(c)
    assert run_dir_of(a).name.startswith("resnet18-digits-oneshot-s0-")


def test_dense_training_is_shared_between_pruners(tmp_path: Path):
    common = ("model=linear", "dataset=digits", f"out_dir={tmp_path}", "logger=none")
    one = run_job(compose(*common, "pruner=oneshot"))
    two = run_job(compose(*common, "pruner=imp", "pruner.steps=1"))
    assert len(list((tmp_path / "dense").glob("*.pt"))) == 1
    assert one[0]["test_acc"] == two[0]["test_acc"]


def test_the_dense_start_depends_on_the_step_length_only_through_the_dense_epochs():
    """The rule the aggregator pairs runs by (``repro.reports.settings.dense_keys``): a longer pruning step
    keeps the dense model when ``trainer.dense_epochs`` is pinned, and changes it when it is not."""
    from repro.loop.dense import dense_key

    common = ("model=linear", "dataset=digits")
    pinned = [dense_key(compose(*common, "trainer.dense_epochs=3", f"trainer.epochs={n}")) for n in (2, 9)]
    free = [dense_key(compose(*common, "trainer.dense_epochs=null", f"trainer.epochs={n}")) for n in (3, 9)]
    assert pinned[0] == pinned[1] == free[0] != free[1]


def test_records_are_json_lines_with_the_contract_fields(tmp_path: Path):
    cfg = compose("model=linear", "dataset=digits", f"out_dir={tmp_path}", "logger=none")
    run_job(cfg)
    for line in (run_dir_of(cfg) / "records.jsonl").read_text().splitlines():
        rec = json.loads(line)
        for key in ("step", "sparsity", "test_acc", "test_loss", "layer_sparsity", "wall_time"):
            assert key in rec
        assert 0.0 <= rec["sparsity"] <= 1.0 and 0.0 <= rec["test_acc"] <= 1.0


def test_entropy_list_selects_every_metric():
    from repro.run import expand_metric_lists

    argv = expand_metric_lists(["model=lenet300", "entropy=[egp,psp]"])
    assert argv[-1] == "entropy.names=[egp,psp]"
    assert list(compose(*argv).entropy.names) == ["egp", "psp"]


def test_one_probe_pass_per_step_serves_the_record_and_the_next_prune(tmp_path: Path, monkeypatch):
    """EGP needs entropy on the training data before each prune; the pass after the previous step measured
    exactly that, so it is reused, and reusing gives what a fresh pass (as after a resume) would."""
    from repro.loop.probing import Prober

    args = ("model=resnet18", "model.width=4", "model.input_size=8", "dataset=digits", "pruner=egp",
            "pruner.steps=2", "entropy=egp", "entropy.depth=false", "logger=none")  # fmt: skip
    calls: list[list[str]] = []
    probe = Prober.measure
    monkeypatch.setattr(
        Prober, "measure", lambda self, names, b: calls.append(names) or probe(self, names, b)
    )
    reused = run_job(compose(*args, f"out_dir={tmp_path / 'a'}"))
    assert len(calls) == 3, "steps 0, 1, 2 each take one pass; the prunes of steps 1 and 2 reuse them"

    monkeypatch.setattr(Prober, "remember", lambda self, step, results: None)  # as after a resume
    fresh = run_job(compose(*args, f"out_dir={tmp_path / 'b'}"))
    assert len(calls) == 3 + 5
    assert [r["checkpoint_sha256"] for r in reused] == [r["checkpoint_sha256"] for r in fresh]
    assert reused[-1]["sparsity"] > reused[1]["sparsity"] > 0
