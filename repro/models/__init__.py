"""Model registry: one YAML option per model under ``conf/model/``, built by :func:`build_model`."""

from repro.models.build import build_model

# The option names of conf/model/*.yaml (a test keeps the two in step).
MODELS: tuple[str, ...] = (
    "cnn",
    "lenet300",
    "lenet5",
    "linear",
    "mlp",
    "preact_resnet18",
    "resnet18",
    "resnet18_tiny",
    "resnet32",
    "resnet50",
    "swin_t",
    "timm",
    "wresnet28x8",
)

__all__ = ["MODELS", "build_model"]
