"""Bottleneck ResNet-50/101/152 in torchvision's layout (v1.5: stride on the 3x3 conv), for the SAP paper.

The SAP code builds torchvision's ResNet-50 unchanged, 7x7 stride-2 stem and max-pool included, even on
32x32 and 64x64 inputs, so ``stem="imagenet"`` is the default; ``stem="cifar"`` swaps in a 3x3 stride-1
stem conv (max-pool kept, as in the CIFAR ResNet-18). Each ReLU is its own module (``relu1``..``relu3``
per block, ``relu3`` after the residual add), never in place. Initialised as the SAP code's ResNet-50 is,
that is torchvision's rule (Kaiming fan_out convs, BN 1/0, classifier at PyTorch's default).
"""

from __future__ import annotations

from torch import Tensor, nn

from repro.models.init import sap_init
from repro.models.resnet_cifar import projection, stage_sizes, stem_conv

BOTTLENECK_DEPTHS: dict[int, tuple[int, ...]] = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(planes, out, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = projection(in_planes, out, stride)
        self.relu3 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        return self.relu3(self.bn3(self.conv3(out)) + identity)


class ResNet50(nn.Module):
    """Bottleneck widths ``width`` x (1, 2, 4, 8), outputs 4x that; ``depth`` 50, 101 or 152."""

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        image_size: int,
        width: int = 64,
        stem: str = "imagenet",
        depth: int = 50,
    ) -> None:
        super().__init__()
        blocks = stage_sizes(depth, BOTTLENECK_DEPTHS)
        self.conv1 = stem_conv(stem, in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        planes = width
        stages = []
        for i, n in enumerate(blocks):
            mid = width * 2**i
            stride = 1 if i == 0 else 2
            stage = []
            for j in range(n):
                stage.append(Bottleneck(planes, mid, stride if j == 0 else 1))
                planes = mid * Bottleneck.expansion
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(planes, num_classes)
        sap_init(self, zero_linear_bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))
