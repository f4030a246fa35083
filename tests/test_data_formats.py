"""Data sets read from their real on-disk formats, written small by the tests; missing data fails clearly."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

import repro.data.tiny_imagenet as tiny
from repro.data import DATASETS, build_data
from repro.data.schemas import DatasetConfig
from repro.errors import ConfigError, DataMissingError


def dataset_cfg(**values: object) -> DatasetConfig:
    """A typed ``dataset`` node, as Hydra would compose it."""
    return OmegaConf.merge(OmegaConf.structured(DatasetConfig), values)


# --------------------------------------------------------------------------- on-disk formats


def write_idx(path: Path, array: np.ndarray) -> None:
    """MNIST's idx format: big-endian magic (0x08 = uint8, then the number of dims), dims, raw bytes."""
    magic = 0x0800 + array.ndim  # 2051 for images [N, H, W], 2049 for labels [N]
    path.write_bytes(
        struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    )


def write_mnist(
    root: Path, folder: str = "MNIST", n_train: int = 20, n_test: int = 10
) -> dict[str, np.ndarray]:
    """torchvision >= 0.15 reads the uncompressed raw files directly when MNIST/processed is absent."""
    rng = np.random.default_rng(0)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    return arrays


def test_idx_magic_numbers(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    head = (tmp_path / "MNIST/raw/train-images-idx3-ubyte").read_bytes()[:16]
    assert struct.unpack(">4I", head) == (2051, 20, 28, 28)
    assert struct.unpack(">2I", (tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte").read_bytes()[:8]) == (
        2049,
        10,
    )


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_idx_round_trip(tmp_path: Path, name: str, folder: str) -> None:
    arrays = write_mnist(tmp_path, folder)
    data = build_data(dataset_cfg(name=name, root=str(tmp_path)))
    assert data.train.images.shape == (20, 1, 28, 28) and data.test.images.shape == (10, 1, 28, 28)
    assert data.train.images.dtype == torch.uint8 and data.train.labels.dtype == torch.int64
    assert torch.equal(data.train.images[:, 0], torch.from_numpy(arrays["train_images"]))
    assert torch.equal(data.test.images[:, 0], torch.from_numpy(arrays["t10k_images"]))
    assert data.train.labels.tolist() == arrays["train_labels"].tolist()
    assert (data.num_classes, data.in_channels, data.image_size) == (10, 1, 28)


def cifar_batch(rng: np.random.Generator, n: int, label_key: str, num_classes: int) -> dict:
    # torchvision reads entry["data"] after pickle.load(encoding="latin1"): the official files are Python 2
    # pickles whose str keys decode to str, so str keys (not b"data") are what the real loader expects.
    return {
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        label_key: rng.integers(0, num_classes, n).tolist(),
    }


def write_cifar(root: Path, hundred: bool = False) -> tuple[list[dict], dict]:
    """The pickled-batch layout of the official python archives (3072 bytes per row: R, G, B planes)."""
    rng = np.random.default_rng(1)
    if hundred:
        folder, train_files, test_file, meta = (
            "cifar-100-python",
            ["train"],
            "test",
            ("meta", "fine_label_names"),
        )
        label_key, num_classes = "fine_labels", 100
    else:
        folder, test_file, meta = "cifar-10-batches-py", "test_batch", ("batches.meta", "label_names")
        train_files = [f"data_batch_{i}" for i in range(1, 6)]
        label_key, num_classes = "labels", 10
    base = root / folder
    base.mkdir(parents=True)
    train = []
    for name in train_files:
        batch = cifar_batch(rng, 4, label_key, num_classes)
        (base / name).write_bytes(pickle.dumps(batch, protocol=2))
        train.append(batch)
    test = cifar_batch(rng, 6, label_key, num_classes)
    (base / test_file).write_bytes(pickle.dumps(test, protocol=2))
    (base / meta[0]).write_bytes(pickle.dumps({meta[1]: [f"c{i}" for i in range(num_classes)]}, protocol=2))
    return train, test


@pytest.fixture
def skip_cifar_md5(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision compares every CIFAR file with the md5 of the official one (``_check_integrity`` and
    ``_load_meta`` both call ``cifar.check_integrity``); in this test only, accept any existing file."""
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_pickled_batches(tmp_path: Path, skip_cifar_md5: None, name: str) -> None:
    train, test = write_cifar(tmp_path, hundred=name == "cifar100")
    data = build_data(dataset_cfg(name=name, root=str(tmp_path), crop_padding=4, flip=True))
    n_train = sum(len(b["data"]) for b in train)
    assert data.train.images.shape == (n_train, 3, 32, 32) and data.test.images.shape == (6, 3, 32, 32)
    expected = torch.from_numpy(np.concatenate([b["data"] for b in train]).reshape(-1, 3, 32, 32))
    assert torch.equal(data.train.images, expected)
    label_key = "fine_labels" if name == "cifar100" else "labels"
    assert data.test.labels.tolist() == test[label_key]
    assert data.num_classes == (100 if name == "cifar100" else 10) and data.in_channels == 3
    assert data.crop_padding == 4 and data.flip


def test_cifar_real_checksums_reject_fake_files(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    with pytest.raises(DataMissingError, match="dataset.root"):
        build_data(dataset_cfg(name="cifar10", root=str(tmp_path)))


# --------------------------------------------------------------------------- Tiny-ImageNet

WNIDS = ["n03000002", "n01000001", "n02000003"]  # listed unsorted on purpose
COLOURS = {"n01000001": (250, 0, 0), "n02000003": (0, 250, 0), "n03000002": (0, 0, 250)}


def write_tiny_imagenet(root: Path) -> Path:
    base = root / tiny.FOLDER
    (base / "val" / "images").mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    lines = []
    for wnid in WNIDS:
        folder = base / "train" / wnid / "images"
        folder.mkdir(parents=True)
        (base / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
        for i in range(2):
            Image.new("RGB", (64, 64), COLOURS[wnid]).save(folder / f"{wnid}_{i}.JPEG")
        name = f"val_{len(lines)}.JPEG"
        Image.new("RGB", (64, 64), COLOURS[wnid]).save(base / "val" / "images" / name)
        lines.append(f"{name}\t{wnid}\t0\t0\t63\t63")
    # A greyscale file (the real set has some): decoded to 3 channels.
    Image.new("L", (64, 64), 128).save(base / "train" / WNIDS[0] / "images" / f"{WNIDS[0]}_grey.JPEG")
    (base / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return base


def colour_class(images: torch.Tensor) -> list[int]:
    """Index (in sorted wnids) of the colour each image shows; greyscale images give -1."""
    means = images.float().mean(dim=(2, 3))
    out = []
    for m in means:
        spread = float(m.max() - m.min())
        out.append(int(m.argmax()) if spread > 100 else -1)
    return out


def test_tiny_imagenet_rearranges_val_and_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = write_tiny_imagenet(tmp_path)
    cfg = dataset_cfg(name="tiny_imagenet", root=str(tmp_path), flip=True)
    data = build_data(cfg)

    assert not (base / "val" / "images").exists()
    for wnid in WNIDS:
        assert [p.name for p in (base / "val" / wnid).iterdir()] != []
    assert data.train.images.shape == (7, 3, 64, 64) and data.test.images.shape == (3, 3, 64, 64)
    assert data.num_classes == 200 and data.image_size == 64
    # Sorted wnids: n01 -> 0 (red), n02 -> 1 (green), n03 -> 2 (blue); RGB channel order matches.
    assert data.test.labels.tolist() == [0, 1, 2]
    assert colour_class(data.test.images) == [0, 1, 2]
    train_colours = colour_class(data.train.images)
    for label, colour in zip(data.train.labels.tolist(), train_colours):
        assert colour in (label, -1)
    assert train_colours.count(-1) == 1 and data.train.labels[train_colours.index(-1)] == 2

    for split in ("train", "val"):
        assert tiny.cache_path(base, split).is_file()
    assert not list((base / "cache").glob("*.tmp"))

    def no_decoding(paths: list[Path]) -> torch.Tensor:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(tiny, "_decode", no_decoding)
    again = build_data(cfg)
    assert torch.equal(again.train.images, data.train.images) and torch.equal(
        again.test.labels, data.test.labels
    )


def test_tiny_imagenet_rearrangement_resumes(tmp_path: Path) -> None:
    base = write_tiny_imagenet(tmp_path)
    first = base / "val" / "images" / "val_0.JPEG"
    (base / "val" / WNIDS[0]).mkdir()
    os.replace(first, base / "val" / WNIDS[0] / "val_0.JPEG")  # as if interrupted after one move
    tiny.rearrange_val(base)
    tiny.rearrange_val(base)  # idempotent
    assert not (base / "val" / "images").exists()
    assert sorted(p.name for p in (base / "val").rglob("*.JPEG")) == [
        "val_0.JPEG",
        "val_1.JPEG",
        "val_2.JPEG",
    ]


def test_tiny_imagenet_read_only_val_uses_annotations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tiny_imagenet(tmp_path)

    def read_only(base: Path) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(tiny, "rearrange_val", read_only)
    data = build_data(dataset_cfg(name="tiny_imagenet", root=str(tmp_path)))
    assert data.test.labels.tolist() == [0, 1, 2] and colour_class(data.test.images) == [0, 1, 2]


def test_tiny_imagenet_download_is_staged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_download(url: str, download_root: str) -> None:
        assert url == tiny.URL and Path(download_root).parent == tmp_path / "data"
        write_tiny_imagenet(Path(download_root))

    monkeypatch.setattr(tiny, "download_and_extract_archive", fake_download)
    data = build_data(dataset_cfg(name="tiny_imagenet", root=str(tmp_path / "data"), download=True))
    assert len(data.train) == 7
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [tiny.FOLDER]


# --------------------------------------------------------------------------- missing data


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "cifar100", "tiny_imagenet"])
def test_missing_data_offline(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataMissingError, match=r"dataset\.root") as info:
        build_data(dataset_cfg(name=name, root=str(tmp_path / "nowhere")))
    message = str(info.value)
    assert "\n" not in message and "dataset.download=true" in message
    assert not (tmp_path / "nowhere").exists()


def test_failed_download_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets.mnist as tv_mnist

    def broken(url: str, download_root: str, filename: str, md5: str) -> None:
        Path(download_root, filename).write_bytes(b"half a file")
        raise URLError("offline")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", broken)
    root = tmp_path / "data"
    with pytest.raises(DataMissingError, match=r"dataset\.root=.*download failed") as info:
        build_data(dataset_cfg(name="mnist", root=str(root), download=True))
    assert "\n" not in str(info.value)
    assert list(root.rglob("*")) == []


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(ConfigError, match="dataset.name='imagenet21k'.*cifar10.*mnist"):
        build_data(dataset_cfg(name="imagenet21k"))
    assert set(DATASETS) == {
        "digits",
        "mnist",
        "fashion_mnist",
        "cifar10",
        "cifar100",
        "tiny_imagenet",
        "synthetic",
    }
