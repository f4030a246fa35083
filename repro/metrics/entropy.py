"""EGP's ON/OFF entropy of every rectified layer, as the ``egp`` probe of the ``entropy`` config group.

A rectifier neuron is ON for an observation when its pre-activation is > 0. With p the fraction of ON
observations, its entropy is h(p) = -p log2 p - (1 - p) log2 (1 - p) (arguments clamped at 1e-5, as in the
official code). A conv neuron is a channel (observations: samples x positions); a linear neuron is a
feature of the last dimension (observations: samples x tokens).

Two layer estimators are returned, from the same counts:

- ``entropy`` (official, the default EGP uses): per batch, the mean h over the neurons that are not constant
  within that batch (0 if all are), then the mean over batches;
- ``entropy_pass``: p counted over the whole pass, h averaged over all neurons of the layer.

The depth split always uses the whole pass: a neuron is always-OFF (p = 0), always-ON (p = 1) or mixed, and
a layer without mixed neurons has zero entropy over the data, so it can be removed (``removed_layers``).

Which layer a rectifier rectifies is read from one traced forward pass (:func:`rectified_layers`): the
conv/linear whose output reaches it through norms and residual adds (17 layers in the CIFAR ResNet-18,
12 in Swin-T). The hooks only add up counts; activations are never stored.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from repro.metrics.dataflow import LAYERS, RECTIFIERS, source_layer, trace
from repro.metrics.registry import register

CLAMP = 1e-5


def binary_entropy(p: torch.Tensor) -> torch.Tensor:
    """h(p) in bits, with the logarithms' arguments clamped at 1e-5 (0 at p = 0 and p = 1)."""
    p = p.double()
    return -(p * torch.log2(p.clamp(min=CLAMP)) + (1 - p) * torch.log2((1 - p).clamp(min=CLAMP)))


@dataclass(frozen=True)
class Rectified:
    """One rectifier call and the layer whose output it rectifies."""

    activation: str  # module name of the rectifier
    call: int  # which call of that module within one forward (0 unless the module is shared)
    layer: str  # module name of the conv/linear
    neuron_dim: int  # 1 for conv channels, -1 for linear features
    kind: str  # "relu" or "gelu"

    @property
    def key(self) -> str:
        """The name results are reported under: the layer's, as the pruner and the masks know it."""
        return self.layer


def rectified_layers(model: nn.Module, example: torch.Tensor) -> list[Rectified]:
    """Every ReLU/GELU call of one forward on ``example`` with the conv/linear it rectifies, in call order.

    Rectifiers with no conv/linear upstream are left out. Keys stay unique: a second rectifier of the same
    layer is reported as ``<layer>#<n>``.
    """
    graph = trace(model, example)
    out: list[Rectified] = []
    seen: dict[str, int] = defaultdict(int)
    for node in graph.module_calls():
        if not isinstance(node.module, RECTIFIERS):
            continue
        src = source_layer(node)
        if src is None:
            continue
        dim = -1 if isinstance(src.module, nn.Linear) else 1
        kind = "relu" if isinstance(node.module, nn.ReLU) else "gelu"
        layer = src.name if seen[src.name] == 0 else f"{src.name}#{seen[src.name]}"
        seen[src.name] += 1
        out.append(Rectified(node.name, node.call, layer, dim, kind))
    return out


def on_counts(pre: torch.Tensor, dim: int) -> torch.Tensor:
    """ON observations (pre > 0) of every neuron along ``dim``, int64.

    Summed in two steps over contiguous blocks, positions (as int16 while there are fewer than 2^15 of
    them: exact, and vectorised) then samples: about 10x faster on the CPU than one bool sum over several
    dimensions.
    """
    on = (pre > 0).view(torch.uint8)
    lead = math.prod(pre.shape[:dim])
    on = on.reshape(lead, pre.shape[dim], -1)
    acc = torch.int16 if on.shape[2] < 2**15 else torch.int64
    return on.sum(dim=2, dtype=acc).sum(dim=0, dtype=torch.int64)


