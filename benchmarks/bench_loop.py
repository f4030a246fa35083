"""Figure 6: the suite's training loop against a plain PyTorch loop, and both against the sgemm limit.

Per model, one epoch (or ``--batches`` of it) of a network pruned to 90 % (one-shot magnitude masks), with
the optimizer its preset uses:

- suite fit: ``repro.train.fit`` on the job ``compose_checked`` / ``build_job`` build: batches from the seeded
  ``Batches`` factory over the uint8 store, masks re-applied after every step (``Masks.apply``), the epoch's
  train loss and accuracy recorded; no test evaluation (the plain loop has none either).
- plain loop: the same model and optimizer (the ``torch.optim`` object ``make_optimizer`` returns) on the
  training split normalised to float32 once, in memory: a random permutation per epoch, index batches,
  ``zero_grad`` / forward / cross-entropy / ``backward`` / ``step``, then the mask multiply a pruned loop
  needs (one ``torch._foreach_mul_`` by float masks). Nothing recorded.
- sgemm limit: the forward + backward FLOPs of the timed batches (the model's Linear and Conv layers, dense,
  3x the forward) divided by the sgemm rate measured in the same run (a large ``torch.mm``).

    python benchmarks/bench_loop.py --threads 1 --clock cpu [--models lenet300 lenet5 resnet18] [--batches N]
"""

from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from repro.loop.batches import Batches
from repro.loop.job import build_job
from repro.precheck import compose_checked
from repro.pruning.base import PruneContext
from repro.train import fit, make_optimizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import compare, parser, setup  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MNIST_ROOT = (REPO / ".." / "shared" / "data").resolve()
CIFAR_SHAPED = ["dataset=synthetic", "dataset.image_size=32", "dataset.channels=3"]


@dataclass(frozen=True)
class Setup:
    """One row: the model, its data and the trainer overrides of the preset it trains under."""

    dataset: list[str]
    trainer: list[str]
    batches: int | None  # default slice of the epoch; None: the whole epoch
    preset: str


SETUPS: dict[str, Setup] = {
    # experiment=lottery/mnist_lenet300_100: Adam lr 1.2e-3, batch 60, constant rate
    "lenet300": Setup(
        ["dataset=mnist"],
        [
            "trainer.optimizer=adam",
            "trainer.lr=1.2e-3",
            "trainer.weight_decay=0",
            "trainer.schedule=constant",
            "trainer.batch_size=60",
        ],
        None,
        "lottery: Adam, batch 60",
    ),  # fmt: skip
    # the one-shot vs gradual presets: trainer=lobster (SGD lr 0.1, no momentum, batch 100)
    "lenet5": Setup(["dataset=mnist"], ["trainer=lobster"], 100, "lobster: SGD, batch 100"),
    # the EGP presets: trainer=egp (SGD lr 0.1, momentum 0.9, weight decay 1e-4, batch 128)
    "resnet18": Setup(CIFAR_SHAPED, ["trainer=egp"], 4, "egp: SGD momentum, batch 128"),
}


def compose(model: str, setup: Setup, root: Path, batches: int | None):
    """The job's config: the preset's trainer, 90 % one-shot masks (MNIST-shaped synthetic if no MNIST)."""
    trainer = [f"model={model}", *setup.trainer, "pruner=oneshot", "pruner.sparsity=0.9", "logger=none"]
    if setup.dataset == ["dataset=mnist"] and (root / "MNIST" / "raw").is_dir():
        return compose_checked([*trainer, "dataset=mnist", f"dataset.root={root}"])
    shape = CIFAR_SHAPED if setup.dataset == CIFAR_SHAPED else ["dataset=synthetic", "dataset.image_size=28",
                                                               "dataset.channels=1"]  # fmt: skip
    size = compose_checked(trainer).trainer.batch_size * batches if batches is not None else 60000
    return compose_checked([*trainer, *shape, f"dataset.train_size={size}"])


