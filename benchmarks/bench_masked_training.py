"""Figure 2: one training epoch of a model pruned to 90 % sparsity against the same dense model.

Both sides run ``repro.train.fit`` on the job the config builds (data, model, optimizer, schedule). The pruned
side holds the masks one-shot magnitude pruning leaves at 90 % and re-applies them after every optimizer
step (``Masks.apply``); the dense side is the same loop with nothing to apply. The ratio is the masking
overhead (target <= 1.10x); the time of ``Masks.apply`` alone is printed beside it.

    python benchmarks/bench_masked_training.py [--models resnet18 lenet300] [--batches 10] [--repeats 5]
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import torch

from repro.loop.job import build_job
from repro.precheck import compose_checked
from repro.pruning.base import PruneContext
from repro.train import fit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import compare, parser, report, setup  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MNIST_ROOT = (REPO / ".." / "shared" / "data").resolve()

# model -> (dataset overrides, batch size): CIFAR-shaped synthetic images for the ResNet, MNIST for LeNet.
SETUPS: dict[str, tuple[list[str], int]] = {
    "resnet18": (["dataset=synthetic", "dataset.image_size=32", "dataset.channels=3"], 64),
    "lenet300": (["dataset=mnist", f"dataset.root={MNIST_ROOT}"], 128),
    "lenet5": (["dataset=mnist", f"dataset.root={MNIST_ROOT}"], 128),
    "resnet32": (["dataset=synthetic", "dataset.image_size=32", "dataset.channels=3"], 64),
}


class NoMasks:
    """The dense side: the loop's ``masks.apply()`` call costs nothing."""

    def apply(self) -> None:
        pass


def bench(model: str, batches: int, args) -> float:
    dataset, batch = SETUPS[model]
    if "dataset=mnist" in dataset and not (MNIST_ROOT / "MNIST" / "raw").is_dir():
        dataset = ["dataset=synthetic", "dataset.image_size=28", "dataset.channels=1"]
    cfg = compose_checked(
        [
            f"model={model}",
            *dataset,
            f"dataset.train_size={batches * batch}",
            "pruner=oneshot",
            "pruner.sparsity=0.9",
            f"trainer.batch_size={batch}",
            f"trainer.max_batches={batches}",
            "logger=none",
        ]
    )
    job = build_job(cfg)
    dense = copy.deepcopy(job.model)
    job.pruner.prune(job.masks, PruneContext(model=job.model, step=1, device=job.device))
    job.masks.apply()

    def epoch(model_: torch.nn.Module, masks) -> None:
        gen = torch.Generator().manual_seed(0)
        loader = job.data.loader("train", batch, train=True, generator=gen, max_batches=batches)
        fit(model_, masks, lambda _: loader, cfg.trainer, 1, job.device)

    pruned, plain = f"pruned 90% (sparsity {job.masks.sparsity():.3f})", "dense, no masks"
    timings = compare(
        {pruned: lambda: epoch(job.model, job.masks), plain: lambda: epoch(dense, NoMasks())},
        args.repeats,
        args.warmup,
    )
    n = batches * batch
    ratio = report(
        f"{model}: one epoch of {batches} batches x {batch}",
        timings,
        (pruned, plain),
        "images/s",
        n,
        "masking overhead",
    )
    start, calls = time.perf_counter(), 200
    for _ in range(calls):
        job.masks.apply()
    apply_ms = (time.perf_counter() - start) / calls * 1e3
    share = apply_ms * batches / (timings[plain].median * 1e3)
    print(
        f"   Masks.apply alone: {apply_ms:.3f} ms per optimizer step = {share * 100:.2f} % of a dense epoch "
        f"({job.masks.total()} prunable weights)"
    )
    assert float(sum((m.weight == 0).sum() for m in job.masks.modules.values())) >= 0.9 * job.masks.total()
    return ratio


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["resnet18", "lenet300"], choices=sorted(SETUPS))
    p.add_argument("--batches", type=int, default=10, help="batches per epoch")
    args = p.parse_args()
    setup(args)
    ratios = [bench(m, args.batches, args) for m in args.models]
    print(f"RESULT masking overhead: {' / '.join(f'{r:.3f}x' for r in ratios)} (target <= 1.10x)")


if __name__ == "__main__":
    main()
