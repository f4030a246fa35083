"""Measure what the shallower network saves: structure, FLOPs, latency, and agreement with the pruned one."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from repro.metrics.dataflow import LAYERS, RECTIFIERS, trace
from repro.metrics.depth import build_shallow
from repro.metrics.entropy import EGPProbe, Rectified


@torch.no_grad()
def neuron_states(model: nn.Module, batches: Iterable) -> tuple[EGPProbe, dict, list[Rectified]]:
    """Run the egp probe over ``batches`` (eval mode); return it, the ON/OFF masks, the rectified layers."""
    probe = EGPProbe()
    was_training = model.training
    model.eval()
    probe.attach(model)
    try:
        for x, _ in batches:
            model(x)
    finally:
        probe.detach()
        model.train(was_training)
    return probe, probe.states(), probe.rectified()


def structure(model: nn.Module, example: torch.Tensor) -> dict[str, int]:
    """Rectifiers still nonlinear, conv/linear layers computed, parameters (all, non-zero), FLOPs/sample."""
    graph = trace(model, example)
    calls = graph.module_calls()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(example)
    return {
        "rectifiers": sum(1 for n in calls if isinstance(n.module, RECTIFIERS)),
        "weight_layers": sum(1 for n in calls if isinstance(n.module, LAYERS)),
        "params": sum(p.numel() for p in model.parameters()),
        "nonzero_params": sum(int((p != 0).sum()) for p in model.parameters()),
        "flops": counter.get_total_flops() // max(example.shape[0], 1),
    }


@torch.no_grad()
def latency_ms(model: nn.Module, example: torch.Tensor, repeats: int = 10, warmup: int = 2) -> float:
    """Median wall time of one forward of ``example`` in milliseconds."""
    model.eval()
    sync = torch.cuda.synchronize if example.is_cuda else (lambda: None)
    times = []
    for i in range(warmup + repeats):
        sync()
        start = time.perf_counter()
        model(example)
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


@torch.no_grad()
def compare(a: nn.Module, b: nn.Module, batches: Iterable) -> dict[str, float]:
    """Top-1 accuracy of both networks on ``batches``, the largest logit difference, prediction agreement."""
    a.eval()
    b.eval()
    correct_a = correct_b = agree = n = 0
    diff = 0.0
    for x, y in batches:
        out_a, out_b = a(x).float(), b(x).float()
        pa, pb = out_a.argmax(1), out_b.argmax(1)
        correct_a += int((pa == y).sum())
        correct_b += int((pb == y).sum())
        agree += int((pa == pb).sum())
        diff = max(diff, float((out_a - out_b).abs().max()))
        n += y.numel()
    return {"acc": correct_a / n, "shallow_acc": correct_b / n, "agreement": agree / n, "max_diff": diff}


def shallow_of(
    model: nn.Module, train_batches: Iterable, example: torch.Tensor
) -> tuple[nn.Module, dict[str, Any], EGPProbe, list[Rectified]]:
    """The shallower network of ``model`` with gates from one pass over ``train_batches`` (as EGP's
    entropy), what changed in it, the probe and the rectified layers; ``example`` is any input batch."""
    probe, states, rectified = neuron_states(model, train_batches)
    shallow, changes = build_shallow(model, rectified, states, example[:2])
    return shallow, changes, probe, rectified


def depth_report(
    model: nn.Module, train_batches: Iterable, test_batches: Callable[[], Iterable], latency_batch: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build the shallower network of ``model``; return the record's ``depth_*`` scalars and the report.

    The gates come from ``train_batches`` (one pass, as EGP's entropy); ``test_batches()`` gives a fresh
    pass over the test set for the accuracies and the latency example.
    """
    x, _ = next(iter(test_batches()))
    example = x[:latency_batch]
    shallow, changes, probe, rectified = shallow_of(model, train_batches, example)
    check = compare(model, shallow, test_batches())
    before, after = structure(model, example[:2]), structure(shallow, example[:2])
    speed = {"pruned": latency_ms(model, example), "shallow": latency_ms(shallow, example)}
    removed = before["rectifiers"] - after["rectifiers"]
    out = {
        "depth_rectified_layers": len(rectified),
        "depth_zero_entropy_layers": probe.result()["removed_layers"],
        "depth_removed_layers": removed,
        "depth_test_acc": check["acc"],
        "depth_shallow_test_acc": check["shallow_acc"],
        "depth_acc_equal": check["acc"] == check["shallow_acc"],
        "depth_agreement": check["agreement"],
        "depth_max_logit_diff": check["max_diff"],
        "depth_latency_batch": int(example.shape[0]),
        "depth_latency_ms": speed["pruned"],
        "depth_shallow_latency_ms": speed["shallow"],
    }
    for key, value in before.items():
        out[f"depth_{key}"] = value
        out[f"depth_shallow_{key}"] = after[key]
    return out, {**out, **changes}
