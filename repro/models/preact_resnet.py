"""Pre-activation ResNet-18/34, CIFAR variant, as the SAP paper's official code defines it.

Stem: one 3x3 stride-1 conv, no BN, ReLU or max-pool (the first block pre-activates it). Each block is
BN-ReLU-conv twice; where the shape changes, the shortcut is a bias-free 1x1 conv (no BN) applied to the
*pre-activated* input. A final BN-ReLU precedes global average pooling and the classifier. Every ReLU is its
own module, never in place. SAP-initialised. Only the CIFAR stem exists for this family (the SAP code uses
it on 64x64 Tiny-ImageNet too).
"""

from __future__ import annotations

from torch import Tensor, nn

from repro.errors import check_choice
from repro.models.init import sap_init
from repro.models.resnet_cifar import BASIC_DEPTHS, stage_sizes


class PreActBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.shortcut = (
            nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False)
            if stride != 1 or in_planes != planes
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(out)
        out = self.conv2(self.relu2(self.bn2(self.conv1(out))))
        return out + identity


class PreActResNet(nn.Module):
    """Stage widths ``width`` x (1, 2, 4, 8); ``depth`` 18 or 34."""

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        image_size: int,
        width: int = 64,
        stem: str = "cifar",
        depth: int = 18,
    ) -> None:
        super().__init__()
        check_choice("model.stem", stem, ("cifar",))
        blocks = stage_sizes(depth, BASIC_DEPTHS)
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, padding=1, bias=False)
        planes = width
        stages = []
        for i, n in enumerate(blocks):
            out = width * 2**i
            stride = 1 if i == 0 else 2
            stage = [PreActBlock(planes if j == 0 else out, out, stride if j == 0 else 1) for j in range(n)]
            stages.append(nn.Sequential(*stage))
            planes = out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.bn = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(planes, num_classes)
        sap_init(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.relu(self.bn(x))
        return self.fc(self.avgpool(x).flatten(1))
