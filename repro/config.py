"""Typed schemas of every config group, registered in Hydra's ConfigStore.

Each YAML option under ``conf/<group>/`` extends one of these schemas
(``defaults: [/schema/<group>/<name>@_here_]``), so Hydra rejects an unknown key or a wrongly typed value
at compose time. Ranges that types cannot express are checked by :func:`validate`, which names the full
key (``pruner.sparsity=1.5 ...``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

import repro.pruning.schemas  # noqa: F401  (registers schema/pruner/*)
from repro.errors import check_choice, check_range
from repro.schema import SCHEMAS, check


class Checked:
    """Mixin: ``check(prefix)`` validates ranges; subclasses extend it."""

    def check(self, prefix: str) -> None:  # pragma: no cover - overridden
        pass


# --------------------------------------------------------------------------- model


@dataclass
class ModelConfig(Checked):
    _target_: str = "???"
    name: str = "???"
    # Image side the model is built for; data sets that can be resized (digits) follow it.
    input_size: int | None = None
    # Start from these weights (a state_dict saved with torch.save; loaded with weights_only=True).
    checkpoint: str | None = None

    def check(self, prefix: str) -> None:
        if self.input_size is not None:
            check_range(f"{prefix}.input_size", self.input_size, 1)


@dataclass
class MLPConfig(ModelConfig):
    hidden: list[int] = field(default_factory=lambda: [128, 256])

    def check(self, prefix: str) -> None:
        super().check(prefix)
        for i, h in enumerate(self.hidden):
            check_range(f"{prefix}.hidden[{i}]", h, 1)


@dataclass
class ConvNetConfig(ModelConfig):
    channels: list[int] = field(default_factory=lambda: [64, 128, 256, 512])

    def check(self, prefix: str) -> None:
        super().check(prefix)
        for i, c in enumerate(self.channels):
            check_range(f"{prefix}.channels[{i}]", c, 1)


@dataclass
class ResNetConfig(ModelConfig):
    width: int = 64
    stem: str = "cifar"  # cifar: 3x3 stride-1 stem + max-pool; imagenet: 7x7 stride-2 stem + max-pool
    depth: int = 18

    def check(self, prefix: str) -> None:
        super().check(prefix)
        check_range(f"{prefix}.width", self.width, 1)
        check_choice(f"{prefix}.stem", self.stem, ("cifar", "imagenet"))


@dataclass
class PretrainedConfig(ModelConfig):
    arch: str = "???"
    pretrained: bool = False


# --------------------------------------------------------------------------- dataset


@dataclass
class DatasetConfig(Checked):
    name: str = "???"
    root: str = "data"
    download: bool = False
    # None keeps the native side; an int resizes every image once at load time.
    image_size: int | None = None
    augment: bool = True
    crop_padding: int = 0
    pad_mode: str = "constant"
    flip: bool = False
    # Keep only the first N samples of a split (after a seeded shuffle); None keeps all.
    train_subset: int | None = None
    test_subset: int | None = None
    # Samples taken out of the training split as a validation split (LOBSTER's plateau test).
    val_size: int = 0
    # synthetic only
    num_classes: int = 10
    channels: int = 3
    train_size: int = 1024
    test_size: int = 256

    def check(self, prefix: str) -> None:
        if self.image_size is not None:
            check_range(f"{prefix}.image_size", self.image_size, 1)
        check_range(f"{prefix}.crop_padding", self.crop_padding, 0)
        check_choice(f"{prefix}.pad_mode", self.pad_mode, ("constant", "reflect"))
        for key in ("train_subset", "test_subset"):
            value = getattr(self, key)
            if value is not None:
                check_range(f"{prefix}.{key}", value, 1)
        check_range(f"{prefix}.val_size", self.val_size, 0)
        check_range(f"{prefix}.num_classes", self.num_classes, 2)
        check_range(f"{prefix}.channels", self.channels, 1)
        check_range(f"{prefix}.train_size", self.train_size, 1)
        check_range(f"{prefix}.test_size", self.test_size, 1)


# --------------------------------------------------------------------------- entropy


@dataclass
class EntropyConfig(Checked):
    names: list[str] = field(default_factory=list)
    split: str = "test"
    max_batches: int | None = None
    # After the last pruning step, build the shallower network from the zero-entropy layers and compare
    # it with the pruned one (repro.metrics.depth): layers, parameters, FLOPs, latency, test accuracy.
    depth: bool = False
    # Batch size of the latency measurement.
    latency_batch: int = 128
    # PSP-entropy (repro.metrics.psp): count the output layer as a hidden layer; keep the [neurons x classes]
    # matrices only of layers with at most this many neurons (None: every layer).
    psp_include_output: bool = False
    psp_matrix_max_neurons: int | None = None

    def check(self, prefix: str) -> None:
        check_choice(f"{prefix}.split", self.split, ("train", "test"))
        if self.max_batches is not None:
            check_range(f"{prefix}.max_batches", self.max_batches, 1)
        check_range(f"{prefix}.latency_batch", self.latency_batch, 1)
        if self.psp_matrix_max_neurons is not None:
            check_range(f"{prefix}.psp_matrix_max_neurons", self.psp_matrix_max_neurons, 0)


# --------------------------------------------------------------------------- analysis


@dataclass
class AnalysisConfig(Checked):
    # Sharpness measurements (repro.analysis, repro.metrics.sharpness): curve1d, surface2d, hessian,
    # epsilon, interpolation. Empty: none.
    names: list[str] = field(default_factory=list)
    # final: only after the last step; all: after every step (the dense step 0 included).
    at: str = "final"
    split: str = "train"
    # The cost bound: every loss is the mean over `batches` fixed random batches of `batch_size`.
    batches: int = 4
    batch_size: int = 512
    seed: int = 0
    # weights: surviving entries of the prunable weights move; all: every other parameter too.
    params: str = "weights"
    radius: float = 1.0
    points_1d: int = 41
    points_2d: int = 21
    hessian_iters: int = 20
    hessian_tol: float = 1e-3
    epsilon: float = 1e-3
    epsilon_steps: int = 10
    interpolate_with: list[str] = field(default_factory=lambda: ["oneshot", "gradual", "lobster"])
    interp_points: int = 21
    interp_margin: float = 0.0
    interp_sparsity_tol: float = 0.005

    def check(self, prefix: str) -> None:
        from repro.analysis import MEASURES

        for i, name in enumerate(self.names):
            check_choice(f"{prefix}.names[{i}]", name, MEASURES)
        check_choice(f"{prefix}.at", self.at, ("final", "all"))
        check_choice(f"{prefix}.split", self.split, ("train", "test", "val"))
        check_choice(f"{prefix}.params", self.params, ("weights", "all"))
        for key in ("batches", "batch_size", "hessian_iters", "epsilon_steps"):
            check_range(f"{prefix}.{key}", getattr(self, key), 1)
        for key in ("points_1d", "points_2d", "interp_points"):
            check_range(f"{prefix}.{key}", getattr(self, key), 2)
        check_range(f"{prefix}.seed", self.seed, 0)
        check_range(f"{prefix}.radius", self.radius, 0.0, low_open=True)
        check_range(f"{prefix}.hessian_tol", self.hessian_tol, 0.0)
        check_range(f"{prefix}.epsilon", self.epsilon, 0.0, low_open=True)
        check_range(f"{prefix}.interp_margin", self.interp_margin, 0.0)
        check_range(f"{prefix}.interp_sparsity_tol", self.interp_sparsity_tol, 0.0)

    def check_with(self, cfg: DictConfig, prefix: str) -> None:
        if self.split == "val" and self.names and int(cfg.dataset.get("val_size", 0) or 0) == 0:
            from repro.errors import bad_value

            raise bad_value(f"{prefix}.split", "val", "needs dataset.val_size > 0")


# --------------------------------------------------------------------------- trainer


@dataclass
class TrainerConfig(Checked):
    epochs: int = 1
    # Epochs of the dense training (step 0); None uses ``epochs``.
    dense_epochs: int | None = None
    batch_size: int = 128
    eval_batch_size: int = 1000
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.1
    grad_clip: float | None = None
    # Stop an epoch after this many batches (smoke tests, benchmarks); None runs the whole epoch.
    max_batches: int | None = None
    device: str = "auto"
    amp: bool = True
    channels_last: bool = True
    deterministic: bool = False
    num_threads: int | None = None
    progress: bool = True

    def check(self, prefix: str) -> None:
        check_range(f"{prefix}.epochs", self.epochs, 0)
        if self.dense_epochs is not None:
            check_range(f"{prefix}.dense_epochs", self.dense_epochs, 0)
        check_range(f"{prefix}.batch_size", self.batch_size, 1)
        check_range(f"{prefix}.eval_batch_size", self.eval_batch_size, 1)
        check_choice(f"{prefix}.optimizer", self.optimizer, ("sgd", "adam"))
        check_range(f"{prefix}.lr", self.lr, 0.0, low_open=True)
        check_range(f"{prefix}.momentum", self.momentum, 0.0, 1.0, high_open=True)
        check_range(f"{prefix}.weight_decay", self.weight_decay, 0.0)
        check_choice(f"{prefix}.schedule", self.schedule, ("constant", "cosine", "multistep"))
        check_range(f"{prefix}.gamma", self.gamma, 0.0, 1.0, low_open=True)
        if self.grad_clip is not None:
            check_range(f"{prefix}.grad_clip", self.grad_clip, 0.0, low_open=True)
        if self.max_batches is not None:
            check_range(f"{prefix}.max_batches", self.max_batches, 1)
        check_choice(f"{prefix}.device", self.device, ("auto", "cpu", "cuda"))
        if self.num_threads is not None:
            check_range(f"{prefix}.num_threads", self.num_threads, 1)


# --------------------------------------------------------------------------- logger


@dataclass
class LoggerConfig(Checked):
    name: str = "none"
    project: str = "repro"
    entity: str | None = None
    # auto: online when a W&B key is configured, offline otherwise.
    mode: str = "auto"
    group: str | None = None
    tags: list[str] = field(default_factory=list)

    def check(self, prefix: str) -> None:
        check_choice(f"{prefix}.name", self.name, ("wandb", "none"))
        check_choice(f"{prefix}.mode", self.mode, ("auto", "offline", "online", "disabled"))


GROUP_SCHEMAS: dict[str, dict[str, type]] = {
    "model": {
        "base": ModelConfig,
        "mlp": MLPConfig,
        "convnet": ConvNetConfig,
        "resnet": ResNetConfig,
        "pretrained": PretrainedConfig,
    },
    "dataset": {"base": DatasetConfig},
    # Declared beside their code (repro/pruning/schemas.py) and checked by repro.schema.check.
    "pruner": SCHEMAS["pruner"],
    "entropy": {"base": EntropyConfig},
    "analysis": {"base": AnalysisConfig},
    "trainer": {"base": TrainerConfig},
    "logger": {"base": LoggerConfig},
}


def register_schemas() -> None:
    """Store every schema as ``schema/<group>/<name>`` so YAML options can extend it."""
    cs = ConfigStore.instance()
    for group, schemas in GROUP_SCHEMAS.items():
        for name, node in schemas.items():
            cs.store(group=f"schema/{group}", name=name, node=node)


def _check_node(node: Any, prefix: str) -> None:
    if isinstance(node, Checked):
        node.check(prefix)
    if is_dataclass(node):
        for f in fields(node):
            _check_node(getattr(node, f.name), f"{prefix}.{f.name}")


def validate(cfg: DictConfig) -> None:
    """Check every group's ranges and the top-level keys; raise ConfigError naming the first bad key."""
    for group in GROUP_SCHEMAS:
        if group in cfg:
            node = OmegaConf.to_object(cfg[group])
            if group == "pruner":
                check(node, group, cfg)
                continue
            _check_node(node, group)
            if hasattr(node, "check_with"):  # checks that need other groups (e.g. trainer.epochs)
                node.check_with(cfg, group)
    check_range("seed", cfg.seed, 0)
