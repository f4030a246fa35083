"""The data containers every source returns and every training loop consumes.

Images stay uint8 until a batch is drawn: Tiny-ImageNet's 100k training images then take 1.2 GB instead of
4.9 GB as float32, and a small data set fits on the GPU next to the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from repro.data.loader import TensorLoader
from repro.errors import check_choice


@dataclass
class Split:
    """One split in memory: ``images`` uint8 [N, C, H, W] (0..255), ``labels`` int64 [N]."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def select(self, index: torch.Tensor) -> Split:
        return Split(self.images[index], self.labels[index])

    def to(self, device: torch.device | str) -> Split:
        return Split(self.images.to(device), self.labels.to(device))


@dataclass
class Source:
    """What a registered loader function returns, before subsets, resizing and the device move.

    ``mean``/``std`` are the data set's published per-channel statistics; None asks ``build_data`` to
    compute them from the training images it keeps.
    """

    train: Split
    test: Split
    num_classes: int
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


@dataclass
class Data:
    """A ready data set: splits on the target device, normalisation and augmentation settings."""

    name: str
    train: Split
    test: Split
    val: Split | None
    num_classes: int
    in_channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_padding: int
    pad_mode: str
    flip: bool
    augment: bool

    def split(self, name: str) -> Split:
        available = ["train", "test"] + (["val"] if self.val is not None else [])
        check_choice("split", name, available)
        return getattr(self, name)

    def loader(
        self,
        split: str,
        batch_size: int,
        *,
        train: bool,
        generator: torch.Generator | None = None,
        max_batches: int | None = None,
        augment: bool | None = None,
    ) -> TensorLoader:
        """``train=True`` shuffles with ``generator`` and augments (when ``augment``); else ordered, plain.

        ``augment=False`` keeps a training-style shuffled sample free of augmentation (analyses want one).
        """
        data = self.split(split)
        augment = train and self.augment and augment is not False
        return TensorLoader(
            data.images,
            data.labels,
            batch_size,
            mean=self.mean,
            std=self.std,
            shuffle=train,
            crop_padding=self.crop_padding if augment else 0,
            pad_mode=self.pad_mode,
            flip=self.flip and augment,
            generator=generator,
            max_batches=max_batches,
        )
