"""Trace one forward pass into a small data-flow graph of leaf-module calls and tensor operations.

EGP needs, for every rectifier, the convolution or linear layer whose output it rectifies, and the depth
builder needs to know which module consumes which value. Names differ between models (``relu1`` ->
``conv1`` in one, ``mlp.1`` -> ``mlp.0`` in another, a shared ``relu`` called twice in a third), so both are
read from the data flow of one real forward pass instead of being written per model: every leaf module call
and every torch operation on a value derived from the input becomes a :class:`Node` that remembers the
nodes it was computed from. Parameters, buffers and constants are leaves (no node).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

LAYERS: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
RECTIFIERS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.GELU)
NORMS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
)
# Nonlinear modules a walk back towards the rectified layer must not cross.
_NONLINEAR = tuple(
    getattr(nn.modules.activation, n)
    for n in nn.modules.activation.__all__
    if n not in ("MultiheadAttention", "Identity")
)


@dataclass(eq=False)
class Node:
    """One value of the traced forward: the module (or torch function) that produced it, from which values."""

    name: str  # module name, or the torch function's name
    module: nn.Module | None
    inputs: list[Node]
    depth: int  # conv/linear layers on the longest path from the model's input
    order: int  # position in the call order
    call: int = 0  # for module nodes: which call of that module within the forward


@dataclass
class Trace:
    """The nodes of one forward pass, in call order, and who consumes each of them."""

    nodes: list[Node] = field(default_factory=list)
    output: list[Node] = field(default_factory=list)

    def module_calls(self) -> list[Node]:
        return [n for n in self.nodes if n.module is not None]

    def consumers(self) -> dict[int, list[Node]]:
        out: dict[int, list[Node]] = defaultdict(list)
        for n in self.nodes:
            for i in n.inputs:
                out[id(i)].append(n)
        return out

    def calls_per_module(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for n in self.module_calls():
            counts[n.name] += 1
        return counts


def _tensors(obj: Any) -> list[torch.Tensor]:
    return [t for t in tree_leaves(obj) if isinstance(t, torch.Tensor)]


class _Recorder(TorchFunctionMode):
    """Give every tensor computed from the input a node; leaf-module hooks replace their outputs' nodes."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[int, Node] = {}
        self.alive: list[torch.Tensor] = []  # keeps ids unique for the whole pass
        self.trace = Trace()
        self.order = itertools.count()
        self.calls: dict[str, int] = defaultdict(int)
        self.inside = 0  # > 0 while a leaf module runs: its own operations are not nodes

    def bind(self, value: Any, node: Node) -> None:
        for t in _tensors(value):
            self.nodes[id(t)] = node
            self.alive.append(t)

    def lookup(self, value: Any) -> list[Node]:
        found = [self.nodes.get(id(t)) for t in _tensors(value)]
        return [n for n in found if n is not None]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.inside:
            return func(*args, **kwargs)
        inputs = self.lookup((args, kwargs))  # before the call: in-place ops rebind their output's id
        out = func(*args, **kwargs)
        if inputs:
            name = getattr(func, "__name__", str(func))
            node = Node(name, None, inputs, max(n.depth for n in inputs), next(self.order))
            self.trace.nodes.append(node)
            self.bind(out, node)
        return out

    def enter(self, module: nn.Module, args: tuple) -> None:
        self.inside += 1

    def module_hook(self, name: str):
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            self.inside -= 1
            inputs = self.lookup(args)
            depth = max((n.depth for n in inputs), default=0) + (1 if isinstance(module, LAYERS) else 0)
            node = Node(name, module, inputs, depth, next(self.order), self.calls[name])
            self.calls[name] += 1
            self.trace.nodes.append(node)
            self.bind(output, node)

        return hook


@torch.no_grad()
def trace(model: nn.Module, example: torch.Tensor) -> Trace:
    """Run ``model(example)`` once (eval mode, no grad) and return its data-flow graph."""
    recorder = _Recorder()
    root = Node("input", None, [], 0, next(recorder.order))
    recorder.bind(example, root)
    recorder.trace.nodes.append(root)
    handles = []
    for name, m in model.named_modules():
        if name and not any(True for _ in m.children()):
            handles.append(m.register_forward_pre_hook(recorder.enter))
            handles.append(m.register_forward_hook(recorder.module_hook(name)))
    was_training = model.training
    model.eval()
    try:
        with recorder:
            out = model(example)
        recorder.trace.output = recorder.lookup(out)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return recorder.trace


def source_layer(node: Node) -> Node | None:
    """The conv/linear call whose output ``node`` is, through norms, residual adds and reshapes.

    Walking back stops at every conv/linear and at other nonlinear modules. Where several layers feed the
    value (a residual add with a projection shortcut), the deepest one is the rectified layer: the block's
    own convolution lies one layer deeper than the shortcut's, whatever order the two were called in. Ties
    go to the one called last.
    """
    found: list[Node] = []
    seen: set[int] = set()
    stack = list(node.inputs) if isinstance(node.module, RECTIFIERS) else [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n.module, LAYERS):
            found.append(n)
        elif not isinstance(n.module, _NONLINEAR):
            stack.extend(n.inputs)
    return max(found, key=lambda n: (n.depth, n.order), default=None)
