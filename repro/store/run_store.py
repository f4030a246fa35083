"""The writer of one run directory: records (the commit point of each step), status, lock, tensors.

A step counts as finished only once its record is in ``records.jsonl``; its files are written first. A
re-run therefore resumes after the last recorded step and never reads a half-written file.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from repro.store.files import atomic_json, atomic_torch_save, atomic_write, warn
from repro.store.identity import resolved
from repro.store.reader import RunReader


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


class RunStore(RunReader):
    """Read and write the files of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.records_path = self.paths.records

    # records ---------------------------------------------------------------
    def _write_records(self, records: list[dict[str, Any]]) -> None:
        lines = [json.dumps(r, sort_keys=True) for r in records]
        atomic_write(self.paths.records, ("\n".join(lines) + "\n").encode() if lines else b"")

    def append_record(self, record: dict[str, Any]) -> None:
        self._write_records([r for r in self.records() if r["step"] != record["step"]] + [record])

    def truncate_after(self, step: int) -> None:
        """Forget the records of every step after ``step`` (their files failed a check)."""
        self._write_records([r for r in self.records() if r["step"] <= step])

    def last_step(self) -> int:
        """Last step whose record was written; -1 when none."""
        return max((r["step"] for r in self.records()), default=-1)

    # status ----------------------------------------------------------------
    def set_status(self, status: str, **extra: Any) -> None:
        atomic_write(self.paths.status, json.dumps({"status": status, **extra}, sort_keys=True).encode())

    def is_finished(self) -> bool:
        return self.status().get("status") in ("finished", "diverged")

    # lock ------------------------------------------------------------------
    def acquire(self) -> str | None:
        """Take the run's lock; return None on success, or a description of the live owner."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.paths.lock
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
        path = self.paths.lock
        try:
            owner = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if owner.get("pid") == os.getpid():
            path.unlink(missing_ok=True)

    # files -----------------------------------------------------------------
    def write_config(self, cfg: DictConfig) -> None:
        atomic_write(self.paths.config, OmegaConf.to_yaml(resolved(cfg)).encode())

    def save_checkpoint(self, step: int, state: dict[str, torch.Tensor], kind: str = "last") -> str:
        return atomic_torch_save(state, self.paths.checkpoint(step, kind))

    def save_mask(self, step: int, state: dict[str, torch.Tensor]) -> str:
        return atomic_torch_save(state, self.paths.mask(step))

    def save_init(self, state: dict[str, torch.Tensor]) -> str:
        return atomic_torch_save(state, self.paths.init)

    def write_artifact(self, kind: str, step: int, data: Any) -> str:
        """Write the JSON artifact of ``kind`` for ``step``; return its sha256."""
        return atomic_json(self.paths.artifact(kind, step), data)

    def write_depth(self, data: Any) -> str:
        return atomic_json(self.paths.depth, data)
