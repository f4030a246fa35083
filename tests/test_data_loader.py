"""Bundled and generated sets, the loader's sampling and augmentation, and real MNIST."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from repro.data import Data, Split, TensorLoader, build_data
from repro.data.loader import random_crop, random_hflip
from repro.data.schemas import DatasetConfig
from repro.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO / ".." / "shared" / "data"


def dataset_cfg(**values: object) -> DatasetConfig:
    """A typed ``dataset`` node, as Hydra would compose it."""
    return OmegaConf.merge(OmegaConf.structured(DatasetConfig), values)


# --------------------------------------------------------------------------- bundled and generated sets


def test_digits_split_and_resize() -> None:
    native = build_data(dataset_cfg(name="digits"))
    assert (len(native.train), len(native.test), native.image_size) == (1437, 360, 8)
    assert native.train.images.max() == 255 and native.test.labels.unique().tolist() == list(range(10))
    resized = build_data(dataset_cfg(name="digits", image_size=28))
    assert resized.train.images.shape == (1437, 1, 28, 28) and resized.image_size == 28
    assert torch.equal(resized.train.labels, native.train.labels)
    mean, std = resized.mean[0], resized.std[0]
    x = resized.train.images.float() / 255
    assert mean == pytest.approx(x.mean().item(), abs=1e-4) and std == pytest.approx(x.std().item(), abs=1e-3)


def test_val_split_and_subsets_are_seeded_and_disjoint() -> None:
    cfg = dataset_cfg(
        name="synthetic", train_size=200, test_size=50, val_size=40, train_subset=100, test_subset=20
    )
    data = build_data(cfg)
    assert (len(data.train), len(data.val), len(data.test)) == (100, 40, 20)
    full = build_data(dataset_cfg(name="synthetic", train_size=200, test_size=50)).train.images.flatten(1)
    position = {tuple(row.tolist()): i for i, row in enumerate(full)}
    train_idx = {position[tuple(r.tolist())] for r in data.train.images.flatten(1)}
    val_idx = {position[tuple(r.tolist())] for r in data.val.images.flatten(1)}
    assert len(train_idx) == 100 and len(val_idx) == 40 and not train_idx & val_idx
    again = build_data(cfg)
    assert torch.equal(again.val.images, data.val.images) and torch.equal(
        again.train.labels, data.train.labels
    )
    with pytest.raises(ConfigError, match="dataset.val_size"):
        build_data(dataset_cfg(name="synthetic", train_size=10, val_size=10))


def test_synthetic_is_learnable() -> None:
    data = build_data(dataset_cfg(name="synthetic", num_classes=4, channels=1, image_size=8))
    assert data.train.images.shape == (1024, 1, 8, 8) and data.test.images.shape == (256, 1, 8, 8)
    # Nearest class mean on the training set beats chance (25 %) by far on the test set.
    x = data.train.images.flatten(1).float()
    centres = torch.stack([x[data.train.labels == k].mean(0) for k in range(4)])
    guess = torch.cdist(data.test.images.flatten(1).float(), centres).argmin(1)
    assert (guess == data.test.labels).float().mean() > 0.8


# --------------------------------------------------------------------------- loader


def plain_loader(n: int = 103, batch: int = 10, **kwargs: object) -> TensorLoader:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    return TensorLoader(images, torch.arange(n), batch, mean=(0.0,), std=(1.0,), **kwargs)


def test_shuffled_epoch_covers_every_sample_once() -> None:
    loader = plain_loader(shuffle=True, generator=torch.Generator().manual_seed(3))
    batches = list(loader)
    assert len(loader) == len(batches) == 11 and loader.num_samples == 103
    assert [len(y) for _, y in batches][-1] == 3
    labels = torch.cat([y for _, y in batches])
    assert sorted(labels.tolist()) == list(range(103)) and labels.tolist() != list(range(103))
    for x, y in batches:  # images travel with their labels
        assert torch.allclose(x[:, 0, 0, 0] * 255, y.float())
        assert x.dtype == torch.float32 and y.dtype == torch.int64


def test_same_seed_same_batches_and_max_batches() -> None:
    def labels(seed: int) -> list[int]:
        loader = plain_loader(shuffle=True, generator=torch.Generator().manual_seed(seed))
        return torch.cat([y for _, y in loader]).tolist()

    assert labels(7) == labels(7) and labels(7) != labels(8)
    capped = plain_loader(shuffle=True, generator=torch.Generator().manual_seed(0), max_batches=4)
    assert len(capped) == 4 and capped.num_samples == 40 and sum(len(y) for _, y in capped) == 40
    ordered = plain_loader(batch=50)
    assert torch.cat([y for _, y in ordered]).tolist() == list(range(103))


def test_random_crop_pads_with_zeros_and_keeps_centre() -> None:
    x = torch.ones(64, 1, 16, 16)
    out = random_crop(x, 4, "constant", torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.all(out[:, :, 4:12, 4:12] == 1)
    border = torch.cat([out[:, :, :4].flatten(1), out[:, :, -4:].flatten(1)], 1)
    assert (border == 0).any() and (border == 1).any()
    reflected = random_crop(x, 4, "reflect", torch.Generator().manual_seed(0))
    assert torch.all(reflected == 1)


def test_random_crop_is_a_shifted_window() -> None:
    x = torch.arange(8 * 2 * 12 * 12, dtype=torch.float32).view(8, 2, 12, 12)
    out = random_crop(x, 3, "constant", torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(x, (3, 3, 3, 3))
    shifts = set()
    for i in range(8):
        matches = [
            (dy, dx)
            for dy in range(7)
            for dx in range(7)
            if torch.equal(out[i], padded[i, :, dy : dy + 12, dx : dx + 12])
        ]
        assert len(matches) == 1
        shifts.add(matches[0])
    assert len(shifts) > 1


def test_flip_mirrors_exactly_the_flagged_samples() -> None:
    x = torch.rand(64, 3, 5, 7)
    out, mask = random_hflip(x, torch.Generator().manual_seed(0))
    assert mask.any() and not mask.all()
    assert torch.equal(out[mask], x[mask].flip(-1)) and torch.equal(out[~mask], x[~mask])


def test_loader_augments_only_in_training() -> None:
    images = torch.randint(0, 256, (40, 3, 6, 6), dtype=torch.uint8)
    data = Data(
        name="t",
        train=_split(images),
        test=_split(images),
        val=None,
        num_classes=40,
        in_channels=3,
        image_size=6,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
        crop_padding=0,
        pad_mode="constant",
        flip=True,
        augment=True,
    )
    plain = (images.float() / 255 - 0.5) / 0.25
    x, y = next(iter(data.loader("test", 40, train=False)))
    assert torch.allclose(x, plain[y])
    x, y = next(iter(data.loader("train", 40, train=True, generator=torch.Generator().manual_seed(0))))
    same = [torch.allclose(x[i], plain[y[i]]) for i in range(40)]
    mirrored = [torch.allclose(x[i], plain[y[i]].flip(-1)) for i in range(40)]
    assert all(s or m for s, m in zip(same, mirrored)) and any(mirrored) and not all(mirrored)
    with pytest.raises(ConfigError, match="split='val'"):
        data.loader("val", 8, train=False)


def _split(images: torch.Tensor) -> Split:
    return Split(images, torch.arange(images.shape[0]))


# --------------------------------------------------------------------------- real MNIST


@pytest.fixture(scope="module")
def real_mnist() -> Data:
    if not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        pytest.skip(f"real MNIST not found under {SHARED_DATA}")
    return build_data(dataset_cfg(name="mnist", root=str(SHARED_DATA)))


def test_real_mnist(real_mnist: Data) -> None:
    assert (len(real_mnist.train), len(real_mnist.test)) == (60000, 10000)
    assert int(real_mnist.train.labels[0]) == 5
    assert real_mnist.mean == (0.1307,) and real_mnist.std == (0.3081,)


def test_normalisation_on_real_mnist(real_mnist: Data) -> None:
    total = squares = count = 0.0
    for x, _ in real_mnist.loader("train", 10000, train=False):
        total += x.sum().item()
        squares += x.square().sum().item()
        count += x.numel()
    mean = total / count
    assert abs(mean) < 1e-3 and abs((squares / count - mean**2) ** 0.5 - 1) < 1e-2
