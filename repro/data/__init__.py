"""Data sets as uint8 tensors in memory, with a fast batched loader; ``build_data(cfg.dataset, device)``."""

from repro.data import sources, tiny_imagenet  # noqa: F401  (register the loader functions)
from repro.data.core import Data, Source, Split
from repro.data.loader import TensorLoader
from repro.data.registry import DATASETS, build_data, register

__all__ = ["DATASETS", "Data", "Source", "Split", "TensorLoader", "build_data", "register"]
