"""Schema of the ``dataset`` config group (declared here, beside the loaders; no loader is imported)."""

from __future__ import annotations

from dataclasses import dataclass

from repro.schema import option, schema


@schema("dataset", "base")
@dataclass
class DatasetConfig:
    name: str = "???"
    root: str = "data"
    download: bool = False
    # None keeps the native side; an int resizes every image once at load time.
    image_size: int | None = option(None, ge=1)
    augment: bool = True
    crop_padding: int = option(0, ge=0)
    pad_mode: str = option("constant", choices=("constant", "reflect"))
    flip: bool = False
    # Keep only the first N samples of a split (after a seeded shuffle); None keeps all.
    train_subset: int | None = option(None, ge=1)
    test_subset: int | None = option(None, ge=1)
    # Samples taken out of the training split as a validation split (LOBSTER's plateau test).
    val_size: int = option(0, ge=0)
    # synthetic only
    num_classes: int = option(10, ge=2)
    channels: int = option(3, ge=1)
    train_size: int = option(1024, ge=1)
    test_size: int = option(256, ge=1)
