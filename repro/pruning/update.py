"""The mask update, per scope unit: one pool of weights (global), each layer, or each output neuron.

A count rule (:mod:`repro.pruning.counts`) decides *how many* weights each unit loses; :func:`prune_smallest`
removes that many of the lowest-scoring surviving weights of each unit (a score, :mod:`repro.pruning.scores`,
ranks them). Counts are exact (ties broken by a stable sort) and masks only shrink.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from repro.masks import Masks

# global: int; layer: {name: int}; neuron: {name: LongTensor[out_features]}
Counts = int | dict[str, int] | dict[str, torch.Tensor]


def _rows(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)


def remaining_per_unit(masks: Masks, scope: str) -> Counts:
    """Surviving weights of each unit of ``scope``."""
    if scope == "global":
        return masks.remaining()
    if scope == "layer":
        return {n: int(masks[n].sum()) for n in masks}
    return {n: _rows(masks[n]).sum(dim=1) for n in masks}


def total_per_unit(masks: Masks, scope: str) -> Counts:
    if scope == "global":
        return masks.total()
    if scope == "layer":
        return {n: masks[n].numel() for n in masks}
    return {
        n: torch.full((masks[n].shape[0],), _rows(masks[n]).shape[1], device=masks[n].device) for n in masks
    }


def map_counts(counts: Counts, fn: Callable[[torch.Tensor], torch.Tensor]) -> Counts:
    """Apply an element-wise rule to counts of any scope, keeping its shape (ints stay ints)."""
    if isinstance(counts, int):
        return int(fn(torch.tensor(float(counts))).item())
    out: dict = {}
    for n, c in counts.items():
        value = fn(torch.as_tensor(c, dtype=torch.float64))
        out[n] = int(value.item()) if isinstance(c, int) else value.long()
    return out


@torch.no_grad()
def prune_smallest(masks: Masks, scores: dict[str, torch.Tensor], scope: str, counts: Counts) -> None:
    """Prune, in each unit, the ``counts`` surviving weights with the smallest score (in place)."""
    inf = float("inf")
    if scope == "global":
        assert isinstance(counts, int)
        names = list(masks)
        flat = torch.cat([scores[n].float().flatten().masked_fill(~masks[n].flatten(), inf) for n in names])
        count = min(counts, masks.remaining())
        if count <= 0:
            return
        order = torch.sort(flat, stable=True).indices[:count]
        keep = torch.cat([masks[n].flatten() for n in names])
        keep[order] = False
        for n, part in zip(names, torch.split(keep, [masks[n].numel() for n in names])):
            masks[n] = part.view_as(masks[n])
        return
    assert isinstance(counts, dict)
    for n in masks:
        mask = masks[n]
        if scope == "layer":
            count = min(int(counts[n]), int(mask.sum()))
            if count <= 0:
                continue
            flat = scores[n].float().flatten().masked_fill(~mask.flatten(), inf)
            keep = mask.flatten().clone()
            keep[torch.sort(flat, stable=True).indices[:count]] = False
            masks[n] = keep.view_as(mask)
        else:  # neuron: each row (output unit) has its own count
            rows = _rows(mask)
            s = _rows(scores[n]).float().masked_fill(~rows, inf)
            c = torch.minimum(torch.as_tensor(counts[n], device=mask.device).long(), rows.sum(dim=1))
            order = torch.sort(s, dim=1, stable=True).indices
            drop_sorted = torch.arange(rows.shape[1], device=mask.device)[None, :] < c[:, None]
            drop = torch.zeros_like(rows).scatter_(1, order, drop_sorted)
            masks[n] = (rows & ~drop).view_as(mask)
