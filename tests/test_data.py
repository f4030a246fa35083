"""Data package: real on-disk formats written small, the loader's sampling and augmentation, the configs."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import OmegaConf
from PIL import Image

import repro.data.tiny_imagenet as tiny
from repro.config import register_schemas, validate
from repro.data import DATASETS, Data, Split, TensorLoader, build_data
from repro.data.loader import random_crop, random_hflip
from repro.data.schemas import DatasetConfig
from repro.errors import ConfigError, DataMissingError

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SHARED_DATA = REPO / ".." / "shared" / "data"
DATASET_OPTIONS = sorted(p.stem for p in (CONF / "dataset").glob("*.yaml"))


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


# --------------------------------------------------------------------------- configs


@pytest.fixture
def local_conf(tmp_path: Path) -> Path:
    """A throwaway primary config that pulls the real ``dataset`` group in through the search path, so these
    tests do not depend on the other groups of ``conf/config.yaml``; plus one option with a typo."""
    register_schemas()
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "typo.yaml").write_text(
        "defaults:\n  - /schema/dataset/base@_here_\n  - _self_\nname: mnist\ncrop_pading: 4\n"
    )
    (tmp_path / "primary.yaml").write_text(
        "defaults:\n  - dataset: mnist\n  - _self_\nmodel:\n  input_size: 28\nseed: 0\n"
        f"hydra:\n  searchpath:\n    - file://{CONF}\n"
    )
    return tmp_path


@pytest.mark.parametrize("option", DATASET_OPTIONS)
def test_every_dataset_option_composes(local_conf: Path, option: str) -> None:
    with initialize_config_dir(config_dir=str(local_conf), version_base="1.3"):
        cfg = compose("primary", overrides=[f"dataset={option}"])
    assert OmegaConf.get_type(cfg.dataset) is DatasetConfig
    assert cfg.dataset.name == option and cfg.dataset.root == "data" and cfg.dataset.download is False
    validate(cfg)


def test_dataset_defaults_follow_the_papers(local_conf: Path) -> None:
    def get(option: str) -> DatasetConfig:
        with initialize_config_dir(config_dir=str(local_conf), version_base="1.3"):
            return compose("primary", overrides=[f"dataset={option}"]).dataset

    for option in ("mnist", "fashion_mnist", "digits", "synthetic"):
        assert not get(option).augment
    for option in ("cifar10", "cifar100"):
        cfg = get(option)
        assert (cfg.augment, cfg.crop_padding, cfg.pad_mode, cfg.flip) == (True, 4, "constant", True)
    cfg = get("tiny_imagenet")
    assert (cfg.augment, cfg.crop_padding, cfg.flip) == (True, 0, True)
    assert get("digits").image_size == 28  # follows ${model.input_size}
    cfg = get("synthetic")
    assert (cfg.image_size, cfg.channels) == (32, 3)


def test_composed_digits_builds(local_conf: Path) -> None:
    with initialize_config_dir(config_dir=str(local_conf), version_base="1.3"):
        cfg = compose("primary", overrides=["dataset=digits", "model.input_size=16"])
    data = build_data(cfg.dataset)
    assert data.image_size == 16 and data.train.images.shape[1:] == (1, 16, 16)


@pytest.mark.parametrize("override", ["dataset.crop_padding=abc", "dataset.flip=maybe", "dataset.bogus=1"])
def test_wrong_type_or_unknown_key_fails(local_conf: Path, override: str) -> None:
    with (
        initialize_config_dir(config_dir=str(local_conf), version_base="1.3"),
        pytest.raises(ConfigCompositionException),
    ):
        compose("primary", overrides=[override])


def test_typo_in_a_dataset_file_fails(local_conf: Path) -> None:
    with (
        initialize_config_dir(config_dir=str(local_conf), version_base="1.3"),
        pytest.raises(Exception, match="crop_pading"),
    ):
        compose("primary", overrides=["dataset=typo"])


def test_out_of_range_value_names_the_key(local_conf: Path) -> None:
    with initialize_config_dir(config_dir=str(local_conf), version_base="1.3"):
        cfg = compose("primary", overrides=["dataset=cifar10", "dataset.pad_mode=diagonal"])
    with pytest.raises(ConfigError, match="dataset.pad_mode='diagonal'"):
        validate(cfg)


@pytest.mark.parametrize("option", DATASET_OPTIONS)
def test_root_config_composes(option: str, tmp_path: Path) -> None:
    register_schemas()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        try:
            cfg = compose("config", overrides=[f"dataset={option}", f"dataset.root={tmp_path}"])
        except MissingConfigException as exc:
            if "dataset" in str(exc).split("\n")[0]:
                raise
            pytest.skip(f"another config group is not there yet: {str(exc).splitlines()[0]}")
    assert cfg.dataset.name == option and cfg.dataset.root == str(tmp_path)
