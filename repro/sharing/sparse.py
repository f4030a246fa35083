"""A pruned model as a sparse file that plain ``torch.load(..., weights_only=True)`` reads.

A masked weight is stored as a CSR tensor of its ``[out, -1]`` view with 32-bit indices: 8 bytes per
surviving weight instead of 4 per weight, so the file shrinks once more than half the weights are gone
(about 5x at 90 % sparsity). Everything else of the state dict is stored as it is. Loading needs no
``repro``::

    blob = torch.load("step_1_sparse.pt", weights_only=True)
    state = {k: v.to_dense().reshape(blob["shapes"][k]) if k in blob["shapes"] else v
             for k, v in blob["state"].items()}
    model.load_state_dict(state)

:class:`CSRLinear` runs a masked linear layer on its CSR weight, to measure what sparse compute gives.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from repro.metrics.depth import set_module

FORMAT = "repro-sparse-csr-1"


@contextlib.contextmanager
def quiet_sparse() -> Iterator[None]:
    """torch marks its CSR support as beta and validates loaded sparse tensors, both with a warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*", category=UserWarning)
        yield


def to_csr(weight: torch.Tensor) -> torch.Tensor:
    """The ``[out, -1]`` view of ``weight`` as CSR with int32 indices (half the bytes of int64)."""
    with quiet_sparse():
        csr = weight.detach().cpu().reshape(weight.shape[0], -1).to_sparse_csr()
        rows, cols = csr.crow_indices().int(), csr.col_indices().int()
        return torch.sparse_csr_tensor(rows, cols, csr.values(), csr.shape)


def smaller_as_csr(weight: torch.Tensor) -> bool:
    """CSR holds a value and a 4-byte column per surviving weight and a 4-byte offset per row: it pays once
    about half the weights are gone."""
    nonzero = int(torch.count_nonzero(weight))
    return (
        nonzero * (weight.element_size() + 4) + 4 * (weight.shape[0] + 1)
        < weight.numel() * weight.element_size()
    )


def sparse_blob(state: dict[str, torch.Tensor], masked: Iterable[str]) -> dict[str, Any]:
    """The file's content: ``state`` with the ``masked`` weights (state-dict keys) as CSR tensors where
    that is smaller."""
    masked = {k for k in masked if smaller_as_csr(state[k])}
    return {
        "format": FORMAT,
        "shapes": {k: list(state[k].shape) for k in sorted(masked)},
        "state": {k: to_csr(v) if k in masked else v.detach().cpu() for k, v in state.items()},
    }


def blob_bytes(blob: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def load_sparse(path: Path) -> dict[str, torch.Tensor]:
    """The dense state dict of a sparse file (what the module docstring does by hand)."""
    with quiet_sparse():
        blob = torch.load(path, map_location="cpu", weights_only=True)
    shapes = blob["shapes"]
    return {k: v.to_dense().reshape(shapes[k]) if k in shapes else v for k, v in blob["state"].items()}


def stored_values(blob: dict[str, Any]) -> int:
    """Numbers the file holds: the surviving values of the CSR weights and every other entry."""
    shapes = blob["shapes"]
    return sum(int(v.values().numel()) if k in shapes else v.numel() for k, v in blob["state"].items())


class CSRLinear(nn.Module):
    """A linear layer computed from its CSR weight (``torch.sparse.mm``): sparse compute, not a mask."""

    def __init__(self, layer: nn.Linear) -> None:
        super().__init__()
        self.weight = to_csr(layer.weight)
        self.bias = None if layer.bias is None else layer.bias.detach().clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        out = torch.sparse.mm(self.weight, flat.t()).t()
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], out.shape[-1])


def csr_compute(model: nn.Module, masked_modules: Iterable[str]) -> nn.Module:
    """A copy of ``model`` whose masked linear layers compute from CSR weights (convolutions stay dense)."""
    copied = copy.deepcopy(model).eval()
    for name in masked_modules:
        module = copied.get_submodule(name)
        if isinstance(module, nn.Linear):
            set_module(copied, name, CSRLinear(module))
    return copied
