"""The data containers every source returns and every training loop consumes.

Images stay uint8 until a batch is drawn: Tiny-ImageNet's 100k training images then take 1.2 GB instead of
4.9 GB as float32, and a small data set fits on the GPU next to the model. A split whose float32 copy is
small (MNIST) is also kept normalised, once, for the passes that do not augment it: no per-batch work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from repro.data.loader import TensorLoader, normalise
from repro.errors import check_choice

FLOAT_COPY_BYTES = 256 * 2**20  # the largest split kept as normalised float32 beside its uint8 images


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
    # Normalised float32 copies of the splits small enough to keep (FLOAT_COPY_BYTES), made on first use.
    floats: dict[str, torch.Tensor | None] = field(default_factory=dict, init=False, repr=False)

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
        crop, flip = (self.crop_padding, self.flip) if augment else (0, False)
        return TensorLoader(
            data.images,
            data.labels,
            batch_size,
            mean=self.mean,
            std=self.std,
            shuffle=train,
            crop_padding=crop,
            pad_mode=self.pad_mode,
            flip=flip,
            generator=generator,
            max_batches=max_batches,
            floats=None if crop or flip else self.float_copy(split),
        )

    def float_copy(self, split: str) -> torch.Tensor | None:
        """``split``'s images normalised to float32 once, when that copy fits in ``FLOAT_COPY_BYTES``.

        Batches gathered from it equal the loader's per-batch normalisation bit for bit (the same elementwise
        ops); it spares every batch of a small, unaugmented data set (MNIST: 188 MB) that work.
        """
        if split not in self.floats:
            images = self.split(split).images
            small = images.numel() * 4 <= FLOAT_COPY_BYTES
            self.floats[split] = normalise(images, self.mean, self.std) if small else None
        return self.floats[split]
