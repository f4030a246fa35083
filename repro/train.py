"""Training and evaluation loops, optimizer and schedule factories.

One optimizer and one schedule per pruning step (the papers restart both at every step). Masks are
re-applied after every optimizer step so pruned weights stay exactly zero.
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from repro.masks import Masks
from repro.pruning.base import TrainHook, TrainState


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, loss: float) -> None:
        super().__init__(f"training diverged at epoch {epoch} (loss={loss})")
        self.epoch = epoch
        self.loss = loss


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from repro.errors import bad_value

        raise bad_value("trainer.device", name, "no CUDA device is visible; use auto or cpu")
    return torch.device(name)


def make_optimizer(params: Iterable[nn.Parameter], cfg: Any) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(
        params,
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov and cfg.momentum > 0,
        weight_decay=cfg.weight_decay,
    )


def make_scheduler(opt: torch.optim.Optimizer, cfg: Any, epochs: int) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped once per epoch: cosine to 0 over ``epochs``, multi-step decay, or constant."""
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1), eta_min=0.0)
    if cfg.schedule == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def progress(batches: Iterable, desc: str | None) -> Iterable:
    """A progress bar on an interactive terminal; nothing in log files or captured output."""
    if desc is None or not sys.stderr.isatty():
        return batches
    from tqdm import tqdm

    return tqdm(batches, desc=desc, leave=False, dynamic_ncols=True)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (no loss scaling needed); a no-op on the CPU, where fp32 is faster."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(
    model: nn.Module, batches: Iterable, device: torch.device, amp: bool = False
) -> dict[str, float]:
    """Mean cross-entropy and top-1 accuracy over ``batches``."""
    model.eval()
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.long)
    n = 0
    for x, y in batches:
        with autocast(device, amp):
            out = model(x)
        loss_sum += F.cross_entropy(out.float(), y, reduction="sum")
        correct += (out.argmax(dim=1) == y).sum()
        n += y.numel()
    return {"loss": float(loss_sum) / max(n, 1), "acc": float(correct) / max(n, 1)}


@dataclass
class FitResult:
    history: list[dict[str, float]] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None
    best_acc: float = -1.0
    # Early stopping bookkeeping (``trainer.eval_every``): the iteration of minimum validation loss, the
    # validation and test metrics there, and the validation metrics at the end.
    early_stop: dict[str, float] = field(default_factory=dict)
    iterations: int = 0


class EarlyStop:
    """Tracks the minimum validation loss; the test set is measured only when that minimum moves.

    Equivalent to measuring both every ``eval_every`` iterations and reading the test accuracy at the
    minimum (the lottery-ticket protocol), at a fraction of the cost.
    """

    def __init__(self, validate: Callable[[], dict[str, float]], test: Callable[[], dict[str, float]]):
        self.validate = validate
        self.test = test
        self.best: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def check(self, iteration: int) -> None:
        val = self.validate()
        self.last = {"iteration": iteration, "val_loss": val["loss"], "val_acc": val["acc"]}
        if not self.best or val["loss"] < self.best["val_loss"]:
            test = self.test()
            self.best = {**self.last, "test_loss": test["loss"], "test_acc": test["acc"]}

    def summary(self) -> dict[str, float]:
        out = {f"early_stop_{k}": v for k, v in self.best.items()}
        out.update({f"end_{k}": v for k, v in self.last.items() if k != "iteration"})
        return out


