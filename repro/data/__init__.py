"""Data sets as uint8 tensors in memory, with a fast batched loader; ``build_data(cfg.dataset, device)``.

Every module of this package is imported here, so a new data set is one module whose loader function is
decorated with :func:`register` (and its ``conf/dataset`` YAML): no list to edit.
"""

import importlib
import pkgutil

from repro.data.core import Data, Source, Split
from repro.data.loader import TensorLoader
from repro.data.registry import DATASETS, build_data, register

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["DATASETS", "Data", "Source", "Split", "TensorLoader", "build_data", "register"]
