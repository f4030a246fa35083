"""Composing and building the model options, shared by the model tests."""

from __future__ import annotations

import functools
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from torch import nn

from repro.config import register_schemas
from repro.models import MODELS, build_model

CONF = Path(__file__).resolve().parents[1] / "conf"
# Models too slow to build several times within the suite's time budget: one build each.
HEAVY = {"swin_t", "resnet50", "wresnet28x8", "timm"}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@functools.cache
def composed_models() -> dict[str, DictConfig]:
    """Each option composed alone by Hydra (``+model=<name>``), schema validation included; once."""
    register_schemas()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return {name: compose(config_name=None, overrides=[f"+model={name}"]).model for name in MODELS}


def build(
    cfg: DictConfig, num_classes: int = 10, in_channels: int | None = None, **changes: object
) -> nn.Module:
    cfg = OmegaConf.merge(cfg, changes) if changes else cfg
    channels = in_channels if in_channels is not None else (1 if cfg.input_size == 28 else 3)
    return build_model(cfg, in_channels=channels, num_classes=num_classes, image_size=cfg.input_size)
