"""CIFAR ResNet-32 (He et al. 2016, section 4.2): 3 stages of 5 basic blocks, 16/32/64 channels.

Shortcuts follow the group's LOBSTER code, option A by default: where a block halves the resolution and
doubles the channels, the identity is subsampled by 2 and zero-padded in channels (no parameters);
``shortcut="B"`` uses a 1x1 conv + BN instead. ``depth`` must be 6n + 2 (n blocks per stage). Each ReLU is
its own module (``relu`` in the stem, ``relu1``/``relu2`` per block, the latter after the residual add),
never in place. PyTorch's default initialisation, as in LOBSTER.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from repro.errors import ConfigError, check_choice


class PadShortcut(nn.Module):
    """Option-A shortcut: stride-2 subsampling and zero channels on both sides, parameter-free."""

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.before = (out_planes - in_planes) // 2
        self.after = out_planes - in_planes - self.before

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.before, self.after))


class CifarBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, shortcut: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            if shortcut == "A":
                self.shortcut = PadShortcut(in_planes, planes, stride)
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes),
                )
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(out)) + identity)


class CifarResNet(nn.Module):
    """Stage widths ``width`` x (1, 2, 4); ResNet-20/32/44/56/110 by ``depth``."""

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        image_size: int,
        width: int = 16,
        stem: str = "cifar",
        depth: int = 32,
        shortcut: str = "A",
    ) -> None:
        super().__init__()
        check_choice("model.stem", stem, ("cifar",))
        check_choice("model.shortcut", shortcut, ("A", "B"))
        if depth < 8 or (depth - 2) % 6:
            raise ConfigError(
                f"model.depth={depth} is invalid: a CIFAR ResNet has depth 6n + 2 (20, 32, 44, ...)"
            )
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        planes = width
        stages = []
        for i in range(3):
            out = width * 2**i
            stride = 1 if i == 0 else 2
            blocks = [
                CifarBlock(planes if j == 0 else out, out, stride if j == 0 else 1, shortcut)
                for j in range(n)
            ]
            stages.append(nn.Sequential(*blocks))
            planes = out
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(planes, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))
