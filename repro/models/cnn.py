"""The SAP paper's CNN: 4 x [conv3x3, BN, ReLU, max-pool] (64/128/256/512), last pool removed, GAP, Linear.

Convolutions keep their bias, as in the official code (it is redundant before BN but is part of the
parameter count and of the rewound state). SAP-initialised.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import Tensor, nn

from repro.models.build import too_small
from repro.models.init import sap_init
from repro.models.registry import register_model


@register_model("cnn")
class CNN(nn.Module):
    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        image_size: int,
        channels: Sequence[int] = (64, 128, 256, 512),
    ) -> None:
        super().__init__()
        pools = len(channels) - 1
        if image_size < 2**pools:
            raise too_small(image_size, 2**pools, "cnn")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        width = in_channels
        for i, c in enumerate(channels, start=1):
            layers[f"conv{i}"] = nn.Conv2d(width, c, kernel_size=3, padding=1)
            layers[f"bn{i}"] = nn.BatchNorm2d(c)
            layers[f"relu{i}"] = nn.ReLU()
            if i < len(channels):
                layers[f"pool{i}"] = nn.MaxPool2d(2)
            width = c
        self.features = nn.Sequential(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(width, num_classes)
        sap_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.flatten(self.avgpool(self.features(x))))