class Tally:
    """An epoch's mean training loss and accuracy for the price of a few list appends per step.

    Bit for bit what adding ``loss * batch`` to a float64 sum and ``(argmax == y).sum()`` to an integer count
    after every step gives (a dozen small ops per step): the losses are summed in float64 in the same order
    at the end of the epoch, and predictions are counted ``every`` steps at once (an exact integer count).
    Nothing waits for the GPU before the end of the epoch.
    """

    def __init__(self, every: int = 32) -> None:
        self.every = every
        self.losses: list[torch.Tensor] = []
        self.sizes: list[int] = []
        self.outs: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []
        self.correct: torch.Tensor | int = 0

    def add(self, loss: torch.Tensor, out: torch.Tensor, y: torch.Tensor) -> None:
        self.losses.append(loss.detach())
        self.sizes.append(y.numel())
        self.outs.append(out.detach())
        self.labels.append(y)
        if len(self.outs) == self.every:
            self._count()

    @property
    def seen(self) -> int:
        return sum(self.sizes)

    def _count(self) -> None:
        if self.outs:
            hits = (torch.cat(self.outs).argmax(dim=1) == torch.cat(self.labels)).sum()
            self.correct = self.correct + hits
            self.outs, self.labels = [], []

    def result(self) -> tuple[float, float]:
        """(mean loss, accuracy) over the samples seen."""
        self._count()
        total = 0.0
        if self.losses:
            for value, size in zip(torch.stack(self.losses).double().tolist(), self.sizes):
                total += value * size
        seen = max(self.seen, 1)
        return total / seen, float(self.correct) / seen


def fit(
    model: nn.Module,
    masks: Masks,
    train_batches: Callable[[int], Iterable],
    cfg: Any,
    epochs: int,
    device: torch.device,
    evaluate_fn: Callable[[], dict[str, float]] | None = None,
    hook: TrainHook | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    keep_best: bool = False,
    desc: str | None = None,
    validate_fn: Callable[[], dict[str, float]] | None = None,
) -> FitResult:
    """Train for ``epochs`` (or ``cfg.iterations`` optimizer steps) with a fresh optimizer and schedule.

    ``train_batches(epoch)`` returns that epoch's batches; ``desc`` labels a progress bar (terminal only).
    ``evaluate_fn`` runs after each epoch: test metrics for the log and for ``keep_best`` (the weights with
    the best test accuracy, which the SAP code prunes from). With ``cfg.eval_every`` and ``validate_fn``
    the validation split is measured every that many iterations and at the end (early-stop bookkeeping).
    """
    iterations = getattr(cfg, "iterations", None)
    eval_every = getattr(cfg, "eval_every", None)
    early = EarlyStop(validate_fn, evaluate_fn) if eval_every and validate_fn and evaluate_fn else None
    opt = make_optimizer(model.parameters(), cfg)
    sched = make_scheduler(opt, cfg, epochs)
    amp, grad_clip = cfg.amp, cfg.grad_clip  # read once: a config attribute costs microseconds per step
    result = FitResult()
    iteration = 0
    epoch = 0
    masks.apply()
    while iterations is not None or epoch < epochs:
        model.train()
        batches = train_batches(epoch)
        per_epoch = len(batches) if hasattr(batches, "__len__") else 0
        total = iterations if iterations is not None else per_epoch * epochs
        tally = Tally()
        shown = f"{desc} epoch {epoch + 1}/{epochs if iterations is None else '-'}" if desc else None
        for x, y in progress(batches, shown):
            with autocast(device, amp):
                out = model(x)
                loss = F.cross_entropy(out.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
            masks.apply()
            iteration += 1
            if hook is not None:
                hook(TrainState(epoch, iteration, per_epoch, total, model, masks, loss.detach()))
            tally.add(loss, out, y)
            if early is not None and iteration % eval_every == 0:
                early.check(iteration)
            if iterations is not None and iteration >= iterations:
                break
        if tally.seen == 0:
            break  # an empty split: nothing to train on
        sched.step()
        train_loss, train_acc = tally.result()
        if not math.isfinite(train_loss):
            raise DivergedError(epoch, train_loss)
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "lr": opt.param_groups[0]["lr"],
        }
        if evaluate_fn is not None:
            test = evaluate_fn()
            row.update({"test_loss": test["loss"], "test_acc": test["acc"]})
            if keep_best and test["acc"] > result.best_acc:
                result.best_acc = test["acc"]
                result.best_state = copy.deepcopy(
                    {k: v.detach().cpu() for k, v in model.state_dict().items()}
                )
        result.history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        epoch += 1
        if iterations is not None and iteration >= iterations:
            break
    if early is not None:
        if early.last.get("iteration") != iteration:
            early.check(iteration)
        result.early_stop = early.summary()
    result.iterations = iteration
    return result
