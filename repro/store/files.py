"""Atomic, checksummed files: the only way the suite writes anything to disk.

Every write goes to a temporary file beside the target, is flushed to disk and renamed over it, so a reader
never sees half a file. Tensor files are loaded with ``weights_only=True`` (no pickled code) after their
checksum, when one is known, has been verified.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from repro.security import refuse_secret


class CorruptFileError(RuntimeError):
    """A file does not match the checksum recorded for it, or cannot be read as plain tensors."""


def warn(message: str) -> None:
    print(f"[repro] warning: {message}", file=sys.stderr, flush=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename), with the process umask.

    ``mkstemp`` creates files readable by their owner only; the mode is widened to what ``open`` would give,
    so a group can read a shared results folder.
    """
    path = Path(path)
    refuse_secret(data, path)  # the last guard: no file of the suite ever holds a secret
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_torch_save(obj: Any, path: Path) -> str:
    """Save ``obj`` atomically; return the file's sha256 (kept in the record to detect damage)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    atomic_write(path, data)
    return sha256_bytes(data)


def atomic_json(path: Path, data: Any) -> str:
    """Write ``data`` as indented JSON atomically; return the file's sha256."""
    blob = json.dumps(data, indent=1, sort_keys=True).encode()
    atomic_write(path, blob)
    return sha256_bytes(blob)


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def safe_load(path: Path, sha256: str | None = None) -> Any:
    """Load a tensor file with ``weights_only=True`` after checking its checksum when one is known."""
    path = Path(path)
    if not path.exists():
        raise CorruptFileError(f"{path}: missing")
    if sha256 is not None and sha256_file(path) != sha256:
        raise CorruptFileError(f"{path}: checksum mismatch (truncated or modified)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = f"{type(exc).__name__}: {first}"
        raise CorruptFileError(f"{path}: refused to load as plain tensors ({reason})") from None
