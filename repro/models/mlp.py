"""Fully connected classifiers on flattened images: linear, the SAP MLP and LeNet-300-100.

Each hidden layer has its own ``nn.ReLU`` module (not in place), so entropy hooks see every layer's
pre-activation as the ReLU's input.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from repro.models.init import sap_init as apply_sap_init
from repro.models.registry import register_model


@register_model("mlp")
class MLP(nn.Sequential):
    """``flatten -> fc1 -> relu1 -> ... -> fc{n+1}``; SAP's MLP is 784-128-256-C.

    ``sap_init`` applies the SAP code's initialisation (linear biases 0, weights at PyTorch's default).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        image_size: int,
        hidden: Sequence[int] = (128, 256),
        sap_init: bool = True,
    ) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
        width = in_channels * image_size * image_size
        for i, h in enumerate(hidden, start=1):
            layers[f"fc{i}"] = nn.Linear(width, h)
            layers[f"relu{i}"] = nn.ReLU()
            width = h
        layers[f"fc{len(hidden) + 1}"] = nn.Linear(width, num_classes)
        super().__init__(layers)
        if sap_init:
            apply_sap_init(self)


@register_model("linear")
class LinearClassifier(MLP):
    """One ``nn.Linear`` on the flattened image (SAP's "linear" model), SAP-initialised."""

    def __init__(self, *, in_channels: int, num_classes: int, image_size: int) -> None:
        super().__init__(in_channels=in_channels, num_classes=num_classes, image_size=image_size, hidden=())


@register_model("lenet300")
class LeNet300(MLP):
    """LeNet-300-100 (784-300-100-C, ReLU) with PyTorch's default initialisation, as in LOBSTER."""

    def __init__(self, *, in_channels: int, num_classes: int, image_size: int) -> None:
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            image_size=image_size,
            hidden=(300, 100),
            sap_init=False,
        )
