"""WideResNet-28x8 (pre-activation, dropout 0) as the SAP paper's official code defines it.

``width`` is the first stage's channel count, 16 x widen factor (128 for x8); later stages double it. As in
the official code, the number of stages follows the input side: round(log2(image_size)) - 2 stages (3 on
28x28 and 32x32, 4 on 64x64), with floor(((depth - 1) / stages - 1) / 2) blocks each (4 for depth 28 on
32x32, 2 on 64x64). A block is BN-ReLU-conv twice; where channels change, the input is pre-activated
once and feeds both the conv path and a bias-free 1x1 conv shortcut. SAP-initialised.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from repro.errors import ConfigError, check_choice
from repro.models.build import too_small
from repro.models.init import sap_init


class WideBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.dropout = dropout
        self.shortcut = (
            nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False)
            if in_planes != planes
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(x))
        if self.shortcut is not None:
            x = self.shortcut(out)
        out = self.relu2(self.bn2(self.conv1(out)))
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        return x + self.conv2(out)


class WideResNet(nn.Module):
    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        image_size: int,
        width: int = 128,
        stem: str = "cifar",
        depth: int = 28,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_choice("model.stem", stem, ("cifar",))
        num_stages = round(math.log2(image_size)) - 2 if image_size > 0 else 0
        if num_stages < 1:
            raise too_small(image_size, 6, "wide_resnet")
        per_stage = int(((depth - 1) / num_stages - 1) / 2)
        if per_stage < 1:
            raise ConfigError(f"model.depth={depth} is invalid: leaves no block per stage at this image size")
        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=3, padding=1, bias=False)
        planes = 16
        self.stages = [f"layer{i + 1}" for i in range(num_stages)]
        for i, name in enumerate(self.stages):
            out = width * 2**i
            stride = 1 if i == 0 else 2
            blocks = [
                WideBlock(planes if j == 0 else out, out, stride if j == 0 else 1, dropout)
                for j in range(per_stage)
            ]
            self.add_module(name, nn.Sequential(*blocks))
            planes = out
        self.bn = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(planes, num_classes)
        sap_init(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        for name in self.stages:
            x = getattr(self, name)(x)
        x = self.relu(self.bn(x))
        return self.fc(self.avgpool(x).flatten(1))
