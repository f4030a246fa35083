"""The writer of one run directory: records (the commit point of each step), status, lock, tensors.

A step counts as finished only once its record is in ``records.jsonl``; its files are written first. A
re-run therefore resumes after the last recorded step and never reads a half-written file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout
from omegaconf import DictConfig, OmegaConf

from repro.store.files import atomic_json, atomic_torch_save, atomic_write
from repro.store.identity import resolved
from repro.store.reader import RunReader


class RunStore(RunReader):
    """Read and write the files of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.records_path = self.paths.records
        self._written: dict[int, dict[str, str]] = {}
        self._lock: FileLock | None = None

    # records ---------------------------------------------------------------
    def _write_records(self, records: list[dict[str, Any]]) -> None:
        lines = [json.dumps(r, sort_keys=True) for r in records]
        atomic_write(self.paths.records, ("\n".join(lines) + "\n").encode() if lines else b"")

    def append_record(self, record: dict[str, Any]) -> None:
        self._write_records([r for r in self.records() if r["step"] != record["step"]] + [record])

    def truncate_after(self, step: int) -> None:
        """Forget the records of every step after ``step`` (their files failed a check)."""
        self._write_records([r for r in self.records() if r["step"] <= step])

    # status ----------------------------------------------------------------
    def set_status(self, status: str, **extra: Any) -> None:
        atomic_write(self.paths.status, json.dumps({"status": status, **extra}, sort_keys=True).encode())

    def is_finished(self) -> bool:
        return self.status().get("status") in ("finished", "diverged")

    # lock ------------------------------------------------------------------
    def acquire(self) -> str | None:
        """Take the run's lock; return None on success, or why another process holds it.

        The lock is an ``fcntl`` lock the kernel releases when its holder dies (however it dies): no pid
        file can go stale, and an empty or leftover ``lock`` file means nothing.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(self.paths.lock, timeout=0)
        try:
            self._lock.acquire()
        except Timeout:
            self._lock = None
            return "another process (it holds the run's lock)"
        return None

    def release(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.release()
            self._lock = None

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
        """Write the JSON artifact of ``kind`` for ``step``; its sha256 goes into the step's record."""
        sha = atomic_json(self.paths.artifact(kind, step), data)
        self._written.setdefault(step, {})[kind] = sha
        return sha

    def artifact_checksums(self, step: int) -> dict[str, str]:
        """The artifacts written for ``step`` by this process, and their sha256 (for the step's record)."""
        return dict(sorted(self._written.pop(step, {}).items()))
