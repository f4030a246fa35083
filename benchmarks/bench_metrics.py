"""Figure 3: one pass computing EGP entropy and PSP-entropy together against a plain evaluation pass.

Suite: ``repro.metrics.registry.measure(["egp", "psp"], ...)``, the call a step makes for
``entropy=egp_psp`` (streaming probes on forward hooks, one forward per batch, the EGP layer map traced on
the first batch). Baseline: ``repro.train.evaluate`` over the same batches (forward, loss, accuracy). The
ratio is the metric pass's cost in plain evaluation passes (target <= 1.3x). Probes not registered yet are
skipped with a message.

    python benchmarks/bench_metrics.py [--models resnet18 lenet300] [--batches N] [--repeats 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

from repro.data import build_data
from repro.metrics.registry import available, measure
from repro.models import build_model
from repro.precheck import compose_checked
from repro.train import evaluate, resolve_device

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import compare, parser, report, setup  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MNIST_ROOT = (REPO / ".." / "shared" / "data").resolve()
WANTED = ("egp", "psp")
# model -> dataset overrides, evaluation batch size, default batches per pass (a step measures on the whole
# test split: MNIST's 10 batches of 1000; 20 of CIFAR-10's 79 batches of 128 keep the CPU run short).
SETUPS: dict[str, tuple[list[str], int, int]] = {
    "resnet18": (["dataset=synthetic", "dataset.image_size=32", "dataset.channels=3"], 128, 20),
    "lenet300": (["dataset=mnist", f"dataset.root={MNIST_ROOT}"], 1000, 10),
    "lenet5": (["dataset=mnist", f"dataset.root={MNIST_ROOT}"], 1000, 10),
}


def bench(model_name: str, names: list[str], batches: int | None, args) -> float:
    dataset, batch, default_batches = SETUPS[model_name]
    batches = batches or default_batches
    if "dataset=mnist" in dataset and not (MNIST_ROOT / "MNIST" / "raw").is_dir():
        dataset = ["dataset=synthetic", "dataset.image_size=28", "dataset.channels=1"]
    cfg = compose_checked(
        [
            f"model={model_name}",
            *dataset,
            f"dataset.test_subset={batches * batch}",
            f"dataset.test_size={batches * batch}",
            "logger=none",
        ]
    )
    device = resolve_device(cfg.trainer.device)
    data = build_data(cfg.dataset, device=device)
    model = build_model(
        cfg.model, in_channels=data.in_channels, num_classes=data.num_classes, image_size=data.image_size
    ).to(device)

    def loader():
        return data.loader("test", batch, train=False)

    suite, plain = f"measure({names}) in one pass", "evaluate (plain pass)"
    timings = compare(
        {
            suite: lambda: measure(names, model, loader(), data.num_classes),
            plain: lambda: evaluate(model, loader(), device),
        },
        args.repeats,
        args.warmup,
    )
    n = len(data.test)
    results = measure(names, model, loader(), data.num_classes)
    summary = ", ".join(
        f"{name}: {sum(1 for k in r if not k.startswith('_'))} scalars" for name, r in results.items()
    )
    print(f"   ({summary}; {n} test images)")
    return report(
        f"{model_name}: {batches} batches x {batch}",
        timings,
        (suite, plain),
        "images/s",
        n,
        "metric pass / plain eval",
    )


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["resnet18", "lenet300"], choices=sorted(SETUPS))
    p.add_argument(
        "--batches", type=int, default=None, help="evaluation batches per pass (default per model)"
    )
    args = p.parse_args()
    setup(args)
    registered = available()
    names = [n for n in WANTED if n in registered]
    for n in WANTED:
        if n not in registered:
            print(f"probe {n!r} is not registered (registered: {registered}); skipping it")
    if not names:
        print("RESULT skipped: no probe of", list(WANTED), "is registered yet")
        return
    ratios = [bench(m, names, args.batches, args) for m in args.models]
    print(f"RESULT metric pass / plain eval: {' / '.join(f'{r:.2f}x' for r in ratios)} (target <= 1.3x)")


if __name__ == "__main__":
    main()
