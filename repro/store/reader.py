"""Read finished and running runs: the one reader used by the aggregator, every report and ``verify``.

It never raises on a damaged run: a corrupt records line ends the records there (with a warning), a
malformed status reads as ``unknown``, a missing artifact reads as None.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from repro.store.files import read_json, warn
from repro.store.paths import RunPaths


def parse_records(text: str, source: Path | str) -> tuple[list[dict[str, Any]], int | None]:
    """Records of a ``records.jsonl`` text, and the number of the first corrupt line (None if none)."""
    out: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "step" not in record:
                raise ValueError("no step")
        except ValueError:
            warn(f"{source}: line {number} is corrupt; using the {len(out)} records before it")
            return out, number
        out.append(record)
    return out, None


class RunReader:
    """Read-only view of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.paths = RunPaths(Path(run_dir))

    @property
    def dir(self) -> Path:
        return self.paths.dir

    @property
    def name(self) -> str:
        return self.paths.name

    def records(self) -> list[dict[str, Any]]:
        """Records of the finished steps, in file order; a corrupt line and all after it are left out."""
        path = self.paths.records
        if not path.exists():
            return []
        return parse_records(path.read_text(errors="replace"), path)[0]

    def last_step(self) -> int:
        """Last step whose record was written; -1 when none."""
        return max((r["step"] for r in self.records()), default=-1)

    def status(self) -> dict[str, Any]:
        data = read_json(self.paths.status)
        return data if isinstance(data, dict) and isinstance(data.get("status"), str) else {}

    def status_name(self) -> str:
        return self.status().get("status", "unknown")

    @cached_property
    def _config(self) -> dict[str, Any]:
        if not self.paths.config.exists():
            return {}
        from omegaconf import OmegaConf

        try:
            data = OmegaConf.to_container(OmegaConf.load(self.paths.config))
        except Exception:  # a damaged config reads as empty; verify reports it
            return {}
        return data if isinstance(data, dict) else {}

    def config(self) -> dict[str, Any]:
        """The resolved config the run was made with (empty when missing or unreadable)."""
        return self._config

    def artifact(self, kind: str, step: int) -> Any:
        """The JSON artifact of ``kind`` written at ``step`` (see ``STEP_ARTIFACTS``), or None."""
        return read_json(self.paths.artifact(kind, step))

    def depth(self) -> Any:
        """The depth check of the run (written at its last pruning step), or None."""
        steps = self.paths.artifact_steps("depth")
        return self.artifact("depth", steps[-1]) if steps else None


def find_runs(root: Path) -> list[RunReader]:
    """Every run below ``root`` (run directories, or a sweep folder whose job folders link to them), once."""
    seen: dict[str, Path] = {}
    for dirpath, _dirs, files in os.walk(root, followlinks=True):
        if "records.jsonl" in files or "status.json" in files:
            seen.setdefault(os.path.realpath(dirpath), Path(dirpath))
    return [RunReader(p) for p in sorted(seen.values(), key=lambda p: p.name)]
