"""Everything one run needs, built and validated before its directory is created."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from omegaconf import DictConfig
from torch import nn

from repro.data import Data, build_data
from repro.errors import ConfigError
from repro.instantiate import build
from repro.masks import Masks
from repro.models import build_model
from repro.parallel import configure_job
from repro.pruning.base import Pruner
from repro.train import resolve_device


@dataclass
class Job:
    cfg: DictConfig
    data: Data
    model: nn.Module
    pruner: Pruner
    masks: Masks
    device: torch.device


def model_for(cfg: DictConfig, data: Data) -> nn.Module:
    """The configured model, built for ``data`` (draws its initial weights from the global generator)."""
    return build_model(
        cfg.model,
        in_channels=data.in_channels,
        num_classes=data.num_classes,
        image_size=data.image_size,
        allow_any_target=cfg.allow_any_target,
    )


def build_job(cfg: DictConfig) -> Job:
    """Build data, model, pruner and masks; raises ConfigError/DataMissingError before anything is written."""
    # Threads per job (trainer.num_threads, else a share of the cores in a parallel sweep), GPU per job.
    device = configure_job(cfg.trainer, resolve_device(cfg.trainer.device))
    if cfg.trainer.deterministic:
        # cuBLAS needs a fixed workspace for reproducible matrix products; cuDNN must not autotune.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)
    data = build_data(cfg.dataset, device=device)
    torch.manual_seed(cfg.seed)
    model = model_for(cfg, data).to(device)
    if cfg.trainer.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    pruner = build(cfg.pruner, "pruner", skip=("name", "pqi_grid"), allow_any=cfg.allow_any_target)
    try:
        masks = Masks.for_model(model, pruner.prunable, pruner.exclude)
    except ValueError:
        raise ConfigError(
            f"pruner.prunable={list(pruner.prunable)} is invalid: model {cfg.model.name} has no such layer "
            f"outside pruner.exclude={list(pruner.exclude)}"
        ) from None
    return Job(cfg, data, model, pruner, masks, device)
