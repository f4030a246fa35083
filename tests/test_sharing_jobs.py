"""A job's W&B run and its pruned model shared: read back from the offline run files and from plain torch.

One real job (LeNet-300-100 on digits, one-shot to 90 %, depth check on, W&B offline) is run and exported
once; the tests read what it logged and load what it exported without the suite.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from repro.export import main as export_main
from repro.run import run_dir_of, run_job
from repro.sharing.forms import load_step, program_bytes
from repro.store import RunReader
from tests.conftest import compose
from tests.test_depth import forced_resnet
from tests.wandb_files import OfflineRun, offline_runs

JOB = [
    "model=lenet300",
    "dataset=digits",
    "pruner=oneshot",
    "pruner.sparsity=0.9",
    "trainer.dense_epochs=1",
    "trainer.epochs=1",
    "entropy=egp",
    "logger=wandb",
]


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("job")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WANDB_MODE", "offline")
        env.setenv("WANDB_SILENT", "true")
        env.setenv("WANDB_DIR", str(root / "wandb"))
        env.delenv("WANDB_API_KEY", raising=False)
        cfg = compose(*JOB, f"out_dir={root / 'out'}")
        run_job(cfg)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            export_main([str(run_dir_of(cfg))])
    runs = {r.job_type: r for r in offline_runs(root / "wandb")}
    return SimpleNamespace(dir=run_dir_of(cfg), printed=out.getvalue(), job=runs["oneshot"], runs=runs)


def test_steps_and_epochs_have_their_own_axes(job: SimpleNamespace) -> None:
    run: OfflineRun = job.job
    assert run.metrics["test_acc"] == "step" and run.metrics["sparsity"] == "step"
    assert run.metrics["train/*"] == "epoch"
    steps = [row for row in run.history if "test_acc" in row]
    assert [row["step"] for row in steps] == [0, 1]
    epochs = [row for row in run.history if "train/train_loss" in row]
    assert [row["epoch"] for row in epochs] == [1, 2]  # counted over the run: dense epoch, then retraining
    assert [row["step"] for row in epochs] == [0, 1]


def test_summary_is_the_final_record_and_config_is_flat(job: SimpleNamespace) -> None:
    run, last = job.job, RunReader(job.dir).records()[-1]
    for key in ("step", "test_acc", "sparsity", "method", "egp_removed_layers"):
        assert run.summary[key] == pytest.approx(last[key]), key
    assert run.summary["layer_sparsity"] == pytest.approx(last["layer_sparsity"])
    assert run.config["pruner.name"] == "oneshot" and run.config["pruner.sparsity"] == 0.9
    assert run.config["model.name"] == "lenet300" and "pruner" not in run.config
    assert run.config["method"] == last["method"]  # what the dashboards group by


def test_per_layer_arrays_of_each_step_are_tables(job: SimpleNamespace) -> None:
    run = job.job
    rows = [row for row in run.history if "layers/_type" in row]
    assert [row["step"] for row in rows] == [0, 1]
    table = run.table(rows[-1], "layers")
    columns = table["columns"]
    assert {"step", "layer", "sparsity", "pqi", "egp_entropy"} <= set(columns)
    assert {"egp_off", "egp_on", "egp_mixed"} <= set(columns)
    data = {row[columns.index("layer")]: dict(zip(columns, row)) for row in table["data"]}
    last = RunReader(job.dir).records()[-1]
    assert set(data) == set(last["layer_sparsity"])  # fc1, fc2, fc3
    for layer, sparsity in last["layer_sparsity"].items():
        assert data[layer]["sparsity"] == pytest.approx(sparsity)
        assert data[layer]["pqi"] == pytest.approx(last["layer_pqi"][layer])
    metrics = RunReader(job.dir).artifact("metrics", 1)
    assert data["fc1"]["egp_mixed"] == metrics["egp/mixed"]["fc1"]


def test_sparse_file_is_3x_smaller_and_both_forms_load_without_the_suite(
    job: SimpleNamespace, tmp_path: Path
) -> None:
    paths = RunReader(job.dir).paths
    sparse, shallow = paths.export(1, "sparse"), paths.export(1, "shallow")
    ratio = paths.checkpoint(1).stat().st_size / sparse.stat().st_size
    assert ratio >= 3, f"the sparse file is only {ratio:.2f}x smaller than the dense one"
    at = load_step(job.dir)
    x = torch.cat([images for images, _ in at.batches.test()])
    torch.save(x, tmp_path / "x.pt")
    script = f"""
import sys
sys.modules["repro"] = None  # nothing of the suite may be needed
import torch
x = torch.load({str(tmp_path / "x.pt")!r})
blob = torch.load({str(sparse)!r}, weights_only=True)
state = {{k: v.to_dense().reshape(blob["shapes"][k]) if k in blob["shapes"] else v
          for k, v in blob["state"].items()}}
program = torch.export.load({str(shallow)!r}).module()
torch.save({{"state": state, "logits": program(x)}}, {str(tmp_path / "out.pt")!r})
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    out = torch.load(tmp_path / "out.pt", weights_only=True)
    with torch.no_grad():
        reference = at.job.model(x)
        at.job.model.load_state_dict(out["state"])
        assert (at.job.model(x) - reference).abs().max() <= 1e-5
    assert (out["logits"] - reference).abs().max() <= 1e-5
    for form in ("dense", "sparse", "sparse-csr", "shallow", "x smaller", "latency_ms"):
        assert form in job.printed


def test_exported_files_are_a_wandb_model_artifact(job: SimpleNamespace) -> None:
    export = job.runs["export"]
    assert export.group == "default" and export.config["step"] == 1
    kind, files = export.artifacts[f"{job.dir.name}-step1"]
    assert kind == "model" and sorted(files) == ["step_1_shallow.pt2", "step_1_sparse.pt"]
    assert export.summary["sparse"]["bytes"] < export.summary["dense"]["bytes"] / 3


def test_a_shallow_network_with_gates_exports_with_a_free_batch_size() -> None:
    from repro.metrics.depth_check import shallow_of

    model = forced_resnet()
    x = torch.randn(24, 3, 32, 32)
    shallow, changes, _probe, _rectified = shallow_of(model, [(x, None)], x)
    assert changes["gates"] and changes["zero_fed"]
    program = torch.export.load(io.BytesIO(program_bytes(shallow, x))).module()
    fresh = torch.randn(7, 3, 32, 32)
    with torch.no_grad():
        assert (program(fresh) - model(fresh)).abs().max() <= 1e-5


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--step", "7"], "error: --step=7 is invalid: the run recorded steps 0, 1"),
        (["--format", "dense"], "error: --format=dense is invalid: allowed: sparse, shallow"),
    ],
)
def test_bad_export_input_fails_in_one_line(
    job: SimpleNamespace, capsys: pytest.CaptureFixture, args: list[str], needle: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        export_main([str(job.dir), *args])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err == needle


def test_a_folder_without_a_run_fails_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        export_main([str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.startswith(f"error: RUN_DIR='{tmp_path}' is invalid")
    assert not any(tmp_path.iterdir()), "nothing is written for a bad input"
