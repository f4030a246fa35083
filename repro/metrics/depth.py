"""Make EGP's depth reduction real: build the shallower network and measure what it saves.

A ReLU whose every neuron is constant over the data acts linearly: always-ON neurons pass their input,
always-OFF neurons output 0. :func:`build_shallow` copies the pruned network and

1. replaces each such ReLU by a :class:`Gate` (identity when all neurons are ON, a constant 0 when all are
   OFF, a fixed 0/1 channel mask otherwise);
2. replaces every conv/linear that is fully pruned, or fed only zeros (downstream of an all-OFF gate,
   through pooling, dropout or reshapes), by :class:`ZeroFed`, its bias broadcast to the output shape, and
   drops the layer and norm that only feed an all-OFF gate: their weights are gone;
3. folds each batch norm into the convolution before it (exact in eval mode);
4. folds ``linear -> gate -> linear`` into one linear layer (``W = W_B diag(g) W_A``): the depth is gone.

Two 3x3 convolutions around an identity gate cannot be merged exactly (zero padding of the intermediate map
differs from padding the input), so in a ResNet the gain is the lost nonlinearity, the zero-fed layers and
the fused norms. GELU is never linear on the data (its negative side is not constant), so GELU layers of
zero entropy are counted by the probe but not replaced here. The gates come from the training data; the
test accuracy of both networks is compared to check they hold on unseen data too.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from repro.metrics.dataflow import LAYERS, NORMS, Node, trace
from repro.metrics.entropy import Rectified

# Modules and torch functions that map an all-zero input to an all-zero output.
ZERO_MODULES = (
    nn.Identity,
    nn.Dropout,
    nn.Flatten,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool2d,
)
ZERO_FUNCTIONS = {
    "flatten",
    "view",
    "reshape",
    "permute",
    "transpose",
    "contiguous",
    "__getitem__",
    "relu",
    "dropout",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "mean",
    "sum",
}
TRANSPARENT = (nn.Identity, nn.Dropout)


class Gate(nn.Module):
    """A ReLU constant on the data: ON neurons pass their input, OFF neurons output 0."""

    def __init__(self, keep: torch.Tensor, dim: int) -> None:
        super().__init__()
        self.register_buffer("keep", keep.detach().float())
        self.dim = dim
        self.mode = "identity" if bool(keep.all()) else "zero" if not bool(keep.any()) else "gate"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "identity":
            return x
        if self.mode == "zero":
            return torch.zeros_like(x)
        shape = [1] * x.dim()
        shape[self.dim] = -1
        return x * self.keep.view(shape)

    def extra_repr(self) -> str:
        return f"mode={self.mode}, on={int(self.keep.sum())}/{self.keep.numel()}"


class ZeroFed(nn.Module):
    """A conv/linear layer that only ever receives zeros: it outputs its bias (or zeros), output-shaped."""

    def __init__(self, layer: nn.Module, keep_bias: bool = True) -> None:
        super().__init__()
        self.linear = isinstance(layer, nn.Linear)
        self.out = layer.out_features if self.linear else layer.out_channels
        has_bias = keep_bias and layer.bias is not None
        bias = layer.bias.detach().clone() if has_bias else torch.zeros(self.out)
        self.register_buffer("bias", bias.to(layer.weight.device, layer.weight.dtype))
        if not self.linear:
            self.kernel, self.stride = layer.kernel_size, layer.stride
            self.padding, self.dilation = layer.padding, layer.dilation

    def _spatial(self, sizes: Iterable[int]) -> list[int]:
        out = []
        for i, size in enumerate(sizes):
            if self.padding == "same":
                out.append(size)
                continue
            pad = 0 if self.padding == "valid" else self.padding[i]
            span = self.dilation[i] * (self.kernel[i] - 1) + 1
            out.append((size + 2 * pad - span) // self.stride[i] + 1)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.linear:
            return self.bias.expand(*x.shape[:-1], self.out).contiguous()
        shape = [x.shape[0], self.out, *self._spatial(x.shape[2:])]
        return self.bias.view(1, -1, *([1] * (len(shape) - 2))).expand(shape).contiguous()


def set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, new)


# --------------------------------------------------------------------------- building


def _gates(model: nn.Module, rectified: list[Rectified], states: dict, calls: dict[str, int]) -> dict:
    done = {}
    for r in rectified:
        if r.key not in states or r.kind != "relu" or calls.get(r.activation, 0) != 1:
            continue
        on, off = states[r.key]
        if bool((on | off).all()):
            gate = Gate(on, r.neuron_dim)
            set_module(model, r.activation, gate)
            done[r.key] = gate.mode
    return done


def _dead(model: nn.Module, example: torch.Tensor) -> list[str]:
    """Drop what only feeds an all-OFF gate: its norm becomes identity, its layer outputs zeros."""
    graph = trace(model, example)
    calls = graph.calls_per_module()
    consumers = graph.consumers()
    dropped = []
    for node in graph.module_calls():
        if not (isinstance(node.module, Gate) and node.module.mode == "zero"):
            continue
        while len(node.inputs) == 1 and len(consumers[id(node.inputs[0])]) == 1:
            node = node.inputs[0]
            m = node.module
            if m is None or calls[node.name] != 1:
                break
            if isinstance(m, LAYERS):
                set_module(model, node.name, ZeroFed(m, keep_bias=False))
                dropped.append(node.name)
                break
            if not isinstance(m, (*NORMS, *TRANSPARENT)):
                break
            set_module(model, node.name, nn.Identity())
    return dropped


def _zero_fed(model: nn.Module, example: torch.Tensor) -> list[str]:
    """Replace the conv/linear layers whose input or weight is all zero by their bias; return their names."""
    graph = trace(model, example)
    calls = graph.calls_per_module()
    zero: set[int] = set()
    replaced = []
    for node in graph.nodes:
        m = node.module
        if isinstance(m, Gate) and m.mode == "zero":
            zero.add(id(node))
            continue
        fed_zero = bool(node.inputs) and all(id(i) in zero for i in node.inputs)
        if isinstance(m, LAYERS) and calls[node.name] == 1 and (fed_zero or not bool(m.weight.any())):
            set_module(model, node.name, ZeroFed(m))
            replaced.append(node.name)
            if m.bias is None or not bool(m.bias.any()):
                zero.add(id(node))
        elif fed_zero and (isinstance(m, ZERO_MODULES) or (m is None and node.name in ZERO_FUNCTIONS)):
            zero.add(id(node))
    return replaced


def _fuse_norms(model: nn.Module, example: torch.Tensor) -> list[str]:
    """Fold every batch norm into the convolution that alone feeds it (exact in eval mode)."""
    graph = trace(model, example)
    calls = graph.calls_per_module()
    consumers = graph.consumers()
    fused = []
    for node in graph.module_calls():
        bn = node.module
        if not isinstance(bn, nn.modules.batchnorm._BatchNorm) or len(node.inputs) != 1:
            continue
        src = node.inputs[0]
        conv = src.module
        if (
            isinstance(conv, (nn.Conv1d, nn.Conv2d, nn.Conv3d))
            and bn.track_running_stats
            and calls[src.name] == 1
            and calls[node.name] == 1
            and len(consumers[id(src)]) == 1
        ):
            set_module(model, src.name, fuse_conv_bn_eval(conv, bn))
            set_module(model, node.name, nn.Identity())
            fused.append(src.name)
    return fused


def _through(node: Node, consumers: dict[int, list[Node]], forward: bool) -> Node | None:
    """The next module call past identities/dropouts, if the chain has one consumer at every link."""
    while True:
        if forward:
            nxt = consumers.get(id(node), [])
            if len(nxt) != 1:
                return None
            node = nxt[0]
        else:
            if len(node.inputs) != 1 or len(consumers.get(id(node.inputs[0]), [])) != 1:
                return None
            node = node.inputs[0]
        if not isinstance(node.module, TRANSPARENT):
            return node


@torch.no_grad()
def _fold_linear(model: nn.Module, example: torch.Tensor) -> list[str]:
    """Merge ``linear A -> linear gate -> linear B`` chains into one linear layer, until none is left."""
    folded = []
    while True:
        graph = trace(model, example)
        calls = graph.calls_per_module()
        consumers = graph.consumers()
        for node in graph.module_calls():
            gate = node.module
            if not isinstance(gate, Gate) or gate.mode == "zero" or gate.dim != -1:
                continue
            a, b = _through(node, consumers, False), _through(node, consumers, True)
            if a is None or b is None:
                continue
            la, lb = a.module, b.module
            if not (type(la) is nn.Linear and type(lb) is nn.Linear and calls[a.name] == calls[b.name] == 1):
                continue
            g = node.module.keep.to(la.weight.dtype)
            kw = {"device": la.weight.device, "dtype": la.weight.dtype}
            merged = nn.Linear(la.in_features, lb.out_features, **kw)
            merged.weight.copy_(lb.weight @ (g[:, None] * la.weight))
            bias_a = la.bias if la.bias is not None else torch.zeros_like(g)
            bias_b = lb.bias if lb.bias is not None else torch.zeros(lb.out_features, device=g.device)
            merged.bias.copy_(lb.weight @ (g * bias_a) + bias_b)
            set_module(model, a.name, merged)
            set_module(model, node.name, nn.Identity())
            set_module(model, b.name, nn.Identity())
            folded.append(f"{a.name}+{b.name}")
            break
        else:
            return folded


def build_shallow(
    model: nn.Module, rectified: list[Rectified], states: dict, example: torch.Tensor
) -> tuple[nn.Module, dict[str, Any]]:
    """The shallower copy of ``model`` (see the module docstring) and what was changed in it."""
    shallow = copy.deepcopy(model).eval()
    calls = trace(shallow, example).calls_per_module()
    gates = _gates(shallow, rectified, states, calls)
    dead = _dead(shallow, example)
    zero_fed = _zero_fed(shallow, example)
    fused = _fuse_norms(shallow, example)
    folded = _fold_linear(shallow, example)
    return shallow, {
        "gates": gates,
        "dead": dead,
        "zero_fed": zero_fed,
        "fused_norms": fused,
        "folded": folded,
    }


# --------------------------------------------------------------------------- measuring
