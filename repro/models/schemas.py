"""Schemas of the ``model`` config group (declared here, beside the models; no model is imported)."""

from __future__ import annotations

from dataclasses import dataclass

from repro.schema import option, schema


@schema("model", "base")
@dataclass
class ModelConfig:
    _target_: str = "???"
    name: str = "???"
    # Image side the model is built for; data sets that can be resized (digits) follow it.
    input_size: int | None = option(None, ge=1)
    # Start from these weights (a state_dict saved with torch.save; loaded with weights_only=True).
    checkpoint: str | None = None
    # Re-initialise conv/linear weights after construction: default keeps the model's own rule;
    # glorot_normal is Xavier-normal weights, biases untouched (the lottery-ticket paper, open_lth).
    init: str = option("default", choices=("default", "glorot_normal"))


@schema("model", "mlp")
@dataclass
class MLPConfig(ModelConfig):
    hidden: list[int] = option(lambda: [128, 256], ge=1, each=True)


@schema("model", "convnet")
@dataclass
class ConvNetConfig(ModelConfig):
    channels: list[int] = option(lambda: [64, 128, 256, 512], ge=1, each=True)


@schema("model", "resnet")
@dataclass
class ResNetConfig(ModelConfig):
    width: int = option(64, ge=1)
    # cifar: 3x3 stride-1 stem + max-pool; imagenet: 7x7 stride-2 stem + max-pool
    stem: str = option("cifar", choices=("cifar", "imagenet"))
    depth: int = 18


@schema("model", "pretrained")
@dataclass
class PretrainedConfig(ModelConfig):
    arch: str = "???"
    pretrained: bool = False
