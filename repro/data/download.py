"""Missing-data errors and downloads that never leave half-written files where the loaders look.

A download runs in a temporary folder beside the data; only complete folders or files are moved into place
with ``os.replace`` (atomic on one file system), and the temporary folder is removed whatever happens.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NoReturn

from repro.errors import DataMissingError


def missing(
    name: str, root: str | os.PathLike, where: str | os.PathLike, reason: str | None = None
) -> NoReturn:
    """Raise the one-line DataMissingError that names ``dataset.root`` and how to fix it."""
    why = "dataset.download=false" if reason is None else f"download failed: {reason}"
    raise DataMissingError(
        f"dataset.root={str(root)!r}: {name} not found under {where} ({why}); point dataset.root at a "
        "folder that holds it or set dataset.download=true"
    )


def check_md5sums(label: str, root: str | os.PathLike, folder: Path) -> None:
    """Verify the files listed in ``folder/MD5SUMS`` (as ``md5sum`` writes it), where the data ship one.

    A truncated or damaged file is named as such instead of being reported as missing.
    """
    listing = folder / "MD5SUMS"
    if not listing.is_file():
        return
    for line in listing.read_text().splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        digest, name = parts[0], parts[1].lstrip("*")
        path = folder / name
        if path.is_file() and hashlib.md5(path.read_bytes()).hexdigest() != digest:
            raise DataMissingError(
                f"dataset.root={str(root)!r}: {label} file {path} fails its MD5SUMS checksum (truncated or "
                "damaged); restore it from the original archive"
            )


def one_line(exc: BaseException) -> str:
    """A short, single-line description of ``exc`` for an error message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    return f"{type(exc).__name__}: {text}"[:200]


def _merge(src: Path, dst: Path) -> None:
    """Move the tree ``src`` into ``dst``: whole when ``dst`` is absent, else file by file."""
    if not dst.exists():
        os.replace(src, dst)
        return
    for path in sorted(src.rglob("*")):
        if path.is_file():
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)


def staged_download(
    name: str,
    root: str | os.PathLike,
    where: str | os.PathLike,
    fetch: Callable[[Path], None],
    keep: Iterable[str],
) -> None:
    """Run ``fetch(tmp)``, then move the entries ``keep`` of ``tmp`` into ``root``.

    Any failure (offline, bad checksum, interrupted extraction) raises DataMissingError and leaves ``root`` as
    it was, apart from the empty folder itself.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=root))
    try:
        try:
            fetch(tmp)
        except Exception as exc:  # urllib, torchvision and archive errors share no base class
            missing(name, root, where, one_line(exc))
        for entry in keep:
            if not (tmp / entry).exists():
                missing(name, root, where, f"the download holds no {entry}")
            _merge(tmp / entry, root / entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
