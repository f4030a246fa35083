"""Any timm model by name, so a sweep can try architectures this package does not define.

``in_channels`` and ``num_classes`` go to timm (which adapts a pretrained stem and drops the pretrained
classifier itself). Inputs are not resized: models with a fixed input size (ViTs) need
``dataset.image_size`` to match theirs.
"""

from __future__ import annotations

import os

import timm
import torch
from torch import nn

from repro.errors import ConfigError
from repro.models.build import network_timeout, pretrained_unavailable
from repro.models.registry import register_model


def weight_caches() -> list[str]:
    """Where timm looks for pretrained weights: the Hugging Face hub cache and torch's hub checkpoints."""
    places = [os.path.join(torch.hub.get_dir(), "checkpoints")]
    try:
        from huggingface_hub import constants

        places.insert(0, constants.HF_HUB_CACHE)
    except ImportError:  # pragma: no cover - timm installs huggingface_hub
        pass
    return places


@register_model("timm")
def timm_model(
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    arch: str,
    pretrained: bool = False,
) -> nn.Module:
    """``timm.create_model(arch, pretrained, num_classes, in_chans)`` with one-line config errors."""
    if not timm.is_model(arch):
        raise ConfigError(f"model.arch={arch!r} is invalid: not a timm model (see timm.list_models())")
    if pretrained and not timm.is_model_pretrained(arch):
        raise ConfigError(f"model.pretrained=True is invalid: timm has no pretrained weights for {arch!r}")
    try:
        with network_timeout():
            return timm.create_model(
                arch, pretrained=pretrained, num_classes=num_classes, in_chans=in_channels
            )
    except OSError as exc:  # hub misses, URLError, timeouts
        if not pretrained:
            raise
        raise pretrained_unavailable(arch, weight_caches(), exc) from None
