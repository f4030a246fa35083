"""Residual blocks and shortcuts of the one :class:`~repro.models.resnet.ResNet` class.

Every ReLU is its own module, applied once per forward and never in place: EGP maps each rectifier to the
convolution whose output it rectifies and its hooks must see the pre-activation as the input. Modules are
created in the order (and under the names) of the papers' code, so a seeded build draws the same numbers
and saved checkpoints keep their keys.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def conv_bn(in_planes: int, out_planes: int, stride: int) -> nn.Sequential:
    """Projection shortcut: 1x1 conv + BN (torchvision; He et al.'s option B)."""
    return nn.Sequential(conv1x1(in_planes, out_planes, stride), nn.BatchNorm2d(out_planes))


class PadShortcut(nn.Module):
    """Option-A shortcut: stride subsampling and zero channels on both sides, parameter-free.

    A module rather than a lambda so that masked models can be deep-copied.
    """

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.before = (out_planes - in_planes) // 2
        self.after = out_planes - in_planes - self.before

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.before, self.after))


# kind -> (attribute the shortcut lives under, its constructor). The attribute is the one each paper's code
# used, so state_dict keys stay those of existing checkpoints: torchvision's ``downsample`` for the EGP and
# SAP post-activation ResNets, ``shortcut`` for LOBSTER's CIFAR ResNets and the pre-activation nets.
SHORTCUTS: dict[str, tuple[str, Callable[[int, int, int], nn.Module]]] = {
    "projection": ("downsample", conv_bn),
    "A": ("shortcut", PadShortcut),
    "B": ("shortcut", conv_bn),
    "preact": ("shortcut", conv1x1),  # bare 1x1 conv on the pre-activated input, no BN
}


def shortcut_for(kind: str, in_planes: int, out_planes: int, stride: int) -> tuple[str, nn.Module | None]:
    """The shortcut's attribute name and module; None (identity) where the block keeps the shape."""
    name, make = SHORTCUTS[kind]
    if stride == 1 and in_planes == out_planes:
        return name, None
    return name, make(in_planes, out_planes, stride)


class BasicBlock(nn.Module):
    """Post-activation 3x3-3x3 block; ``relu2`` rectifies the residual sum (EGP maps it to ``conv2``)."""

    expansion = 1
    preact = False

    def __init__(self, in_planes: int, planes: int, stride: int = 1, shortcut: str = "projection") -> None:
        super().__init__()
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut_name, module = shortcut_for(shortcut, in_planes, planes, stride)
        setattr(self, self.shortcut_name, module)
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        shortcut = getattr(self, self.shortcut_name)
        identity = x if shortcut is None else shortcut(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    """torchvision's v1.5 bottleneck (stride on the 3x3 conv); ``relu3`` rectifies the residual sum."""

    expansion = 4
    preact = False

    def __init__(self, in_planes: int, planes: int, stride: int = 1, shortcut: str = "projection") -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = conv1x1(in_planes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.conv3 = conv1x1(planes, out)
        self.bn3 = nn.BatchNorm2d(out)
        self.shortcut_name, module = shortcut_for(shortcut, in_planes, out, stride)
        setattr(self, self.shortcut_name, module)
        self.relu3 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        shortcut = getattr(self, self.shortcut_name)
        identity = x if shortcut is None else shortcut(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        return self.relu3(self.bn3(self.conv3(out)) + identity)


class PreActBlock(nn.Module):
    """BN-ReLU-conv twice (the SAP code's pre-activation and wide blocks), optional dropout between.

    Where the shape changes, the input is pre-activated once and feeds both the conv path and the shortcut.
    """

    expansion = 1
    preact = True

    def __init__(
        self, in_planes: int, planes: int, stride: int = 1, shortcut: str = "preact", dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU()
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.dropout = dropout
        self.shortcut_name, module = shortcut_for(shortcut, in_planes, planes, stride)
        setattr(self, self.shortcut_name, module)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(x))
        shortcut = getattr(self, self.shortcut_name)
        identity = x if shortcut is None else shortcut(out)
        out = self.relu2(self.bn2(self.conv1(out)))
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        return self.conv2(out) + identity


BLOCKS: dict[str, type[BasicBlock | Bottleneck | PreActBlock]] = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
    "preact": PreActBlock,
}
