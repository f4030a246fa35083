"""PSP-entropy (Tartaglione et al., ICANN 2020): how class-specific each neuron's ON/OFF state is.

The post-synaptic potential z of a neuron is its pre-activation: the output of a conv or linear layer (every
output element of a conv layer, channel x height x width, is its own neuron). For neuron i and class k,
p_ik is the fraction of class-k samples with z > 0; H_ik is the binary entropy of p_ik in bits with p clamped
to [1e-4, 0.9999] (as the group's code does). A neuron's PSP-entropy is the sum of H_ik over the classes
(0..C bits); a layer's is the mean over its neurons; the network's is the mean over its hidden layers
(``network``; the output layer is left out unless ``include_output``) and, as the alternative reading,
the mean over all hidden neurons (``network_neurons``).

Streaming: per batch only the ON counts per class are added ([neurons, C] per layer, one matmul), so the
pass can share its forward with the EGP probe (``repro.metrics.registry.measure``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from repro.masks import prunable_modules
from repro.metrics.registry import register

CLAMP = (1e-4, 0.9999)


def binary_entropy_bits(p: torch.Tensor, clamp: tuple[float, float] = CLAMP) -> torch.Tensor:
    """-p log2 p - (1 - p) log2 (1 - p) with p clamped to ``clamp`` (both sides, as the official code)."""
    p = p.clamp(*clamp)
    q = (1.0 - p).clamp(*clamp)
    return -(p * torch.log2(p) + q * torch.log2(q))


def class_entropy(on_counts: torch.Tensor, class_counts: torch.Tensor) -> torch.Tensor:
    """[neurons, C] entropies from ON counts per class and samples per class; absent classes are NaN."""
    present = class_counts > 0
    p = on_counts / class_counts.clamp(min=1).to(on_counts.dtype)
    h = binary_entropy_bits(p)
    return torch.where(present[None, :], h, torch.full_like(h, float("nan")))


def class_groups(labels: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """The batch order that sorts the samples by class, and the number of samples of each class."""
    return torch.argsort(labels, stable=True), counts.long().tolist()


def class_sums(on: torch.Tensor, order: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """[neurons, C] ON counts per class of ``on`` [B, neurons] (bool), as float32.

    The rows sorted by class are summed block by block as small integers (int16 while a block has fewer
    than 2^15 rows: exact, and vectorised): on the CPU about 10x faster than the one-hot matrix product,
    whose bool-to-float copy and thin [N, B] x [B, C] shape cost the most.
    """
    blocks = on[order].view(torch.uint8).split(sizes)
    acc = torch.int16 if on.shape[0] < 2**15 else torch.int64
    return torch.stack([b.sum(dim=0, dtype=acc) for b in blocks], dim=1).float()  # empty blocks give 0


class PSPProbe:
    """Counts, per conv/linear layer, how often each output element is ON for each class."""

    def __init__(
        self,
        *,
        num_classes: int,
        psp_include_output: bool = False,
        psp_matrix_max_neurons: int | None = None,
        psp_digits: int = 4,
        **_: Any,
    ) -> None:
        self.num_classes = num_classes
        self.include_output = psp_include_output
        self.matrix_max_neurons = psp_matrix_max_neurons
        self.digits = psp_digits
        self.handles: list[Any] = []
        self.order: list[str] = []  # layers in the order the first forward calls them
        self.batch_on: dict[str, torch.Tensor] = {}
        self.on: dict[str, torch.Tensor] = {}
        self.per_class: torch.Tensor | None = None

    def attach(self, model: nn.Module) -> None:
        for name, module in prunable_modules(model).items():
            self.handles.append(module.register_forward_hook(self._hook(name)))

    def _hook(self, name: str):
        def fn(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            if name not in self.batch_on and name not in self.on:
                self.order.append(name)
            self.batch_on[name] = output.detach().reshape(output.shape[0], -1) > 0

        return fn

    def update(self, labels: torch.Tensor) -> None:
        onehot = torch.nn.functional.one_hot(labels, self.num_classes).float()
        counts = onehot.sum(dim=0)
        self.per_class = counts if self.per_class is None else self.per_class + counts
        groups = class_groups(labels, counts) if labels.device.type == "cpu" else None
        for name, on in self.batch_on.items():
            # [neurons, C]; exact in float32 below 2^24 samples
            add = on.float().T @ onehot if groups is None else class_sums(on, *groups)
            self.on[name] = add if name not in self.on else self.on[name] + add
        self.batch_on = {}

    def detach(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    def hidden_layers(self) -> list[str]:
        """Layers in call order; the last one called is the output layer, left out by default."""
        return list(self.order) if self.include_output else list(self.order[:-1])

    def result(self) -> dict[str, Any]:
        if self.per_class is None:
            return {}
        layers = self.hidden_layers()
        matrices = {n: class_entropy(self.on[n], self.per_class) for n in layers}
        neuron = {n: m.nansum(dim=1) for n, m in matrices.items()}  # bits, 0..C
        layer_mean = {n: float(h.mean()) for n, h in neuron.items()}
        all_neurons = torch.cat(list(neuron.values())) if neuron else torch.zeros(0)
        out: dict[str, Any] = {
            "network": sum(layer_mean.values()) / len(layer_mean) if layer_mean else float("nan"),
            "network_neurons": float(all_neurons.mean()) if all_neurons.numel() else float("nan"),
            "layers": layer_mean,
            "_neuron_entropy": {n: _rounded(h, self.digits) for n, h in neuron.items()},
            "_matrices": {
                n: _rounded(m, self.digits)
                for n, m in matrices.items()
                if self.matrix_max_neurons is None or m.shape[0] <= self.matrix_max_neurons
            },
            "_class_counts": self.per_class.long().tolist(),
        }
        return out


def _rounded(t: torch.Tensor, digits: int) -> list:
    return torch.round(t.detach().cpu().double(), decimals=digits).tolist()


@register("psp")
def make_psp(**options: Any) -> PSPProbe:
    return PSPProbe(**options)