class _Counts:
    """Running counts of one rectified layer: ON observations per neuron, and the per-batch entropy sum."""

    def __init__(self, neurons: int, device: torch.device) -> None:
        self.on = torch.zeros(neurons, dtype=torch.long, device=device)
        self.obs = 0
        self.batch_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.batches = 0

    def add(self, pre: torch.Tensor, dim: int) -> None:
        dim = dim % pre.dim()
        count = on_counts(pre, dim)
        n = pre.numel() // pre.shape[dim]
        self.on += count
        self.obs += n
        p = count.double() / n
        h = binary_entropy(p)  # 0 for constant neurons, so the sum runs over the non-constant ones
        mixed = ((count > 0) & (count < n)).sum()
        self.batch_sum += h.sum() / mixed.clamp(min=1)
        self.batches += 1

    def p(self) -> torch.Tensor:
        return self.on.double() / max(self.obs, 1)


@register("egp")
class EGPProbe:
    """Streaming ON/OFF counts of every rectified layer (see the module docstring for what it returns).

    The layer map is traced on the first batch (two samples of it), so the probe needs nothing but the model.
    """

    def __init__(self, num_classes: int = 0, **_: Any) -> None:
        self.map: dict[tuple[str, int], Rectified] | None = None
        self.counts: dict[str, _Counts] = {}
        self.handles: list[Any] = []
        self.calls: dict[str, int] = defaultdict(int)
        self.tracing = False
        self.model: nn.Module | None = None

    # ------------------------------------------------------------------ hooks

    def attach(self, model: nn.Module) -> None:
        self.model = model
        self.handles.append(model.register_forward_pre_hook(self._start))
        for name, m in model.named_modules():
            if isinstance(m, RECTIFIERS):
                self.handles.append(m.register_forward_hook(self._observer(name)))

    def _start(self, model: nn.Module, args: tuple) -> None:
        if self.tracing or not args:
            return
        self.calls.clear()
        if self.map is None:
            self.tracing = True
            try:
                self.map = {(r.activation, r.call): r for r in rectified_layers(model, args[0][:2])}
            finally:
                self.tracing = False

    def _observer(self, name: str):
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            if self.tracing or self.map is None:
                return
            call = self.calls[name]
            self.calls[name] += 1
            r = self.map.get((name, call))
            if r is None:
                return
            pre = args[0].detach()
            if r.key not in self.counts:
                self.counts[r.key] = _Counts(pre.shape[r.neuron_dim], pre.device)
            self.counts[r.key].add(pre, r.neuron_dim)

        return hook

    def update(self, labels: torch.Tensor) -> None:
        pass

    def detach(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()

    # ------------------------------------------------------------------ results

    def rectified(self) -> list[Rectified]:
        """The rectified layers seen, in call order."""
        return [r for r in (self.map or {}).values() if r.key in self.counts]

    def states(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, boolean masks of the always-ON and always-OFF neurons over the whole pass."""
        return {k: (c.on == c.obs, c.on == 0) for k, c in self.counts.items()}

    def result(self) -> dict[str, Any]:
        entropy, entropy_pass, off, on, mixed, activation, kind = {}, {}, {}, {}, {}, {}, {}
        for r in self.rectified():
            c = self.counts[r.key]
            entropy[r.key] = float(c.batch_sum) / max(c.batches, 1)
            entropy_pass[r.key] = float(binary_entropy(c.p()).mean())
            off[r.key] = int((c.on == 0).sum())
            on[r.key] = int((c.on == c.obs).sum())
            mixed[r.key] = int(c.on.numel()) - off[r.key] - on[r.key]
            activation[r.key] = r.activation if r.call == 0 else f"{r.activation}#{r.call}"
            kind[r.key] = r.kind
        zeros = total = 0
        modules = dict(self.model.named_modules()) if self.model is not None else {}
        for key in entropy:
            m = modules.get(key.split("#")[0])
            if isinstance(m, LAYERS):
                zeros += int((m.weight == 0).sum())
                total += m.weight.numel()
        return {
            "layers": len(entropy),
            "removed_layers": sum(1 for k in mixed if mixed[k] == 0),
            "mean_entropy": sum(entropy.values()) / max(len(entropy), 1),
            "rectified_sparsity": zeros / total if total else 0.0,
            "_entropy": entropy,
            "_entropy_pass": entropy_pass,
            "_off": off,
            "_on": on,
            "_mixed": mixed,
            "_activation": activation,
            "_kind": kind,
        }
