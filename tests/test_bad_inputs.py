"""Every bad input stops before the first job: one line naming the key and the value, exit 2, nothing left.

Each case runs the real entry point (``repro.run.main``) in-process; the table is the contract.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from repro.run import main as run_main
from repro.sweep import main as sweep_main
from tests.conftest import SHARED_DATA


class Evil:
    def __reduce__(self):
        return (os.system, ("echo owned",))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    shapes = {"fc1.weight": (128, 64), "fc1.bias": (128,), "fc2.weight": (256, 128), "fc2.bias": (256,),
              "fc3.weight": (5, 256), "fc3.bias": (5,)}  # fmt: skip
    state = {k: torch.zeros(v) for k, v in shapes.items()}  # a 5-class checkpoint for 10 classes
    torch.save(state, tmp_path / "five.pt")
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"fc1.weight": Evil()}, f)
    (tmp_path / "empty").mkdir()
    (tmp_path / "a_file").write_text("not a folder")
    cut = tmp_path / "cut" / "MNIST" / "raw"
    if (SHARED_DATA / "MNIST" / "raw").is_dir():
        shutil.copytree(SHARED_DATA / "MNIST" / "raw", cut)
        images = cut / "t10k-images-idx3-ubyte"
        images.write_bytes(images.read_bytes()[:5000])
    names = {"five": "five.pt", "evil": "evil.pt", "empty": "empty", "file": "a_file", "cut": "cut"}
    return {k: str(tmp_path / v) for k, v in names.items()}


BAD = [
    # groups and options
    (["model=resnet1800"], "model='resnet1800' is invalid: allowed: "),
    (["logger=slack"], "logger='slack' is invalid: allowed: none, wandb"),
    (["pruner=lotery"], "pruner='lotery' is invalid: allowed: "),
    (["experiment=sap/nope"], "experiment='sap/nope' is invalid"),
    # keys that do not exist
    (["trainer.epoch=3"], "trainer.epoch=3 is invalid: no such key, did you mean trainer.epochs?"),
    (["+trainer.foo=1"], "+trainer.foo=1 is invalid: no such key"),
    (["+foo=1"], "+foo=1 is invalid: no such key"),
    (["model.hiddn=[3]"], "model.hiddn=[3] is invalid: no such key, did you mean model.hidden?"),
    # types and ranges
    (["seed=abc"], "seed='abc' is invalid: must be an integer"),
    (["seed=1.5"], "seed=1.5 is invalid: must be an integer"),
    (["seed=20000000000"], "seed=20000000000 is invalid: must be an integer"),
    (["seed=-1"], "seed=-1 is invalid"),
    (["trainer.epochs=-1"], "trainer.epochs=-1 is invalid: must be in [0"),
    (["trainer.epochs=abc"], "trainer.epochs=abc is invalid"),
    (["trainer.lr=0"], "trainer.lr=0.0 is invalid"),
    (["trainer.lr=inf"], "trainer.lr=inf is invalid: must be a finite number"),
    (["trainer.lr=nan"], "trainer.lr=nan is invalid: must be a finite number"),
    (["trainer.lr=abc"], "trainer.lr=abc is invalid"),
    (["trainer.momentum=1.0"], "trainer.momentum=1.0 is invalid"),
    (["trainer.weight_decay=-1"], "trainer.weight_decay=-1.0 is invalid"),
    (["trainer.batch_size=0"], "trainer.batch_size=0 is invalid"),
    (["trainer.optimizer=lbfgs"], "trainer.optimizer='lbfgs' is invalid: allowed: sgd, adam"),
    (["trainer.schedule=linear"], "trainer.schedule='linear' is invalid: allowed: constant, cosine"),
    (["trainer.gamma=0"], "trainer.gamma=0.0 is invalid"),
    (["trainer.grad_clip=0"], "trainer.grad_clip=0.0 is invalid"),
    (["trainer.max_batches=0"], "trainer.max_batches=0 is invalid"),
    (["trainer.num_threads=0"], "trainer.num_threads=0 is invalid"),
    (["trainer.iterations=0"], "trainer.iterations=0 is invalid"),
    (["trainer.eval_every=100"], "trainer.eval_every=100 is invalid: needs dataset.val_size > 0"),
    (["trainer.device=tpu"], "trainer.device='tpu' is invalid: allowed: auto, cpu, cuda"),
    (["dataset.crop_padding=-2"], "dataset.crop_padding=-2 is invalid"),
    (["dataset.pad_mode=wrap"], "dataset.pad_mode='wrap' is invalid: allowed: constant, reflect"),
    (["dataset.image_size=0"], "dataset.image_size=0 is invalid"),
    (["dataset.train_subset=0"], "dataset.train_subset=0 is invalid"),
    (["dataset.val_size=5000"], "dataset.val_size=5000 is invalid: must be smaller than the"),
    (["model.input_size=0"], "image_size=0 is invalid"),
    (["model.hidden=[0]"], "model.hidden[0]=0 is invalid"),
    (["model.init=he"], "model.init='he' is invalid: allowed: default, glorot_normal"),
    (["model.checkpoint=[1,2]"], "model.checkpoint=[1,2] is invalid"),
    (["entropy.names=[egpp]"], "entropy.names[0]='egpp' is invalid: allowed: egp, psp"),
    (["entropy.split=val"], "entropy.split='val' is invalid: allowed: train, test"),
    (["entropy.latency_batch=0"], "entropy.latency_batch=0 is invalid"),
    (["analysis=sharpness", "analysis.names=[curvature]"], "analysis.names[0]='curvature' is invalid"),
    (["analysis=sharpness", "analysis.points_1d=1"], "analysis.points_1d=1 is invalid"),
    (["analysis=sharpness", "analysis.radius=0"], "analysis.radius=0.0 is invalid"),
    (["analysis=sharpness", "analysis.split=val"], "analysis.split='val' is invalid: needs dataset.val_size"),
    (["logger.mode=sometimes"], "logger.mode='sometimes' is invalid"),
    (["control=reinit", "control.reinit_steps=[0]"], "control.reinit_steps[0]=0 is invalid"),
    # pruners
    (["pruner.sparsity=1.0"], "pruner.sparsity=1.0 is invalid"),
    (["pruner.sparsity=1.5"], "pruner.sparsity=1.5 is invalid"),
    (["pruner.steps=-1"], "pruner.steps=-1 is invalid"),
    (["pruner.scope=filter"], "pruner.scope='filter' is invalid"),
    (["pruner.rewind=back"], "pruner.rewind='back' is invalid"),
    (["pruner.prunable=[attention]"], "pruner.prunable[0]='attention' is invalid"),
    (["pruner=lottery", "pruner.rate=1.0"], "pruner.rate=1.0 is invalid"),
    (["pruner=sap", "pruner.p=1.5"], "pruner.q=1.0 is invalid"),
    (["pruner=sap", "pruner.beta=1.5"], "pruner.beta=1.5 is invalid"),
    (["pruner=sap", "pruner.eta=-1"], "pruner.eta=-1.0 is invalid"),
    (["pruner=egp", "pruner.scope=global"], "pruner.scope='global' is invalid"),
    (["pruner=egp", "pruner.estimator=median"], "pruner.estimator='median' is invalid"),
    (["pruner=gradual", "pruner.end_fraction=0"], "pruner.end_fraction=0.0 is invalid"),
    (["pruner=lobster"], "dataset.val_size=0 is invalid"),
    # files, targets, data, places
    (["dataset=mnist", "dataset.root={empty}"], "dataset.root="),
    (["dataset=mnist", "dataset.root={cut}"], "fails its MD5SUMS checksum"),
    (["model.checkpoint={five}"], "model.checkpoint="),
    (["model.checkpoint={evil}"], "refused to load it as plain tensors"),
    (["pruner.prunable=[conv]"], "pruner.prunable=['conv'] is invalid: model mlp has no such layer"),
    (["pruner._target_=os.system"], "pruner._target_='os.system' is invalid: _target_ must be inside"),
    (["model._target_=repro.models.nothing.Here"], "model._target_='repro.models.nothing.Here' is invalid"),
    (["out_dir={file}"], "out_dir="),
    (["model.name=../../escape"], "model.name='../../escape' is invalid"),
    (["sweep_name=../x"], "sweep_name='../x' is invalid"),
    # a bad value in the second job of a sweep stops the first one too
    (["-m", "pruner.sparsity=0.5,2"], "pruner.sparsity=2.0 is invalid"),
    (["-m", "dataset=digits,mnist", "dataset.root={empty}"], "dataset.root="),
    (["-m", "pruner._target_=repro.pruning.nothing.X,os.system"], "pruner._target_="),
]


@pytest.mark.parametrize(("args", "needle"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_stops_before_anything_runs(args, needle, files, tmp_path: Path, capsys, monkeypatch):
    if "{cut}" in " ".join(args) and not Path(files["cut"]).exists():
        pytest.skip("real MNIST not available")
    monkeypatch.chdir(tmp_path)  # Hydra's own folders would land here
    out = tmp_path / "out"
    args = [a.format(**files) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        run_main(["model=mlp", "dataset=digits", "logger=none", f"out_dir={out}", *args])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_info.value.code == 2, err
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert needle.format(**files) in err[0], err[0]
    assert not out.exists(), "nothing may be left behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "cut", "empty", "evil.pt", "five.pt"]


@pytest.mark.parametrize(("text", "needle"), [
    ("", "it sets no overrides and no params"),
    ("overrides: []\nparams: {}\n", "it sets no overrides and no params"),
    ("overides: [model=mlp]\n", "unknown top-level keys ['overides']"),
])  # fmt: skip
def test_a_bad_sweep_file_fails_in_one_line(text: str, needle: str, tmp_path: Path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        sweep_main([str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and needle in err[0], err


def test_the_table_is_large_enough() -> None:
    assert len(BAD) >= 50
