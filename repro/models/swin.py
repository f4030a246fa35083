"""torchvision's Swin Transformers (``swin_t`` for EGP), optionally with ImageNet-1k weights, new head.

Inputs are not resized: torchvision pads feature maps to whole windows and drops the shift when a window
covers the map, so 32x32 CIFAR images run as they are (8x8 patch tokens), as in the EGP code. The head is a
fresh ``nn.Linear(num_classes)``. For ``in_channels != 3`` the 4x4 patch-embedding conv is replaced; with
pretrained weights its filters become the RGB filters summed and split evenly over the new channels, so a
grey image embeds as its RGB replica did. Each transformer MLP keeps its own ``nn.GELU`` module (12 in
Swin-T), which EGP hooks.
"""

from __future__ import annotations

import os

import torch
import torchvision.models as tvm
from torch import nn

from repro.errors import check_choice
from repro.models.build import network_timeout, pretrained_unavailable
from repro.models.registry import register_model

ARCHS = tuple(name for name in tvm.list_models(module=tvm) if name.startswith("swin"))


def imagenet_state_dict(arch: str) -> dict[str, torch.Tensor]:
    """ImageNet-1k weights of ``arch`` from torch's hub cache, downloading them once if the node is online."""
    weights = tvm.get_model_weights(arch)["IMAGENET1K_V1"]
    try:
        with network_timeout():
            return weights.get_state_dict(progress=False, check_hash=True)
    except OSError as exc:  # URLError, timeouts, refused connections
        where = os.path.join(torch.hub.get_dir(), "checkpoints")
        raise pretrained_unavailable(arch, [where], exc, file=os.path.basename(weights.url)) from None


def adapt_patch_embedding(conv: nn.Conv2d, in_channels: int, keep_weights: bool) -> nn.Conv2d:
    """A copy of the patch-embedding conv for ``in_channels`` inputs."""
    new = nn.Conv2d(
        in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        bias=conv.bias is not None,
    )
    if keep_weights:
        with torch.no_grad():
            summed = conv.weight.sum(dim=1, keepdim=True)
            new.weight.copy_(summed.expand(-1, in_channels, -1, -1) / in_channels)
            if conv.bias is not None:
                new.bias.copy_(conv.bias)
    return new


@register_model("swin_t")
def swin(
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    arch: str = "swin_t",
    pretrained: bool = False,
) -> nn.Module:
    """Build torchvision's ``arch`` (swin_t, swin_s, swin_b, swin_v2_*) for ``num_classes`` classes."""
    check_choice("model.arch", arch, ARCHS)
    state = imagenet_state_dict(arch) if pretrained else None  # fetched first: an offline node fails fast
    model = tvm.get_model(arch, weights=None)
    if state is not None:
        model.load_state_dict(state)
    patch = model.features[0][0]
    if in_channels != patch.in_channels:
        model.features[0][0] = adapt_patch_embedding(patch, in_channels, keep_weights=pretrained)
    model.head = nn.Linear(model.head.in_features, num_classes)
    return model
