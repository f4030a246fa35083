"""The ResNet family: one :class:`ResNet` class, block, stem, shortcut and init as arguments (timm's layout).

Each paper's variant is a factory taking the ``conf/model`` keys (plus the data's ``in_channels``,
``num_classes`` and ``image_size``), registered under its option name:

- ``resnet18`` / ``resnet18_tiny``: EGP's post-activation ResNet-18/34. ``stem="cifar"`` is a 3x3 stride-1
  conv + BN + ReLU + 3x3 stride-2 max-pool (the max-pool is kept, as in the EGP code); ``stem="imagenet"``
  torchvision's 7x7 stride-2 conv + max-pool, used on 64x64 Tiny-ImageNet. 1 + 2 x 8 = 17 rectifiers.
- ``resnet50``: the SAP code's torchvision ResNet-50/101/152, ImageNet stem even on 32x32 inputs.
- ``resnet32``: He et al.'s CIFAR ResNet (6n + 2 layers) as in LOBSTER: plain 3x3 stem, option-A shortcuts.
- ``preact_resnet18`` / ``wresnet28x8``: the SAP code's pre-activation ResNet-18/34 and WideResNet.

Modules are created in the order of the papers' code and initialised as it does, so a seeded build gives
the same weights as before this family was merged (a test pins a checksum).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from repro.errors import ConfigError, check_choice
from repro.models.blocks import BLOCKS
from repro.models.build import too_small
from repro.models.init import sap_init
from repro.models.registry import register_model

# stem kind -> (conv kernel, conv stride, 3x3 stride-2 max-pool after it)
STEMS: dict[str, tuple[int, int, bool]] = {
    "cifar": (3, 1, True),
    "imagenet": (7, 2, True),
    "plain": (3, 1, False),
}
# torchvision's rule (Kaiming fan_out convs, BN 1/0) with or without zeroing linear biases (SAP), or
# PyTorch's defaults (LOBSTER).
INITS: dict[str, Callable[[nn.Module], object]] = {
    "torchvision": lambda m: sap_init(m, zero_linear_bias=False),
    "sap": sap_init,
    "default": lambda m: None,
}
BASIC_DEPTHS: dict[int, tuple[int, ...]] = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
BOTTLENECK_DEPTHS: dict[int, tuple[int, ...]] = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class ResNet(nn.Module):
    """Stem; stages ``layer1``, ``layer2``.. of ``depths[i]`` blocks; global average pool; linear classifier.

    Stage i has ``width`` x 2^i channels (x the block's expansion) and strides by 2 from the second on.
    Post-activation blocks get BN + ReLU in the stem (``bn1``, ``relu``); pre-activation blocks get none
    there and a final ``bn`` + ``relu`` before the pool instead. ``stem_width`` (default ``width``) is the
    stem's channel count; ``block_args`` go to every block (``shortcut``, ``dropout``).
    """

    def __init__(
        self,
        *,
        block: str,
        depths: Sequence[int],
        in_channels: int,
        num_classes: int,
        width: int = 64,
        stem: str = "cifar",
        stem_width: int | None = None,
        block_args: Mapping[str, Any] | None = None,
        init: str = "torchvision",
    ) -> None:
        super().__init__()
        check_choice("model.block", block, sorted(BLOCKS))
        check_choice("model.stem", stem, sorted(STEMS))
        check_choice("model.init", init, sorted(INITS))
        make_block = BLOCKS[block]
        kernel, stride, pool = STEMS[stem]
        planes = stem_width or width
        self.preact = make_block.preact
        self.conv1 = nn.Conv2d(in_channels, planes, kernel, stride=stride, padding=kernel // 2, bias=False)
        if not self.preact:
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if pool else None
        self.stages: list[str] = []
        for i, n in enumerate(depths):
            out = width * 2**i
            blocks = []
            for j in range(n):
                blocks.append(make_block(planes, out, 2 if i > 0 and j == 0 else 1, **(block_args or {})))
                planes = out * make_block.expansion
            self.stages.append(f"layer{i + 1}")
            self.add_module(self.stages[-1], nn.Sequential(*blocks))
        if self.preact:
            self.bn = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(planes, num_classes)
        INITS[init](self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        if not self.preact:
            x = self.relu(self.bn1(x))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for name in self.stages:
            x = getattr(self, name)(x)
        if self.preact:
            x = self.relu(self.bn(x))
        return self.fc(self.avgpool(x).flatten(1))


def stage_sizes(depth: int, depths: dict[int, tuple[int, ...]]) -> tuple[int, ...]:
    """Blocks per stage for ``depth``; a ConfigError names ``model.depth`` otherwise."""
    check_choice("model.depth", depth, sorted(depths))
    return depths[depth]


# --------------------------------------------------------------------------- variants


@register_model("resnet18")
def resnet18(
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    width: int = 64,
    stem: str = "cifar",
    depth: int = 18,
) -> ResNet:
    """EGP's post-activation ResNet-18 (``depth=34``: -34), torchvision-initialised."""
    depths = stage_sizes(depth, BASIC_DEPTHS)
    check_choice("model.stem", stem, ("cifar", "imagenet"))
    return ResNet(
        block="basic", depths=depths, in_channels=in_channels, num_classes=num_classes, width=width, stem=stem
    )


@register_model("resnet18_tiny")
def resnet18_tiny(*, stem: str = "imagenet", **settings: Any) -> ResNet:
    """EGP's ResNet-18 for Tiny-ImageNet: :func:`resnet18` with the ImageNet stem on 64x64 inputs."""
    return resnet18(stem=stem, **settings)


@register_model("resnet50")
def resnet50(
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    width: int = 64,
    stem: str = "imagenet",
    depth: int = 50,
) -> ResNet:
    """The SAP code's torchvision ResNet-50 (101, 152 by ``depth``); bottleneck outputs are 4 x ``width``."""
    depths = stage_sizes(depth, BOTTLENECK_DEPTHS)
    check_choice("model.stem", stem, ("cifar", "imagenet"))
    return ResNet(
        block="bottleneck",
        depths=depths,
        in_channels=in_channels,
        num_classes=num_classes,
        width=width,
        stem=stem,
    )


@register_model("resnet32")
def resnet32(
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    width: int = 16,
    stem: str = "cifar",
    depth: int = 32,
    shortcut: str = "A",
) -> ResNet:
    """LOBSTER's CIFAR ResNet-20/32/44/.. (3 stages of n blocks); ``shortcut="B"``: 1x1 conv + BN."""
    check_choice("model.stem", stem, ("cifar",))
    check_choice("model.shortcut", shortcut, ("A", "B"))
    if depth < 8 or (depth - 2) % 6:
        raise ConfigError(
            f"model.depth={depth} is invalid: a CIFAR ResNet has depth 6n + 2 (20, 32, 44, ...)"
        )
    n = (depth - 2) // 6
    return ResNet(
        block="basic",
        depths=(n, n, n),
        in_channels=in_channels,
        num_classes=num_classes,
        width=width,
        stem="plain",
        block_args={"shortcut": shortcut},
        init="default",
    )


@register_model("preact_resnet18")
def preact_resnet18(
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    width: int = 64,
    stem: str = "cifar",
    depth: int = 18,
) -> ResNet:
    """The SAP code's pre-activation ResNet-18/34; only its CIFAR stem exists (used on Tiny-ImageNet too)."""
    check_choice("model.stem", stem, ("cifar",))
    depths = stage_sizes(depth, BASIC_DEPTHS)
    return ResNet(
        block="preact",
        depths=depths,
        in_channels=in_channels,
        num_classes=num_classes,
        width=width,
        stem="plain",
        init="sap",
    )


@register_model("wresnet28x8")
def wresnet28x8(
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    width: int = 128,
    stem: str = "cifar",
    depth: int = 28,
    dropout: float = 0.0,
) -> ResNet:
    """The SAP code's WideResNet; ``width`` = first stage's channels = 16 x widen factor (128 for x8).

    As in that code the stage count follows the input side, round(log2(image_size)) - 2 (3 on 28x28 and
    32x32, 4 on 64x64), with floor(((depth - 1) / stages - 1) / 2) blocks each; the stem has 16 channels.
    """
    check_choice("model.stem", stem, ("cifar",))
    num_stages = round(math.log2(image_size)) - 2 if image_size > 0 else 0
    if num_stages < 1:
        raise too_small(image_size, 6, "wresnet28x8")
    per_stage = int(((depth - 1) / num_stages - 1) / 2)
    if per_stage < 1:
        raise ConfigError(f"model.depth={depth} is invalid: leaves no block per stage at this image size")
    return ResNet(
        block="preact",
        depths=(per_stage,) * num_stages,
        in_channels=in_channels,
        num_classes=num_classes,
        width=width,
        stem="plain",
        stem_width=16,
        block_args={"dropout": dropout},
        init="sap",
    )
