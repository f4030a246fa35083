"""Figure 1: images per second of the suite's data path against a torchvision DataLoader with PIL transforms.

Baseline: the way the papers' code loads CIFAR-10 (a map-style dataset returning a PIL image per index,
``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip``, ``ToTensor``, ``Normalize``; collated by a
``DataLoader``) and MNIST (torchvision's ``MNIST`` with ``ToTensor`` + ``Normalize``). Suite: ``build_data``
from the composed config, then ``Data.loader(...)`` (uint8 tensors in memory, batched tensor augmentation).
Both sides run the same number of training epochs over the same images and yield float32 [B, C, H, W].

    python benchmarks/bench_data.py [--samples 10000] [--workers 0 2] [--repeats 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets, transforms

from repro.data import build_data
from repro.precheck import compose_checked

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import compare, parser, report, setup  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class PILImages(Dataset):
    """A torchvision-style dataset: HWC uint8 array in memory, one PIL image per ``__getitem__``."""

    def __init__(self, images: np.ndarray, labels: list[int], transform: transforms.Compose) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[i])), self.labels[i]


def consume(batches) -> int:
    """Iterate one epoch; the checksum keeps every batch alive until it is produced."""
    n = 0
    for x, y in batches:
        n += y.shape[0]
        assert x.dtype == torch.float32
    return n


def data_loader(dataset: Dataset, batch: int, workers: int) -> DataLoader:
    return DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers, drop_last=False)


def bench(name: str, data, dataset: Dataset, batch: int, workers: list[int], args) -> list[float]:
    n = len(data.train)
    gen = torch.Generator().manual_seed(0)
    suite = "suite: Data.loader"
    contenders = {suite: lambda: consume(data.loader("train", batch, train=True, generator=gen))}
    for w in workers:
        contenders[f"DataLoader+PIL, {w} workers"] = lambda w=w: consume(data_loader(dataset, batch, w))
    timings = compare(contenders, args.repeats, args.warmup)
    ratios = []
    for w in workers:
        baseline = f"DataLoader+PIL, {w} workers"
        ratios.append(
            report(
                f"{name}: {n} images, batch {batch} (one training epoch)",
                {k: timings[k] for k in (suite, baseline)},
                (baseline, suite),
                "images/s",
                n,
                "speed-up",
            )
        )
    return ratios


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=10000, help="training images per epoch")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader worker counts")
    p.add_argument("--mnist-root", default=str((REPO / ".." / "shared" / "data").resolve()))
    args = p.parse_args()
    setup(args)

    # Synthetic CIFAR-shaped data with CIFAR-10's augmentation, through the config system.
    cfg = compose_checked(
        [
            "dataset=synthetic",
            f"dataset.train_size={args.samples}",
            "dataset.image_size=32",
            "dataset.augment=true",
            "dataset.crop_padding=4",
            "dataset.flip=true",
        ]
    )
    data = build_data(cfg.dataset)
    hwc = data.train.images.permute(0, 2, 3, 1).contiguous().numpy()
    cifar_tf = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
        ]
    )
    cifar = PILImages(hwc, data.train.labels.tolist(), cifar_tf)
    best = [min(bench("synthetic CIFAR", data, cifar, args.batch, args.workers, args))]

    mnist_raw = Path(args.mnist_root) / "MNIST" / "raw" / "train-images-idx3-ubyte"
    if mnist_raw.is_file():
        cfg = compose_checked(["dataset=mnist", f"dataset.root={args.mnist_root}"])
        data = build_data(cfg.dataset)
        mnist_tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
        mnist = datasets.MNIST(args.mnist_root, train=True, transform=mnist_tf)
        best.append(min(bench("real MNIST", data, mnist, args.batch, args.workers, args)))
    else:
        print(f"== real MNIST: skipped, {mnist_raw} not found (pass --mnist-root)")
    print(
        f"RESULT data speed-up against the fastest baseline: {' / '.join(f'{r:.2f}x' for r in best)}"
        " (target >= 5x)"
    )


if __name__ == "__main__":
    main()
