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
        skip=("name", "input_size", "checkpoint", "init"),
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
    if cfg.get("init", "default") == "glorot_normal":
        glorot_normal(model)
    if cfg.get("checkpoint"):
        load_checkpoint(model, cfg.checkpoint)
    return model


def glorot_normal(model: nn.Module) -> None:
    """Xavier-normal weights for every conv and linear layer, in model order (biases untouched)."""
    import torch

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d):
                nn.init.xavier_normal_(m.weight)


def load_checkpoint(model: nn.Module, path: str) -> None:
    """Start from saved weights; only tensors are read (``weights_only``): pickled code is refused."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConfigError(f"model.checkpoint={path!r} is invalid: no such file") from None
    except Exception as exc:
        why = unpickler_reason(exc)
        raise ConfigError(
            f"model.checkpoint={path!r} is invalid: refused to load it as plain tensors ({why}); it holds "
            "pickled objects, and only tensors are loaded"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    own = model.state_dict()
    for key, value in state.items():
        if key in own and tuple(own[key].shape) != tuple(value.shape):
            raise ConfigError(
                f"model.checkpoint={path!r} is invalid: {key} has shape {tuple(value.shape)} but the model "
                f"needs {tuple(own[key].shape)} (check the data set's class count and input size)"
            )
    missing = sorted(set(own) - set(state))
    if missing:
        raise ConfigError(
            f"model.checkpoint={path!r} is invalid: it lacks {missing[0]} (and {len(missing) - 1} more)"
        )
    model.load_state_dict(state, strict=False)


def unpickler_reason(exc: BaseException) -> str:
    """The unpickler's own reason (``Unsupported global: GLOBAL posix.system``), whole, from torch's text."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    marker = "WeightsUnpickler error:"
    for i, line in enumerate(lines):
        if marker in line:
            rest = line.split(marker, 1)[1].strip()
            return rest or (lines[i + 1] if i + 1 < len(lines) else type(exc).__name__)
    return type(exc).__name__


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
