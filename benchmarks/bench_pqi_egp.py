"""Figure 4: PQ Index at all three scopes, and the EGP allocation, on a ResNet-18-sized model (milliseconds).

PQI. Suite: ``repro.metrics.pqi`` (one batched power-sum pass per layer and exponent, every scope derived
from the rows' sums). Baseline: the textbook formula ``1 - d^(1/q - 1/p) ||w||_p / ||w||_q`` with
``torch.linalg.vector_norm`` over each unit's surviving weights, each scope computed on its own. The values
of both are compared, then timed per scope and for the three scopes together.

EGP. Suite: one ``EGPPruner.prune`` step (entropy x mean |w| irrelevance, capped softmax allocation,
layer-wise magnitude pruning) from the entropies the ``egp`` probe measures on one batch. Baseline: a plain
global magnitude prune of the same number of weights (one-shot). ``allocate`` alone is timed too.

    python benchmarks/bench_pqi_egp.py [--model resnet18] [--repeats 7]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from repro.masks import Masks
from repro.metrics.pqi import layer_power_sums, scope_grid, scope_pqi
from repro.metrics.registry import measure
from repro.models import build_model
from repro.precheck import compose_checked
from repro.pruning.base import PruneContext
from repro.pruning.counts import ESTIMATORS, allocate
from repro.pruning.egp import EGPPruner
from repro.pruning.method import ComposedPruner
from repro.pruning.schemas import EGPConfig, OneShotConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import compare, parser, report, setup  # noqa: E402

SCOPES = ("global", "layer", "neuron")


def _pqi(norm_p: torch.Tensor, norm_q: torch.Tensor, d: torch.Tensor, p: float, q: float) -> torch.Tensor:
    ok = (d > 0) & (norm_q > 0)
    value = 1 - d.clamp_min(1) ** (1 / q - 1 / p) * norm_p / norm_q.clamp_min(1e-300)
    return torch.where(ok, value, torch.zeros_like(value))


def plain_pqi(masks: Masks, scope: str, p: float, q: float):
    """PQI per unit from vector norms of the masked weights (float64), one scope at a time."""
    weights = {n: (masks.weight(n).detach() * masks[n]).double() for n in masks}
    if scope == "global":
        flat = torch.cat([w.reshape(-1) for w in weights.values()])
        d = torch.tensor(float(masks.remaining()), dtype=torch.float64)
        norms = [torch.linalg.vector_norm(flat, ord=e) for e in (p, q)]
        return float(_pqi(*norms, d, p, q))
    out = {}
    for n, w in weights.items():
        if scope == "layer":
            d = masks[n].sum().double()
            out[n] = float(_pqi(*(torch.linalg.vector_norm(w, ord=e) for e in (p, q)), d, p, q))
        else:
            rows = w.reshape(w.shape[0], -1)
            d = masks[n].reshape(w.shape[0], -1).sum(dim=1).double()
            out[n] = _pqi(*(torch.linalg.vector_norm(rows, ord=e, dim=1) for e in (p, q)), d, p, q)
    return out


def suite_all_scopes(masks: Masks, p: float, q: float) -> list:
    """The three scopes from one power-sum pass, as a step's record computes them."""
    rows = layer_power_sums(masks, sorted({p, q}))
    return [scope_grid(rows, s, [p], [q]) for s in SCOPES]


def max_difference(a, b) -> float:
    if isinstance(a, float):
        return abs(a - b)
    return max(
        float((torch.as_tensor(a[n]).double() - torch.as_tensor(b[n]).double()).abs().max()) for n in a
    )


def bench_pqi(masks: Masks, args) -> float:
    p, q = 0.5, 1.0
    ratios = []
    for scope in SCOPES:
        diff = max_difference(scope_pqi(masks, scope, p, q), plain_pqi(masks, scope, p, q))
        print(f"   {scope} PQI: largest difference suite vs plain {diff:.2e}")
        assert diff < 1e-6, (scope, diff)
        suite, plain = f"suite scope_pqi({scope})", f"plain vector_norm ({scope})"
        timings = compare(
            {
                suite: lambda s=scope: scope_pqi(masks, s, p, q),
                plain: lambda s=scope: plain_pqi(masks, s, p, q),
            },
            args.repeats,
            args.warmup,
        )
        ratios.append(report(f"PQI, {scope} scope", timings, (plain, suite), "calls/s", 1, "speed-up"))
    suite, plain = "suite: 3 scopes from one pass", "plain: 3 scopes one by one"
    timings = compare(
        {
            suite: lambda: suite_all_scopes(masks, p, q),
            plain: lambda: [plain_pqi(masks, s, p, q) for s in SCOPES],
        },
        args.repeats,
        args.warmup,
    )
    return report("PQI, all three scopes", timings, (plain, suite), "calls/s", 1, "speed-up")


def bench_egp(model: torch.nn.Module, masks: Masks, args) -> float:
    x = torch.randn(64, 3, 32, 32)
    probe = measure(["egp"], model, [(x, torch.randint(0, 10, (64,)))], 10)["egp"]
    entropy = {n: float(v) for n, v in probe[ESTIMATORS["batch"]].items() if n in masks}
    egp = EGPPruner.of(EGPConfig(rate=0.5))
    ctx = PruneContext(model=model, step=1, device=torch.device("cpu"), measurements={"egp": probe})

    def reset() -> None:
        for n in masks:
            masks.masks[n].fill_(True)

    reset()
    egp.prune(masks, ctx)
    pruned = masks.total() - masks.remaining()
    print(f"   EGP step: {len(entropy)} rectified layers, {pruned} weights pruned")
    print(f"   allocation: {egp.last_allocation}")
    magnitude = ComposedPruner.of(OneShotConfig(sparsity=pruned / masks.total(), scope="global"))

    def egp_step() -> None:
        reset()
        egp.prune(masks, ctx)

    def magnitude_step() -> None:
        reset()
        magnitude.prune(masks, ctx)

    suite, plain = "suite: EGPPruner.prune", "plain: global magnitude prune"
    timings = compare({suite: egp_step, plain: magnitude_step}, args.repeats, args.warmup)
    ratio = report("EGP pruning step", timings, (suite, plain), "steps/s", 1, "EGP step / magnitude step")
    remaining = {n: int(masks[n].numel()) for n in entropy}
    mean_abs = {n: float(masks.weight(n).detach().abs().mean()) for n in entropy}
    start, calls = time.perf_counter(), 1000
    for _ in range(calls):
        allocate(entropy, mean_abs, remaining, 0.5)
    print(f"   allocate() alone: {(time.perf_counter() - start) / calls * 1e3:.3f} ms")
    return ratio


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--model", default="resnet18", help="a model config (conf/model/*.yaml)")
    args = p.parse_args()
    setup(args)
    cfg = compose_checked([f"model={args.model}", "logger=none"])
    torch.manual_seed(0)
    model = build_model(cfg.model, in_channels=3, num_classes=10, image_size=32)
    masks = Masks.for_model(model)
    print(f"   {args.model}: {masks.total()} prunable weights in {len(list(masks))} layers")
    with torch.no_grad():  # a pruned model: 50 % of every layer masked at random
        for n in masks:
            masks.masks[n] = torch.rand(masks[n].shape) < 0.5
        masks.apply()
    pqi = bench_pqi(masks, args)
    egp = bench_egp(model, Masks.for_model(model), args)
    print(f"RESULT PQI three scopes speed-up {pqi:.2f}x; EGP step / magnitude step {egp:.2f}x")


if __name__ == "__main__":
    main()
