"""Turn a ``model`` config node into an ``nn.Module``.

Every model factory takes the data's ``in_channels``, ``num_classes`` and ``image_size`` as keyword
arguments besides its schema fields, so one call builds any model for any data set.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from omegaconf import DictConfig
from torch import nn

from repro.errors import ConfigError
from repro.instantiate import build


def build_model(
    cfg: DictConfig,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    allow_any_target: bool = False,
) -> nn.Module:
    """Build ``cfg._target_`` for data of ``in_channels`` x ``image_size``^2 and ``num_classes`` classes."""
    model = build(
        cfg,
        "model",
        skip=("name", "input_size"),
        allow_any=allow_any_target,
        in_channels=in_channels,
        num_classes=num_classes,
        image_size=image_size,
    )
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"model._target_={cfg._target_!r} is invalid: "
            f"it built a {type(model).__name__}, not a torch.nn.Module"
        )
    return model


def pretrained_unavailable(
    arch: str, places: Sequence[str], exc: BaseException, file: str | None = None
) -> ConfigError:
    """The one-line error for pretrained weights that are neither cached nor downloadable (offline nodes)."""
    what = file or "them"
    return ConfigError(
        f"model.pretrained=True is invalid: the pretrained weights of {arch!r} are not cached in "
        f"{' or '.join(places)} and could not be downloaded ({type(exc).__name__}); "
        f"put {what} there or set model.pretrained=false"
    )


def too_small(image_size: int, minimum: int, model: str) -> ConfigError:
    """The error for an input side that the model's fixed convolutions and pools cannot take."""
    return ConfigError(f"image_size={image_size} is invalid: {model} needs images of side >= {minimum}")


@contextmanager
def network_timeout(seconds: float = 30.0) -> Iterator[None]:
    """Bound every socket operation while fetching weights, so a firewalled node fails instead of hanging."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)
