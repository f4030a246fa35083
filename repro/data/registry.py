"""Name -> loader-function registry, and ``build_data``: the one way a run gets its data.

Loader functions only read files into uint8 tensors; the steps every data set shares (validation split,
subsets, resizing, statistics, device move) live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from repro.data.core import Data, Source, Split
from repro.errors import ConfigError, bad_value, check_choice

LoadFn = Callable[[Any], Source]
DATASETS: dict[str, LoadFn] = {}

SPLIT_SEED = 0  # fixed: every run (whatever its seed) trains and tests on the same samples
_CHUNK = 4096  # images per resize / statistics chunk, bounds the float32 working memory


def register(name: str) -> Callable[[LoadFn], LoadFn]:
    """Register ``fn(cfg) -> Source`` under ``name`` (the value of ``dataset.name``)."""

    def wrap(fn: LoadFn) -> LoadFn:
        DATASETS[name] = fn
        return fn

    return wrap


def _option(cfg: Any, key: str, default: Any) -> Any:
    return getattr(cfg, key, default)


def _seeded_order(n: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))


def carve(split: Split, val_size: int, subset: int | None) -> tuple[Split, Split | None]:
    """Split ``val_size`` samples off ``split``, then keep ``subset`` of the rest, by one seeded shuffle.

    Kept indices are sorted, so the original order survives; without val and subset nothing is copied.
    """
    n = len(split)
    if val_size == 0 and (subset is None or subset >= n):
        return split, None
    if val_size >= n:
        raise bad_value("dataset.val_size", val_size, f"must be smaller than the {n} training samples")
    order = _seeded_order(n)
    val = split.select(order[:val_size].sort().values) if val_size else None
    rest = order[val_size:]
    if subset is not None:
        rest = rest[:subset]
    return split.select(rest.sort().values), val


def resize(split: Split, size: int) -> Split:
    """Resize every image to ``size`` x ``size`` once, bilinear (antialiased when shrinking), still uint8."""
    images = split.images
    if images.shape[-2:] == (size, size):
        return split
    out = torch.empty((*images.shape[:2], size, size), dtype=torch.uint8)
    for start in range(0, images.shape[0], _CHUNK):
        chunk = images[start : start + _CHUNK]
        out[start : start + _CHUNK] = TF.resize(
            chunk, [size, size], interpolation=InterpolationMode.BILINEAR, antialias=True
        )
    return Split(out, split.labels)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images, in [0, 1] pixel units (float64 sums, chunked)."""
    c = images.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    squares = torch.zeros(c, dtype=torch.float64)
    for start in range(0, images.shape[0], _CHUNK):
        chunk = images[start : start + _CHUNK].to(torch.float64) / 255.0
        total += chunk.sum(dim=(0, 2, 3))
        squares += chunk.square().sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(1e-12).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


def build_data(cfg: Any, device: torch.device | str = "cpu") -> Data:
    """Load ``cfg.name`` (the ``dataset`` config node), carve val/subsets, resize, move to ``device``."""
    name = cfg.name
    if name not in DATASETS:
        check_choice("dataset.name", name, sorted(DATASETS))
    source = DATASETS[name](cfg)
    train, val = carve(
        source.train, int(_option(cfg, "val_size", 0) or 0), _option(cfg, "train_subset", None)
    )
    test, _ = carve(source.test, 0, _option(cfg, "test_subset", None))
    size = _option(cfg, "image_size", None)
    if size is not None:
        train, test = resize(train, size), resize(test, size)
        val = resize(val, size) if val is not None else None
    if source.mean is None or source.std is None:
        mean, std = channel_stats(train.images)
    else:
        mean, std = source.mean, source.std
    in_channels, height, width = train.images.shape[1:]
    if height != width:
        raise ConfigError(f"dataset.name={name!r}: images are {height}x{width}; set dataset.image_size")
    return Data(
        name=name,
        train=train.to(device),
        test=test.to(device),
        val=val.to(device) if val is not None else None,
        num_classes=source.num_classes,
        in_channels=int(in_channels),
        image_size=int(height),
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
        crop_padding=int(_option(cfg, "crop_padding", 0)),
        pad_mode=str(_option(cfg, "pad_mode", "constant")),
        flip=bool(_option(cfg, "flip", False)),
        augment=bool(_option(cfg, "augment", False)),
    )
