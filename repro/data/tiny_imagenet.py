"""Tiny-ImageNet (200 classes, 64x64 RGB): folder layout, val rearrangement and a uint8 tensor cache.

The official ``val/`` holds all images in one folder with labels in ``val_annotations.txt``; it is rearranged
once into ``val/<wnid>/<file>`` so it reads like ``train/`` (and like torchvision's ``ImageFolder``). Listing
and decoding 110k JPEGs takes tens of seconds, so each split is decoded once into ``cache/<split>.pt`` beside
the data.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torchvision.datasets.utils import download_and_extract_archive
from torchvision.io import ImageReadMode, decode_image, read_file
from torchvision.transforms.v2 import functional as TF

from repro.data.core import Source, Split
from repro.data.download import missing, staged_download
from repro.data.registry import register

FOLDER = "tiny-imagenet-200"
URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
SIZE = 64
MEAN = (0.4802, 0.4481, 0.3975)
STD = (0.2770, 0.2691, 0.2821)
_EXTENSIONS = {".jpeg", ".jpg", ".png"}
log = logging.getLogger(__name__)


def cache_path(base: Path, split: str) -> Path:
    return base / "cache" / f"{split}.pt"


def rearrange_val(base: Path) -> None:
    """Move ``val/images/<file>`` to ``val/<wnid>/<file>``; idempotent and safe to interrupt.

    Each move is one atomic rename, so a rerun finishes the job; ``val/images`` goes only once empty.
    """
    images = base / "val" / "images"
    if not images.is_dir():
        return
    for line in (base / "val" / "val_annotations.txt").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        src = images / parts[0]
        if src.is_file():
            dst = base / "val" / parts[1] / parts[0]
            dst.parent.mkdir(exist_ok=True)
            os.replace(src, dst)
    if not any(images.iterdir()):
        images.rmdir()


def _classes(base: Path) -> list[str]:
    """Sorted wnids: the class-to-index of ``ImageFolder`` on ``train/``."""
    listed = base / "wnids.txt"
    if listed.is_file():
        return sorted(line.strip() for line in listed.read_text().splitlines() if line.strip())
    return sorted(p.name for p in (base / "train").iterdir() if p.is_dir())


def _files(base: Path, split: str, classes: list[str]) -> tuple[list[Path], list[int]]:
    folder = base / split
    if (
        split == "val" and (folder / "images").is_dir()
    ):  # not rearranged (read-only copy): use the annotations
        pairs = [line.split("\t")[:2] for line in (folder / "val_annotations.txt").read_text().splitlines()]
        index = {wnid: i for i, wnid in enumerate(classes)}
        chosen = sorted((wnid, name) for name, wnid in (p for p in pairs if len(p) == 2))
        return [folder / "images" / name for _, name in chosen], [index[wnid] for wnid, _ in chosen]
    paths: list[Path] = []
    labels: list[int] = []
    for i, wnid in enumerate(classes):
        found = sorted(p for p in (folder / wnid).rglob("*") if p.suffix.lower() in _EXTENSIONS)
        paths += found
        labels += [i] * len(found)
    return paths, labels


def _decode(paths: list[Path]) -> torch.Tensor:
    """Decode into one preallocated uint8 tensor (no stacking copy): 100k files take tens of seconds."""
    out = torch.empty((len(paths), 3, SIZE, SIZE), dtype=torch.uint8)
    for i, path in enumerate(paths):
        image = decode_image(read_file(str(path)), mode=ImageReadMode.RGB)
        if image.shape[-2:] != (SIZE, SIZE):
            image = TF.resize(image, [SIZE, SIZE], antialias=True)
        out[i] = image
    return out


def _save_atomic(blob: dict[str, Any], path: Path) -> None:
    """Write to a temporary file beside ``path``, then rename: a reader never sees half a cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # read-only data folder: work without a cache
        log.warning("tiny_imagenet: cannot write the cache %s (%s); decoding again next time", path, exc)
        return
    os.close(fd)
    try:
        torch.save(blob, tmp)
        os.replace(tmp, path)
    except OSError as exc:  # disk full: the data are in memory, only the cache is lost
        log.warning("tiny_imagenet: cannot write the cache %s (%s); decoding again next time", path, exc)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_split(base: Path, split: str, root: str) -> Split:
    """One split from its cache, or decoded from JPEGs (and then cached)."""
    cache = cache_path(base, split)
    if cache.is_file():
        blob = torch.load(cache, weights_only=True)
        return Split(blob["images"], blob["labels"])
    if split == "val":
        try:
            rearrange_val(base)
        except OSError as exc:
            log.warning("tiny_imagenet: cannot rearrange %s/val (%s); reading its annotations", base, exc)
    classes = _classes(base)
    paths, labels = _files(base, split, classes)
    if not paths:
        missing("tiny_imagenet", root, base / split)
    result = Split(_decode(paths), torch.tensor(labels, dtype=torch.int64))
    _save_atomic({"images": result.images, "labels": result.labels, "classes": classes}, cache)
    return result


def _present(base: Path) -> bool:
    cached = all(cache_path(base, s).is_file() for s in ("train", "val"))
    return cached or ((base / "train").is_dir() and (base / "val").is_dir())


@register("tiny_imagenet")
def load_tiny_imagenet(cfg: Any) -> Source:
    """``<root>/tiny-imagenet-200``; the official val split is the test set (test labels are not public)."""
    root = Path(cfg.root)
    base = root / FOLDER
    if not _present(base):
        if not cfg.download:
            missing("tiny_imagenet", cfg.root, base)
        staged_download(
            "tiny_imagenet",
            root,
            base,
            lambda tmp: download_and_extract_archive(URL, str(tmp)),
            keep=[FOLDER],
        )
    train = load_split(base, "train", cfg.root)
    test = load_split(base, "val", cfg.root)
    return Source(train, test, num_classes=200, mean=MEAN, std=STD)
