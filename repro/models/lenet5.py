"""LeNet-5, Caffe variant (conv 20@5x5, pool, conv 50@5x5, pool, fc 800-500-C), for the one-shot study.

ReLUs follow the group's LOBSTER code: one after each convolution (before its max-pool) and one after fc1;
Caffe's original ``lenet.prototxt`` has only the one after fc1. The flattened width (800 on 28x28 inputs)
follows from ``image_size``. PyTorch's default initialisation, as in LOBSTER.
"""

from __future__ import annotations

from torch import Tensor, nn

from repro.models.build import too_small
from repro.models.registry import register_model


@register_model("lenet5")
class LeNet5(nn.Module):
    def __init__(self, *, in_channels: int, num_classes: int, image_size: int) -> None:
        super().__init__()
        side = ((image_size - 4) // 2 - 4) // 2  # two valid 5x5 convs, each followed by a 2x2 max-pool
        if side < 1:
            raise too_small(image_size, 16, "lenet5")
        self.conv1 = nn.Conv2d(in_channels, 20, kernel_size=5)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(20, 50, kernel_size=5)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(50 * side * side, 500)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(500, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc2(self.relu3(self.fc1(self.flatten(x))))
