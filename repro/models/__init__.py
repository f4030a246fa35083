"""Model registry: one YAML option per model under ``conf/model/``, built by :func:`build_model`.

Each option's factory registers itself under the option's name (:func:`register_model`) in its own module,
and this package imports every module in it, so adding a model touches only its module and its YAML (a
test checks that options and factories agree).
"""

import importlib
import pkgutil

from repro.models.build import build_model
from repro.models.registry import MODEL_REGISTRY, register_model

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

# The option names of conf/model/*.yaml.
MODELS: tuple[str, ...] = tuple(sorted(MODEL_REGISTRY))

__all__ = ["MODELS", "MODEL_REGISTRY", "build_model", "register_model"]
