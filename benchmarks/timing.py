"""The one timing rule every benchmark shares: warm up, then the median of several repeats.

The median rather than the mean because the machines these run on are often shared: one slow repeat (another
process waking up) should not move the figure. Baseline and suite path are timed alternately in the same
process, so a change in machine load hits both sides alike.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass
class Timing:
    """Seconds per call of one contender: every repeat, and their median."""

    name: str
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def spread(self) -> float:
        """Relative half-range of the repeats (how noisy the figure is)."""
        return (max(self.seconds) - min(self.seconds)) / (2 * self.median) if self.median > 0 else 0.0


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = CLOCKS["wall"]


def compare(
    contenders: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1
) -> dict[str, Timing]:
    """Time each callable ``repeats`` times after ``warmup`` untimed calls, interleaving the contenders.

    The clock is wall time unless ``--clock cpu`` chose this process's CPU time (see :func:`parser`).
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    _sync()
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            _sync()
            start = _clock()
            fn()
            _sync()
            seconds[name].append(_clock() - start)
    return {name: Timing(name, s) for name, s in seconds.items()}


def machine() -> str:
    """One line naming the CPU (and GPU), the threads torch uses and the versions, for the README table."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{cpu} ({cores} cores, torch threads {torch.get_num_threads()}){gpu}, torch {torch.__version__}"


def parser(description: str) -> argparse.ArgumentParser:
    """Command-line options every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per contender (median reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls before timing")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall: elapsed time; cpu: this process's CPU time, steadier on a machine shared with other "
        "work, meaningful for one thread in one process only",
    )
    return p


def setup(args: argparse.Namespace) -> None:
    global _clock
    if args.threads:
        torch.set_num_threads(args.threads)
    _clock = CLOCKS[args.clock]
    print(f"machine: {machine()}; clock: {args.clock}", flush=True)


def report(
    title: str, timings: dict[str, Timing], ratio: tuple[str, str], unit: str, work: float, label: str
) -> float:
    """Print one line per contender (``work / seconds`` in ``unit``) and ``label = t[a] / t[b]``.

    For a speed-up pass ``(baseline, suite)`` (above 1: the suite is faster); for an overhead pass
    ``(suite, baseline)`` (1.05: the suite takes 5 % longer).
    """
    print(f"== {title}")
    for name, t in timings.items():
        rate = work / t.median if t.median > 0 else float("inf")
        print(
            f"   {name:<36} {t.median * 1e3:10.2f} ms  {rate:12.1f} {unit}  "
            f"(+-{t.spread * 100:.0f}%, n={len(t.seconds)})"
        )
    a, b = ratio
    value = timings[a].median / timings[b].median
    print(f"   {label} = {a} / {b} = {value:.2f}x", flush=True)
    return value
