"""A shared sweep file or preset cannot leak a secret, write outside out_dir, or lift the _target_ allow-list.

The secret is a fake W&B key put into the environment; after each refused command every byte and every file
name under the test's folder (out_dir and WANDB_DIR) is searched for it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

import repro.precheck
import repro.security
from repro.errors import ConfigError
from repro.loggers import make_logger
from repro.precheck import precheck
from repro.run import main as run_main
from repro.run import run_dir_of, run_job
from repro.security import permit_any_target
from repro.store import atomic_write
from repro.sweep import main as sweep_main
from repro.sweep import sweep_argv
from tests.conftest import REPO, cli_env, compose

KEY = "fakewandbkey0123456789abcdef0123456789ab"  # 40 characters, like a real W&B key
ENV_KEY = "${oc.env:WANDB_API_KEY}"
TINY = [
    "model=mlp",
    "dataset=digits",
    "trainer.dense_epochs=1",
    "trainer.epochs=1",
    "trainer.max_batches=2",
    "pruner.steps=1",
]


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WANDB_API_KEY", KEY)
    return KEY


def everything_under(root: Path) -> list[Path]:
    return [Path(d) / n for d, dirs, files in os.walk(root) for n in [*dirs, *files]]


def leaks(root: Path, secret: str = KEY) -> list[str]:
    """Files under ``root`` whose name or bytes hold ``secret``."""
    return [
        str(p)
        for p in everything_under(root)
        if secret in p.name or (p.is_file() and not p.is_symlink() and secret.encode() in p.read_bytes())
    ]


def refused(capsys: pytest.CaptureFixture[str], main, argv: list[str]) -> str:
    """Run an entry point in-process; it must exit 2 with one ``error:`` line on stderr, returned."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert KEY not in err[0]
    return err[0]


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**cli_env(tmp_path), "WANDB_API_KEY": KEY}
    return subprocess.run(
        [sys.executable, "-m", "repro.run", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def presets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of conf/ whose experiment/ gains the shared presets; precheck composes from it."""
    conf = tmp_path / "conf"
    shutil.copytree(repro.precheck.CONF_DIR, conf)
    (conf / "experiment" / "shared_env.yaml").write_text(f"# @package _global_\nsweep_name: {ENV_KEY}\n")
    (conf / "experiment" / "shared_any.yaml").write_text("# @package _global_\nallow_any_target: true\n")
    monkeypatch.setattr(repro.precheck, "CONF_DIR", conf)
    return conf


# --------------------------------------------------------------------------- 1. secrets


def test_cli_oc_env_override_is_refused_and_the_key_is_written_nowhere(tmp_path: Path):
    result = cli(tmp_path, *TINY, f"sweep_name={ENV_KEY}", "logger=wandb", f"out_dir={tmp_path / 'out'}")
    assert result.returncode == 2, result.stdout + result.stderr
    err = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("error: sweep_name='${oc.env:WANDB_API_KEY}' is invalid: oc.env may only read")
    assert KEY not in result.stdout + result.stderr
    assert everything_under(tmp_path) == [], "nothing may be written: no run, no Hydra folder, no W&B run"


def test_cli_run_with_the_key_in_its_environment_writes_it_nowhere(tmp_path: Path):
    result = cli(tmp_path, *TINY, "logger=wandb", f"out_dir={tmp_path / 'out'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert list((tmp_path / "wandb").glob("wandb/offline-run-*/run-*.wandb")), "the W&B run was written"
    assert list((tmp_path / "out" / "runs").glob("*/config.yaml"))
    assert leaks(tmp_path) == []


@pytest.mark.parametrize(
    ("override", "named"),
    [
        (f"sweep_name={ENV_KEY}", "sweep_name="),
        (f"model.name={ENV_KEY}", "model.name="),
        (f"logger.tags=[{ENV_KEY}]", "logger.tags[0]="),
        (f"logger.entity={ENV_KEY}", "logger.entity="),
        (f"logger.entity={KEY}", "logger.entity=<the value of $WANDB_API_KEY>"),
        (f"+note={ENV_KEY}", "+note="),  # not a key at all: refused before anything resolves it
    ],
)
def test_key_in_any_string_override_is_refused(key, tmp_path: Path, capsys, override: str, named: str):
    err = refused(capsys, run_main, [*TINY, "logger=wandb", f"out_dir={tmp_path / 'out'}", override])
    assert err.startswith(f"error: {named}"), err
    assert everything_under(tmp_path) == []


def test_key_in_a_sweep_file_is_refused_and_written_nowhere(key, tmp_path: Path, capsys):
    sweep = tmp_path / "in" / "shared.yaml"
    sweep.parent.mkdir()
    sweep.write_text(
        "overrides:\n"
        + "".join(f"  - {o}\n" for o in [*TINY, "logger=wandb", f"'logger.entity={ENV_KEY}'"])
        + "params:\n  seed: 0,1\n"
    )
    argv = sweep_argv(sweep, [])
    assert f"logger.entity={ENV_KEY}" in argv, "${...} reaches precheck as written"
    assert KEY not in " ".join(argv)
    err = refused(capsys, sweep_main, [str(sweep), f"out_dir={tmp_path / 'out'}"])
    assert err.startswith("error: logger.entity='${oc.env:WANDB_API_KEY}' is invalid: oc.env"), err
    assert [p.name for p in everything_under(tmp_path)] == ["in", "shared.yaml"]


def test_escaped_interpolation_of_a_sweep_file_still_reaches_the_job():
    assert "pruner.name=sap_eta${pruner.eta}" in sweep_argv(REPO / "sweeps" / "sap_ablation_eta.yaml", [])


def test_key_in_a_preset_is_refused_and_written_nowhere(key, presets: Path, tmp_path: Path):
    with pytest.raises(ConfigError, match=r"^sweep_name='\$\{oc.env:WANDB_API_KEY\}' is invalid: oc.env"):
        run_job(compose("experiment=shared_env", *TINY, "logger=wandb", f"out_dir={tmp_path / 'out'}"))
    assert not (tmp_path / "out").exists() and not (tmp_path / "wandb").exists()
    assert leaks(tmp_path) == []


def test_oc_env_keeps_working_for_an_allow_listed_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    assert compose("model=mlp", "dataset.root=${oc.env:REPRO_DATA}/data").dataset.root == f"{tmp_path}/data"
    with pytest.raises(ConfigError, match="oc.env may only read"):
        compose("model=mlp", "sweep_name=${oc.env:REPRO_DATA}")  # an allowed variable, in a name key


def test_every_write_is_refused_when_it_holds_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-0123456789")
    monkeypatch.setenv("SHORT_KEY", "abc")  # too short to be told apart from ordinary text
    monkeypatch.setenv("MY_SETTING", "tok-0123456789-plain")  # not a secret-looking name
    path = tmp_path / "run" / "records.jsonl"
    with pytest.raises(ConfigError, match=r"^note=<the value of \$MY_SERVICE_TOKEN> is invalid: .*records"):
        atomic_write(path, (json.dumps({"step": 0, "note": "x tok-0123456789 y"}) + "\n").encode())
    assert everything_under(tmp_path) == [], "no file, no temporary file"
    atomic_write(path, b"abc step 0\n")
    assert path.read_bytes() == b"abc step 0\n"


def test_wandb_is_never_given_a_secret(key, tmp_path: Path):
    logger_cfg = compose("model=mlp", "logger=wandb").logger
    with pytest.raises(ConfigError, match=r"^config\.note=<the value of \$WANDB_API_KEY> is invalid"):
        make_logger(
            logger_cfg, name="r", job_type="p", group="g", tags=[], config={"note": KEY}, run_dir=tmp_path
        )
    assert everything_under(tmp_path) == [], "wandb.init never ran"


# --------------------------------------------------------------------------- 2. paths outside out_dir


@pytest.mark.parametrize(
    "args",
    [
        ["model.name=../../../escape"],
        ["pruner.name=../../../escape"],
        ["-m", "sweep_name=../../../x"],
    ],
)
def test_path_traversal_is_refused_and_nothing_is_written(tmp_path: Path, capsys, args: list[str]):
    out = tmp_path / "a" / "b" / "c" / "out"
    err = refused(capsys, run_main, [*args[:-1], *TINY, "logger=none", f"out_dir={out}", args[-1]])
    key, _, value = args[-1].partition("=")
    assert err.startswith(f"error: {key}={value!r} is invalid: it becomes part of a path under out_dir"), err
    assert everything_under(tmp_path) == []


def test_run_directory_outside_out_dir_is_refused(tmp_path: Path):
    parts = {"model": {"name": "../../m"}, "dataset": {"name": "d"}, "pruner": {"name": "p"}, "seed": 0}
    cfg = OmegaConf.create({"out_dir": str(tmp_path / "out"), **parts})
    with pytest.raises(ConfigError, match=r"^run_dir=.* is invalid: must lie inside out_dir="):
        run_dir_of(cfg)


# --------------------------------------------------------------------------- 3. allow_any_target


@pytest.mark.parametrize(
    "spec",
    [
        "overrides:\n  - model=mlp\n  - allow_any_target=true\n",
        "overrides:\n  - model=mlp\nparams:\n  allow_any_target: true,false\n",
        "overrides:\n  - model=mlp\n  - +hydra.callbacks.x._target_=os.system\n",
    ],
)
def test_sweep_file_may_not_lift_the_allow_list(tmp_path: Path, capsys, spec: str):
    sweep = tmp_path / "shared.yaml"
    sweep.write_text(spec)
    err = refused(capsys, sweep_main, [str(sweep), f"out_dir={tmp_path / 'out'}", "logger=none"])
    assert "is invalid: a sweep file" in err and ("allow_any_target" in err or "hydra" in err), err
    assert not (tmp_path / "out").exists()


def test_preset_may_not_lift_the_allow_list(presets: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setattr(repro.security, "_warned", False)
    with pytest.raises(ConfigError, match=r"^allow_any_target=True is invalid: only the command line"):
        precheck(["experiment=shared_any", "model=mlp"])
    precheck(["model=mlp", "allow_any_target=true"])  # the user's own command line may
    assert "warning: allow_any_target is on" in capsys.readouterr().err
    monkeypatch.setenv("REPRO_ALLOW_ANY_TARGET", "1")  # and so may the user's environment
    precheck(["experiment=shared_any", "model=mlp"])


def test_inside_a_job_only_the_command_line_lifts_the_allow_list(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(repro.security, "_warned", True)
    with pytest.raises(ConfigError, match="allow_any_target=True is invalid"):
        permit_any_target(True, ["model=mlp", "experiment=shared_any"])  # a Hydra job's own overrides
    assert permit_any_target(True, ["model=mlp", "allow_any_target=true"])
    assert permit_any_target(True, None)  # library use, no Hydra job
    assert not permit_any_target(False, ["model=mlp"])
