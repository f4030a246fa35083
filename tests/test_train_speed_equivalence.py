"""The faster training loop trains exactly as the plain one did: the same weights and the same records.

``reference_fit`` is the loop as it was before the speed work, written out plainly: every batch normalised
from uint8, the masks applied through a uint8 view, the epoch's loss summed in a float64 tensor and the
correct predictions counted in an int64 tensor after every step. ``repro.train.fit`` must give bit-identical
weights (``torch.equal``) and identical ``train_loss``/``train_acc`` values.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from repro.data.core import Data, Split
from repro.data.loader import TensorLoader
from repro.masks import Masks
from repro.train import Tally, fit, make_optimizer, make_scheduler

BATCH = 16


def trainer(optimizer: str, iterations: int | None = None, grad_clip: float | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        optimizer=optimizer,
        lr=1e-2 if optimizer == "adam" else 0.1,
        weight_decay=5e-4,
        momentum=0.9,
        nesterov=True,
        schedule="cosine",
        milestones=[1],
        gamma=0.1,
        amp=False,
        grad_clip=grad_clip,
        iterations=iterations,
        eval_every=None,
    )


def make_data(augment: bool) -> Data:
    gen = torch.Generator().manual_seed(1)
    channels, size = (3, 8) if augment else (1, 10)

    def split(n: int) -> Split:
        images = torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=gen)
        return Split(images, torch.randint(0, 5, (n,), generator=gen))

    stats = ((0.5, 0.4, 0.45), (0.25, 0.2, 0.3)) if augment else ((0.1307,), (0.3081,))
    return Data(
        "toy", split(70), split(30), None, 5, channels, size, *stats,
        crop_padding=2 if augment else 0, pad_mode="constant", flip=augment, augment=augment,
    )  # fmt: skip


def make_model(data: Data) -> nn.Module:
    torch.manual_seed(0)
    c, s = data.in_channels, data.image_size
    flat = 4 * (s - 2) ** 2
    return nn.Sequential(
        nn.Conv2d(c, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(flat, 12), nn.ReLU(), nn.Linear(12, 5)
    )


def prune(masks: Masks) -> None:
    gen = torch.Generator().manual_seed(2)
    for n in masks:
        masks[n] = torch.rand(masks[n].shape, generator=gen) >= 0.9  # 90 % pruned, as after one-shot pruning


def old_batches(data: Data, epoch: int):
    """The per-batch path: uint8 gathered, then (x / 255 - mean) / std (augmented: the loader's path)."""
    gen = torch.Generator().manual_seed(100 + epoch)
    if data.augment:
        train = data.train
        yield from TensorLoader(
            train.images, train.labels, BATCH, mean=data.mean, std=data.std, shuffle=True,
            crop_padding=data.crop_padding, flip=data.flip, generator=gen,
        )  # fmt: skip
        return
    mean, std = torch.tensor(data.mean).view(1, -1, 1, 1), torch.tensor(data.std).view(1, -1, 1, 1)
    order = torch.randperm(len(data.train), generator=gen)
    for start in range(0, len(data.train), BATCH):
        index = order[start : start + BATCH]
        yield (data.train.images[index].float() / 255.0 - mean) / std, data.train.labels[index]


def edit_mask(masks: Masks, iteration: int) -> None:
    """A gradual pruner's moves mid-training: a mask replaced, later another one edited in place."""
    first, second = list(masks)[:2]
    if iteration == 3:
        masks[first] = masks[first] & (torch.arange(masks[first].numel()) % 3 > 0).view_as(masks[first])
    if iteration == 6:
        masks[second][:6].fill_(False)


def reference_fit(model, masks: Masks, data: Data, cfg, epochs: int, edits: bool) -> list[dict[str, float]]:
    opt, history, iteration = make_optimizer(model.parameters(), cfg), [], 0
    sched = make_scheduler(opt, cfg, epochs)
    weights = [masks.weight(n) for n in masks]

    def apply() -> None:
        with torch.no_grad():
            torch._foreach_mul_(weights, [masks[n].view(torch.uint8) for n in masks])

    apply()
    for epoch in range(epochs if cfg.iterations is None else 10**6):
        model.train()
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.long)
        seen = 0
        for x, y in old_batches(data, epoch):
            out = model(x)
            loss = F.cross_entropy(out.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            apply()
            iteration += 1
            if edits:
                edit_mask(masks, iteration)
            loss_sum += loss.detach().double() * y.numel()
            correct += (out.detach().argmax(dim=1) == y).sum()
            seen += y.numel()
            if cfg.iterations is not None and iteration >= cfg.iterations:
                break
        sched.step()
        history.append({"train_loss": float(loss_sum) / seen, "train_acc": float(correct) / seen})
        if cfg.iterations is not None and iteration >= cfg.iterations:
            break
    return history


@pytest.mark.parametrize(
    ("augment", "cfg", "epochs", "edits"),
    [
        (False, trainer("adam"), 3, False),  # LeNet-300's preset: Adam, MNIST-like, unaugmented
        (False, trainer("sgd", grad_clip=1.0), 2, True),  # SAP-like: Nesterov SGD, clipping; masks edited
        (True, trainer("sgd"), 2, False),  # CIFAR-like: crop and flip on uint8
        (False, trainer("adam", iterations=11), 1, False),  # iteration budget ending inside an epoch
    ],
)
def test_fit_equals_the_plain_reference_loop_bit_for_bit(augment, cfg, epochs, edits) -> None:
    data = make_data(augment)
    model = make_model(data)
    masks = Masks.for_model(model)
    prune(masks)
    ref_model = copy.deepcopy(model)
    ref_masks = Masks.for_model(ref_model)
    prune(ref_masks)
    want = reference_fit(ref_model, ref_masks, data, cfg, epochs, edits)

    def loader(epoch: int) -> TensorLoader:
        return data.loader("train", BATCH, train=True, generator=torch.Generator().manual_seed(100 + epoch))

    hook = (lambda state: edit_mask(state.masks, state.iteration)) if edits else None
    got = fit(model, masks, loader, cfg, epochs, torch.device("cpu"), hook=hook).history
    records = [(r["train_loss"], r["train_acc"]) for r in got]
    assert records == [(r["train_loss"], r["train_acc"]) for r in want]
    for (name, a), b in zip(model.state_dict().items(), ref_model.state_dict().values()):
        assert torch.equal(a, b), name
    assert (data.floats.get("train") is not None) == (not augment)  # the float copy served unaugmented data


def test_kept_float_copy_gives_the_per_batch_values_and_is_never_handed_out() -> None:
    data = make_data(augment=False)
    mean, std = torch.tensor(data.mean).view(1, -1, 1, 1), torch.tensor(data.std).view(1, -1, 1, 1)
    for _ in range(2):  # the second pass must see the same values after the first pass's caller wrote into x
        for (x, y), start in zip(data.loader("test", 7, train=False), range(0, 30, 7)):
            images = data.test.images[start : start + 7]
            assert torch.equal(x, (images.float() / 255.0 - mean) / std)
            assert torch.equal(y, data.test.labels[start : start + 7])
            x.zero_()
    assert data.floats["test"] is not None


def test_tally_adds_the_losses_in_step_order_as_the_per_step_float64_sum_did() -> None:
    """Values whose float64 sum depends on the order (1e16 + 1 + 1 + ... stays 1e16): the old order holds."""
    losses = [torch.tensor(v) for v in [1e16] + [1.0] * 40 + [3.0, 1e-3, 2.5e15] + [7.0] * 30]
    sizes = [1] * 41 + [3, 2, 1] + [5] * 30
    labels = [torch.arange(n) % 2 for n in sizes]
    outs = [torch.randn(n, 2, generator=torch.Generator().manual_seed(n)) for n in sizes]
    tally, loss_sum, correct = (
        Tally(every=3),
        torch.zeros((), dtype=torch.float64),
        torch.zeros((), dtype=torch.long),
    )
    for loss, out, y in zip(losses, outs, labels):
        tally.add(loss, out, y)
        loss_sum += loss.double() * y.numel()
        correct += (out.argmax(dim=1) == y).sum()
    assert tally.result() == (float(loss_sum) / sum(sizes), float(correct) / sum(sizes))
