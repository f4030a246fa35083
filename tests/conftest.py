"""Shared fixtures: composing the real config with Hydra's compose API, real MNIST, a clean environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from omegaconf import DictConfig

from repro.precheck import compose_checked

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture(autouse=True)
def _offline_wandb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may reach W&B servers or write into the checkout."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)


@pytest.fixture
def mnist_root() -> Path:
    if not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
        pytest.skip(f"real MNIST not found under {SHARED_DATA}")
    return SHARED_DATA


def compose(*overrides: str) -> DictConfig:
    """Compose and validate the real root config, as ``python -m repro.run`` would."""
    return compose_checked(list(overrides))


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=str(tmp_path / "wandb"), PYTHONUNBUFFERED="1"
    )
    env.pop("WANDB_API_KEY", None)
    return env
