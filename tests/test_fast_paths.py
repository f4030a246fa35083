"""The fast paths the benchmarks rely on compute exactly what the plain formulas do.

Each optimised kernel is compared bit for bit with the straightforward version it replaced: the loader's
single-gather crop + flip, ``Masks.apply`` through a cached copy of the masks, and the integer counting of
the EGP and PSP probes.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from repro.data.loader import TensorLoader, random_crop, random_hflip
from repro.masks import Masks
from repro.metrics.entropy import on_counts
from repro.metrics.psp import class_groups, class_sums


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize(("padding", "flip"), [(4, True), (4, False), (0, True), (2, True)])
def test_loader_augmentation_equals_crop_then_flip(pad_mode: str, padding: int, flip: bool) -> None:
    images = torch.randint(0, 256, (37, 3, 9, 7), dtype=torch.uint8)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.3, 0.25)
    loader = TensorLoader(
        images,
        torch.arange(37),
        10,
        mean=mean,
        std=std,
        shuffle=True,
        crop_padding=padding,
        pad_mode=pad_mode,
        flip=flip,
        generator=torch.Generator().manual_seed(5),
    )
    got = [(x, y) for x, y in loader]

    gen = torch.Generator().manual_seed(5)  # the same draws, in the same order, through the reference path
    order = torch.randperm(37, generator=gen)
    m, s = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)
    for (x, y), start in zip(got, range(0, 37, 10)):
        index = order[start : start + 10]
        ref = images[index].float() / 255.0
        if padding:
            ref = random_crop(ref, padding, pad_mode, gen)
        if flip:
            ref, _ = random_hflip(ref, gen)
        assert torch.equal(y, index)
        assert torch.equal(x, (ref - m) / s)


def test_masks_apply_zeros_exactly_the_pruned_weights_and_follows_in_place_edits() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    masks = Masks.for_model(model)
    before = {n: masks.weight(n).detach().clone() for n in masks}
    for n in masks:
        masks[n] = torch.rand(masks[n].shape) < 0.3
    masks.apply()
    for n in masks:
        w = masks.weight(n).detach()
        assert torch.equal(w[~masks[n]], torch.zeros_like(w[~masks[n]]))
        assert torch.equal(w[masks[n]], before[n][masks[n]])
    masks["2"][0].fill_(False)  # a pruner editing the mask tensor in place
    masks.apply()
    assert int((masks.weight("2")[0] != 0).sum()) == 0


def test_probe_counts_equal_the_plain_sums() -> None:
    torch.manual_seed(0)
    for shape, dim in [((7, 5, 3, 4), 1), ((6, 9), 1), ((2, 3, 8), 2), ((2, 3, 190, 190), 1)]:
        pre = torch.randn(shape)
        plain = (pre > 0).sum(dim=[d for d in range(pre.dim()) if d != dim])
        assert torch.equal(on_counts(pre, dim), plain)
    for classes, batch in [(3, 40), (10, 40), (50, 40), (2, 600)]:
        on = torch.randn(batch, 17) > 0
        labels = torch.randint(0, classes, (batch,))
        onehot = nn.functional.one_hot(labels, classes).float()
        assert torch.equal(class_sums(on, *class_groups(labels, onehot.sum(0))), on.float().T @ onehot)
