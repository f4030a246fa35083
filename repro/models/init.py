"""Weight initialisation shared by the SAP models (and, minus the linear bias, torchvision's ResNets).

The SAP paper's official code re-initialises every model after construction: Kaiming-normal (fan_out, ReLU
gain) for convolutions with zero bias, batch-norm weight 1 and bias 0, and linear biases 0 while linear
weights keep PyTorch's default. Rewinding in the prune-retrain loop restores these values, so they must be
reproduced exactly for the SAP curves to be comparable.
"""

from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def sap_init(model: nn.Module, *, zero_linear_bias: bool = True) -> nn.Module:
    """Initialise ``model`` in place as the SAP code does and return it.

    ``zero_linear_bias=False`` gives torchvision's ResNet initialisation (same conv and norm rule, linear
    layers left at PyTorch's default), which the EGP ResNet-18 uses.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _BatchNorm):
            if m.weight is not None:
                nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and zero_linear_bias and m.bias is not None:
            nn.init.zeros_(m.bias)
    return model
