"""Figure 5: a ResNet-18 CIFAR epoch on the GPU, the suite's path against fp32 eager with a DataLoader.

Suite: the job the config builds with ``trainer.device=cuda`` (images as uint8 on the GPU, tensor
augmentation there, bf16 autocast, channels_last), trained by ``repro.train.fit``; ``--compile`` adds
``torch.compile`` of the model's forward (``nn.Module.compile``: parameter names unchanged). Baseline: the
papers' way: a torchvision-style dataset of PIL images with ``RandomCrop(32, padding=4)``,
``RandomHorizontalFlip``, ``ToTensor``, ``Normalize`` through a ``DataLoader`` (worker processes, pinned
memory), fp32, eager, NCHW. Both run SGD on CIFAR-shaped synthetic data for one epoch; the figure is images
per second, the ratio, and the fraction of the GPU's dense bf16 peak the suite reaches (model FLOPs of the
training step counted by ``torch.utils.flop_counter``).

On a machine without CUDA it prints why and exits with status 0 (``--device cpu --samples 512`` runs the
same code on the CPU, to check the script, not to measure).

    python benchmarks/bench_gpu.py [--samples 50000] [--batch 128] [--compile] [--workers 8] [--repeats 5]
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import compare, parser, report, setup  # noqa: E402

# Dense bf16 tensor-core peak (TFLOP/s, no sparsity) by device-name fragment; --peak-tflops overrides.
BF16_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 80GB HBM3": 989.0,
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "H100": 756.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10G": 70.0,
    "V100": 125.0,  # fp16 tensor cores (no bf16)
}


def peak_tflops(name: str) -> float | None:
    for fragment, peak in BF16_PEAK_TFLOPS.items():
        if fragment in name:
            return peak
    return None


def train_step_flops(model: torch.nn.Module, batch: int, device: torch.device) -> float:
    """FLOPs of one forward + backward of ``model`` on ``batch`` CIFAR images (matmuls and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    probe = copy.deepcopy(model).float().to(memory_format=torch.contiguous_format)
    x = torch.randn(batch, 3, 32, 32, device=device)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(probe(x), torch.zeros(batch, dtype=torch.long, device=device)).backward()
    return float(counter.get_total_flops())


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=50000, help="training images per epoch (CIFAR-10: 50000)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--workers", type=int, default=8, help="DataLoader worker processes of the baseline")
    p.add_argument("--compile", action="store_true", help="torch.compile the suite's model")
    p.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="cpu: check the script only")
    args = p.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench_gpu: no CUDA device is visible; this benchmark needs a GPU (nothing was measured).")
        return
    setup(args)

    from bench_data import CIFAR_MEAN, CIFAR_STD, PILImages
    from torch.utils.data import DataLoader
    from torchvision import transforms

    from repro.loop.job import build_job
    from repro.precheck import compose_checked
    from repro.train import fit

    torch.backends.cudnn.benchmark = True
    cfg = compose_checked(
        [
            "model=resnet18",
            "dataset=synthetic",
            f"dataset.train_size={args.samples}",
            "dataset.image_size=32",
            "dataset.augment=true",
            "dataset.crop_padding=4",
            "dataset.flip=true",
            f"trainer.device={args.device}",
            "trainer.amp=true",
            "trainer.channels_last=true",
            f"trainer.batch_size={args.batch}",
            "logger=none",
        ]
    )
    job = build_job(cfg)
    device = job.device
    baseline_model = copy.deepcopy(job.model).to(memory_format=torch.contiguous_format)
    flops_per_image = train_step_flops(baseline_model, args.batch, device) / args.batch
    if args.compile:
        job.model.compile()

    def suite_epoch() -> None:
        loader = job.data.loader("train", args.batch, train=True, generator=torch.Generator().manual_seed(0))
        fit(job.model, job.masks, lambda _: loader, cfg.trainer, 1, device)

    hwc = job.data.train.images.permute(0, 2, 3, 1).contiguous().cpu().numpy()
    labels = job.data.train.labels.cpu().tolist()
    tf = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
        ]
    )
    dataset = PILImages(hwc, labels, tf)
    opt = torch.optim.SGD(baseline_model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)

    def baseline_epoch() -> None:
        baseline_model.train()
        loader = DataLoader(
            dataset,
            batch_size=args.batch,
            shuffle=True,
            num_workers=args.workers,
            pin_memory=device.type == "cuda",
            persistent_workers=False,
        )
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.cross_entropy(baseline_model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    suite = "suite: on-device data, bf16, channels_last" + (", compiled" if args.compile else "")
    plain = f"fp32 eager, DataLoader+PIL ({args.workers} workers)"
    timings = compare({suite: suite_epoch, plain: baseline_epoch}, args.repeats, args.warmup)
    ratio = report(
        f"ResNet-18, CIFAR-shaped synthetic data, one epoch of {args.samples} images, batch {args.batch}",
        timings,
        (plain, suite),
        "images/s",
        args.samples,
        "speed-up",
    )
    rate = args.samples / timings[suite].median
    achieved = rate * flops_per_image / 1e12
    gpu = torch.cuda.get_device_name() if device.type == "cuda" else "no GPU"
    peak = args.peak_tflops or peak_tflops(gpu)
    share = f"{achieved / peak * 100:.1f} % of the {peak:.0f} TFLOP/s bf16 peak" if peak else "peak unknown"
    print(f"   model FLOPs {flops_per_image / 1e9:.2f} GFLOP per image (forward + backward)")
    print(f"   suite reaches {achieved:.1f} TFLOP/s = {share}")
    print(f"RESULT GPU speed-up {ratio:.2f}x (target >= 3x); {rate:.0f} images/s; {share}")


if __name__ == "__main__":
    main()
