"""Run identity and the files of a run: resolved config, records, checkpoints and masks.

Every write is atomic (temporary file, then ``os.replace``), and a step counts as finished only once its
record is in ``records.jsonl``; its checkpoint is written first. A re-run therefore resumes after the last
recorded step and never reads a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from repro.security import refuse_secret

# Keys that do not change what a run computes: they are left out of its identity.
NON_IDENTITY_KEYS = (
    "logger",
    "out_dir",
    "sweep_name",
    "allow_any_target",
    "hydra",
    "trainer.progress",
    "trainer.device",
    "dataset.root",
    "dataset.download",
)


def resolved(cfg: DictConfig) -> dict[str, Any]:
    container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert isinstance(container, dict)
    container.pop("hydra", None)
    return container


def identity(cfg: DictConfig | dict[str, Any], drop: tuple[str, ...] = NON_IDENTITY_KEYS) -> str:
    """Short hash of the resolved config without the keys that do not change results."""
    data = resolved(cfg) if isinstance(cfg, DictConfig) else json.loads(json.dumps(cfg))
    for key in drop:
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def run_name(cfg: DictConfig) -> str:
    return f"{cfg.model.name}-{cfg.dataset.name}-{cfg.pruner.name}-s{cfg.seed}-{identity(cfg)}"


# --------------------------------------------------------------------------- atomic writes


def atomic_write(path: Path, data: bytes) -> None:
    refuse_secret(data, path)  # the last guard: no file of the suite ever holds a secret
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: Any, path: Path) -> str:
    """Save ``obj`` atomically and return the file's sha256 (kept in the record to detect corruption)."""
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    atomic_write(path, data)
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def warn(message: str) -> None:
    print(f"[repro] warning: {message}", file=sys.stderr, flush=True)


class CorruptFileError(RuntimeError):
    """A file of a run does not match the checksum its record holds."""


def safe_load(path: Path, sha256: str | None = None) -> Any:
    """Load a tensor file with ``weights_only=True`` after checking its checksum when one is known."""
    if sha256 is not None and sha256_file(path) != sha256:
        raise CorruptFileError(f"{path}: checksum mismatch (truncated or modified)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CorruptFileError(
            f"{path}: refused to load ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from None


# --------------------------------------------------------------------------- run directory


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    """The files of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = Path(run_dir)
        self.records_path = self.dir / "records.jsonl"
        self.status_path = self.dir / "status.json"

    # records ---------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """Records of the finished steps; a corrupt line and all after it are reported and ignored."""
        if not self.records_path.exists():
            return []
        out = []
        for number, line in enumerate(self.records_path.read_text(errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or "step" not in record:
                    raise ValueError("no step")
            except ValueError:
                warn(f"{self.records_path}: line {number} is corrupt; using the {len(out)} records before it")
                break
            out.append(record)
        return out

    def truncate_after(self, step: int) -> None:
        """Forget the records of every step after ``step`` (their files failed a check)."""
        kept = [json.dumps(r, sort_keys=True) for r in self.records() if r["step"] <= step]
        atomic_write(self.records_path, ("\n".join(kept) + "\n").encode() if kept else b"")

    # lock ------------------------------------------------------------------
    def acquire(self) -> str | None:
        """Take the run's lock; return None on success, or a description of the live owner.

        The lock file holds the owner's pid and host. A lock left by a dead process on this host is taken
        over; one held by another host is respected (delete ``lock`` by hand once that host is gone).
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "lock"
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    owner = json.loads(path.read_text() or "{}")
                except (OSError, ValueError):
                    owner = {}
                if owner.get("host") == me["host"] and not _alive(int(owner.get("pid", -1))):
                    warn(f"{path}: taking over a stale lock of dead pid {owner.get('pid')}")
                    path.unlink(missing_ok=True)
                    continue
                if owner.get("pid") == me["pid"] and owner.get("host") == me["host"]:
                    return None
                return f"pid {owner.get('pid')} on {owner.get('host')}"
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            return None
        return "another process (lock could not be taken)"

    def release(self) -> None:
        path = self.dir / "lock"
        try:
            owner = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if owner.get("pid") == os.getpid():
            path.unlink(missing_ok=True)

    def append_record(self, record: dict[str, Any]) -> None:
        lines = [json.dumps(r, sort_keys=True) for r in self.records() if r["step"] != record["step"]]
        lines.append(json.dumps(record, sort_keys=True))
        atomic_write(self.records_path, ("\n".join(lines) + "\n").encode())

    def last_step(self) -> int:
        """Last step whose record was written; -1 when none."""
        return max((r["step"] for r in self.records()), default=-1)

    # status ----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        if not self.status_path.exists():
            return {}
        return json.loads(self.status_path.read_text())

    def set_status(self, status: str, **extra: Any) -> None:
        atomic_write(self.status_path, json.dumps({"status": status, **extra}, sort_keys=True).encode())

    def is_finished(self) -> bool:
        return self.status().get("status") in ("finished", "diverged")

    # config ----------------------------------------------------------------
    def write_config(self, cfg: DictConfig) -> None:
        atomic_write(self.dir / "config.yaml", OmegaConf.to_yaml(resolved(cfg)).encode())

    # tensors ---------------------------------------------------------------
    def checkpoint_path(self, step: int, kind: str = "last") -> Path:
        return self.dir / "checkpoints" / f"step_{step}_{kind}.pt"

    def mask_path(self, step: int) -> Path:
        return self.dir / "masks" / f"step_{step}.pt"

    def save_tensors(self, path: Path, state: dict[str, torch.Tensor]) -> str:
        return atomic_torch_save(state, path)

    def write_json(self, relative: str, data: Any) -> None:
        atomic_write(self.dir / relative, json.dumps(data, indent=1, sort_keys=True).encode())