def flops_per_sample(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds x 2 of one forward pass through the Linear and Conv layers, for one sample of ``x``."""
    total = 0

    def count(module: nn.Module, _inputs, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Linear):
            total += 2 * out.numel() * module.in_features
        else:
            kernel = module.weight[0].numel()  # in_channels / groups x kernel size
            total += 2 * out.numel() * kernel

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(x[:1])
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total


def sgemm_rate(repeats: int, size: int = 1536) -> float:
    """FLOP/s of a square float32 ``torch.mm`` (median of ``repeats``, on the benchmark's clock)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / compare({"mm": lambda: torch.mm(a, b)}, repeats, 1)["mm"].median


def bench(model_name: str, batches: int | None, root: Path, rate: float, args) -> dict:
    setup = SETUPS[model_name]
    cfg = compose(model_name, setup, root, batches)
    job = build_job(cfg)
    job.pruner.prune(job.masks, PruneContext(model=job.model, step=1, device=job.device))
    job.masks.apply()
    size = cfg.trainer.batch_size
    source = Batches(job.data, cfg.seed, size, cfg.trainer.eval_batch_size, batches)
    n_batches = len(source("train", train=True))
    samples = source("train", train=True).num_samples

    def suite() -> None:
        epochs = lambda epoch: source("train", train=True, step=1, epoch=epoch)  # noqa: E731
        fit(job.model, job.masks, epochs, cfg.trainer, 1, job.device)

    model = copy.deepcopy(job.model)
    weights = [dict(model.named_modules())[n].weight for n in job.masks]
    factors = [job.masks[n].float() for n in job.masks]
    train = job.data.train
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (job.data.mean, job.data.std))
    images = (train.images.float() / 255.0 - mean) / std  # normalised once, outside the timed loop
    labels = train.labels
    order = torch.Generator().manual_seed(0)

    def plain() -> None:
        opt = make_optimizer(model.parameters(), cfg.trainer)  # a torch.optim.Adam or SGD, nothing more
        model.train()
        perm = torch.randperm(labels.shape[0], generator=order)[:samples]
        for start in range(0, samples, size):
            index = perm[start : start + size]
            x, y = images[index], labels[index]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            with torch.no_grad():
                torch._foreach_mul_(weights, factors)

    timings = compare({"suite": suite, "plain": plain}, args.repeats, args.warmup)
    flops = 3 * flops_per_sample(model, images) * samples
    data = "MNIST" if cfg.dataset.name == "mnist" else "synthetic"
    shape = "x".join(str(d) for d in images.shape[1:])
    return {
        "model": model_name,
        "data": f"{data} {shape}",
        "batches": f"{n_batches} x {size}"
        + ("" if n_batches == math.ceil(len(train) / size) else " (slice)"),
        "preset": setup.preset,
        "suite": timings["suite"],
        "plain": timings["plain"],
        "limit": flops / rate,
        "gflop": flops / 1e9,
    }


COLUMNS = ["model", "data", "batches", "optimizer (preset)", "suite fit, s", "plain loop, s", "suite / plain",
           "sgemm limit, s", "plain / limit"]  # fmt: skip


def table(rows: list[dict], rate: float) -> str:
    lines = [
        f"sgemm rate: {rate / 1e9:.1f} GFLOP/s (float32 torch.mm 1536^3, one thread)",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for r in rows:
        s, p = r["suite"].median, r["plain"].median
        cells = [
            r["model"],
            r["data"],
            r["batches"],
            r["preset"],
            f"{s:.3f} (+-{r['suite'].spread:.0%})",
            f"{p:.3f} (+-{r['plain'].spread:.0%})",
            f"**{s / p:.3f}x**",
            f"{r['limit']:.3f} ({r['gflop']:.0f} GFLOP)",
            f"{p / r['limit']:.2f}x",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(SETUPS), choices=sorted(SETUPS))
    p.add_argument("--batches", type=int, default=None, help="batches per timed epoch (default: per model)")
    p.add_argument("--data-root", type=Path, default=MNIST_ROOT, help="folder holding MNIST/raw")
    args = p.parse_args()
    setup(args)
    rows = []
    rate = sgemm_rate(args.repeats)
    for name in args.models:
        batches = args.batches if args.batches is not None else SETUPS[name].batches
        rows.append(bench(name, batches, args.data_root.resolve(), rate, args))
        print(
            f"   {name}: suite {rows[-1]['suite'].median:.3f} s, plain {rows[-1]['plain'].median:.3f} s",
            flush=True,
        )
    rate = max(rate, sgemm_rate(args.repeats))  # again at the end: the better of two, on a shared machine
    for r in rows:
        r["limit"] = r["gflop"] * 1e9 / rate
    print(table(rows, rate))
    ratios = " / ".join(f"{r['suite'].median / r['plain'].median:.3f}x" for r in rows)
    print(f"RESULT suite fit / plain loop: {ratios} (target <= 1.10x)")


if __name__ == "__main__":
    main()
