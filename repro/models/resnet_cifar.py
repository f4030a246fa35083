"""Post-activation ResNet-18/34 as the EGP paper trains it (CIFAR variant and ImageNet-stem variant).

``stem="cifar"``: 3x3 stride-1 conv + BN + ReLU + 3x3 stride-2 max-pool (the max-pool is kept, as in the EGP
code); ``stem="imagenet"``: torchvision's 7x7 stride-2 conv + max-pool, used on 64x64 Tiny-ImageNet.

EGP maps every ReLU to the convolution whose (post-BN) output it rectifies, so each rectifier is its own
module, applied once per forward and never in place (a hook must see the pre-activation as its input):
``relu`` (stem, -> ``conv1``), and per block ``relu1`` (-> ``conv1``) and ``relu2`` (after the residual
add, -> ``conv2``): 1 + 2 x 8 = 17 rectified layers for ResNet-18. Initialised as torchvision does
(Kaiming fan_out convs, BN 1/0, linear at PyTorch's default).
"""

from __future__ import annotations

from torch import Tensor, nn

from repro.errors import check_choice
from repro.models.init import sap_init

STEMS = ("cifar", "imagenet")
BASIC_DEPTHS: dict[int, tuple[int, ...]] = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def stage_sizes(depth: int, depths: dict[int, tuple[int, ...]]) -> tuple[int, ...]:
    """Blocks per stage for ``depth``; a ConfigError names ``model.depth`` otherwise."""
    check_choice("model.depth", depth, sorted(depths))
    return depths[depth]


def stem_conv(stem: str, in_channels: int, out_channels: int) -> nn.Conv2d:
    """The first convolution of a torchvision-layout ResNet (followed by BN, ReLU and a max-pool)."""
    check_choice("model.stem", stem, STEMS)
    if stem == "cifar":
        return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)
    return nn.Conv2d(in_channels, out_channels, kernel_size=7, stride=2, padding=3, bias=False)


def projection(in_planes: int, out_planes: int, stride: int) -> nn.Sequential | None:
    """1x1 conv + BN shortcut where the block changes shape; None keeps the identity."""
    if stride == 1 and in_planes == out_planes:
        return None
    return nn.Sequential(
        nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(out_planes)
    )


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = projection(in_planes, planes, stride)
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(out)) + identity)


class ResNet(nn.Module):
    """ResNet-18 (``depth=18``) or -34 with stage widths ``width`` x (1, 2, 4, 8)."""

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
        blocks = stage_sizes(depth, BASIC_DEPTHS)
        self.conv1 = stem_conv(stem, in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        planes = width
        stages = []
        for i, n in enumerate(blocks):
            out = width * 2**i
            stride = 1 if i == 0 else 2
            stage = [BasicBlock(planes if j == 0 else out, out, stride if j == 0 else 1) for j in range(n)]
            stages.append(nn.Sequential(*stage))
            planes = out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(planes, num_classes)
        sap_init(self, zero_linear_bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))
