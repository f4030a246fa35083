"""Keep-masks stored beside the model as plain boolean tensors.

Masks are not ``torch.nn.utils.prune`` reparametrisations: those rename state_dict keys and break deepcopy.
They are re-applied after every optimizer step, so pruned weights stay exactly zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fnmatch import fnmatch

import torch
from torch import nn

KINDS: dict[str, tuple[type[nn.Module], ...]] = {
    "conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d),
    "linear": (nn.Linear,),
}


def prunable_modules(
    model: nn.Module, kinds: Iterable[str] = ("conv", "linear"), exclude: Iterable[str] = ()
) -> dict[str, nn.Module]:
    """Modules whose ``weight`` is prunable, by qualified name, in model order."""
    types = tuple(t for kind in kinds for t in KINDS[kind])
    exclude = list(exclude)
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, types)
        and getattr(module, "weight", None) is not None
        and not any(fnmatch(name, pattern) for pattern in exclude)
    }


class Masks:
    """Boolean keep-masks (True = weight survives) keyed by module name, bound to the model's weights."""

    def __init__(self, modules: dict[str, nn.Module], masks: dict[str, torch.Tensor] | None = None) -> None:
        if not modules:
            raise ValueError("no prunable layer")
        self.modules = modules
        self.masks = masks or {
            name: torch.ones_like(m.weight, dtype=torch.bool) for name, m in modules.items()
        }
        self._factors: tuple[list[tuple], list[torch.Tensor]] | None = None  # see apply()

    @classmethod
    def for_model(
        cls, model: nn.Module, kinds: Iterable[str] = ("conv", "linear"), exclude: Iterable[str] = ()
    ) -> Masks:
        return cls(prunable_modules(model, kinds, exclude))

    def __iter__(self) -> Iterator[str]:
        return iter(self.masks)

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.masks[name]

    def __setitem__(self, name: str, mask: torch.Tensor) -> None:
        self.masks[name] = mask.to(dtype=torch.bool, device=self.masks[name].device)

    def weight(self, name: str) -> torch.Tensor:
        return self.modules[name].weight

    @torch.no_grad()
    def apply(self) -> None:
        """Zero every pruned weight in place (one fused call per optimizer step).

        The multiply reads a copy of the masks in each weight's dtype (1 and 0, so the result is bit for bit
        the boolean mask's): a same-dtype fused multiply is about 2x faster on the CPU than one through a
        uint8 view and far faster than one by bool, whose cast path is slow. The copy is rebuilt when a mask
        is replaced or edited in place (its version counter moves) or a weight changes dtype or device.
        """
        weights = [m.weight for m in self.modules.values()]
        stamp = [(self.masks[n], self.masks[n]._version, w) for n, w in zip(self.modules, weights)]
        cached = self._factors
        if cached is None or not _same(cached[0], stamp):
            factors = [mask.to(dtype=w.dtype, device=w.device) for mask, _, w in stamp]
            cached = self._factors = ([(m, v, w, w.dtype, w.device) for m, v, w in stamp], factors)
        torch._foreach_mul_(weights, cached[1])

    # ------------------------------------------------------------------ reports

    def remaining(self) -> int:
        return int(sum(int(m.sum()) for m in self.masks.values()))

    def total(self) -> int:
        return int(sum(m.numel() for m in self.masks.values()))

    def sparsity(self) -> float:
        """Fraction of prunable weights that are pruned."""
        return 1.0 - self.remaining() / self.total()

    def layer_sparsity(self) -> dict[str, float]:
        return {n: 1.0 - float(m.sum()) / m.numel() for n, m in self.masks.items()}

    def sparsity_all(self, model: nn.Module) -> float:
        """Fraction of all parameters that are pruned (biases and normalisation count as dense)."""
        total = sum(p.numel() for p in model.parameters())
        return (self.total() - self.remaining()) / total

    # ------------------------------------------------------------------ persistence

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {n: m.detach().cpu().clone() for n, m in self.masks.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if set(state) != set(self.masks):
            missing = sorted(set(self.masks) ^ set(state))[:3]
            raise ValueError(f"mask layers do not match the model (first differences: {missing})")
        for n, m in state.items():
            if m.shape != self.masks[n].shape:
                raise ValueError(
                    f"mask {n} has shape {tuple(m.shape)}, the model's weight has "
                    f"{tuple(self.masks[n].shape)}"
                )
            self[n] = m


def _same(cached: list[tuple], stamp: list[tuple]) -> bool:
    """Whether ``Masks.apply`` cached its factors for the current masks and weights, unchanged since."""
    return len(cached) == len(stamp) and all(
        mask is m and version == v and weight is w and dtype == w.dtype and device == w.device
        for (mask, version, weight, dtype, device), (m, v, w) in zip(cached, stamp)
    )
