"""Loader functions for the small data sets: torchvision's MNIST, FashionMNIST, CIFAR-10/100, scikit-learn's
digits, and a synthetic set.

Each reads whole arrays (``.data`` / ``.targets``), never one PIL image at a time, and returns uint8
[N, C, H, W] tensors; ``build_data`` does the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchvision import datasets

from repro.data.core import Source, Split
from repro.data.download import check_md5sums, missing, one_line, staged_download
from repro.data.registry import register

DIGITS_TEST_SIZE = 360


def _fetch(cls: type, root: str, folder: str, keep: str, label: str, download: bool) -> tuple[Any, Any]:
    """Open both splits of a torchvision set, downloading (staged) when allowed and missing."""

    def open_both() -> tuple[Any, Any]:
        return cls(root, train=True, download=False), cls(root, train=False, download=False)

    where = Path(root) / folder
    check_md5sums(label, root, where)
    try:
        return open_both()
    except RuntimeError:  # torchvision's "Dataset not found or corrupted"
        if not download:
            missing(label, root, where)
    staged_download(label, root, where, lambda tmp: cls(str(tmp), train=True, download=True), keep=[keep])
    try:
        return open_both()
    except RuntimeError as exc:
        missing(label, root, where, one_line(exc))


def _mnist_like(cls: type, cfg: Any, label: str, mean: float, std: float) -> Source:
    train, test = _fetch(cls, cfg.root, f"{cls.__name__}/raw", cls.__name__, label, cfg.download)

    def split(ds: Any) -> Split:
        return Split(ds.data.unsqueeze(1).contiguous(), ds.targets.to(torch.int64))

    return Source(split(train), split(test), num_classes=10, mean=(mean,), std=(std,))


def _cifar(cls: type, cfg: Any, label: str, num_classes: int, mean: tuple, std: tuple) -> Source:
    train, test = _fetch(cls, cfg.root, cls.base_folder, cls.base_folder, label, cfg.download)

    def split(ds: Any) -> Split:
        images = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
        return Split(images, torch.as_tensor(ds.targets, dtype=torch.int64))

    return Source(split(train), split(test), num_classes=num_classes, mean=mean, std=std)


@register("mnist")
def load_mnist(cfg: Any) -> Source:
    return _mnist_like(datasets.MNIST, cfg, "mnist", 0.1307, 0.3081)


@register("fashion_mnist")
def load_fashion_mnist(cfg: Any) -> Source:
    return _mnist_like(datasets.FashionMNIST, cfg, "fashion_mnist", 0.2860, 0.3530)


@register("cifar10")
def load_cifar10(cfg: Any) -> Source:
    return _cifar(datasets.CIFAR10, cfg, "cifar10", 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))


@register("cifar100")
def load_cifar100(cfg: Any) -> Source:
    return _cifar(datasets.CIFAR100, cfg, "cifar100", 100, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))


@register("digits")
def load_digits(cfg: Any) -> Source:
    """scikit-learn's 1797 8x8 digits (bundled, no download); 360 test samples by a seed-0 permutation.

    Mean/std are left to ``build_data``, which computes them from the training split it keeps.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    pixels = torch.from_numpy(bunch.images * (255.0 / 16.0)).round().clamp(0, 255).to(torch.uint8)
    full = Split(pixels.unsqueeze(1).contiguous(), torch.from_numpy(bunch.target).to(torch.int64))
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(0))
    test = full.select(order[:DIGITS_TEST_SIZE].sort().values)
    train = full.select(order[DIGITS_TEST_SIZE:].sort().values)
    return Source(train, test, num_classes=10)


@register("synthetic")
def load_synthetic(cfg: Any) -> Source:
    """Random images: a smooth class pattern plus equal-strength noise, so a short run beats chance.

    Patterns come from seed 0, train and test from seeds 1 and 2: ``train_size`` never changes the test set.
    """
    size = cfg.image_size if cfg.image_size is not None else 32
    k, c = cfg.num_classes, cfg.channels
    coarse = torch.rand(k, c, 4, 4, generator=torch.Generator().manual_seed(0))
    patterns = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)

    def draw(n: int, seed: int) -> Split:
        gen = torch.Generator().manual_seed(seed)
        labels = torch.randint(k, (n,), generator=gen)
        noise = torch.rand(n, c, size, size, generator=gen)
        images = (0.5 * patterns[labels] + 0.5 * noise).mul(255).round().clamp(0, 255).to(torch.uint8)
        return Split(images, labels)

    return Source(draw(cfg.train_size, 1), draw(cfg.test_size, 2), num_classes=k)
