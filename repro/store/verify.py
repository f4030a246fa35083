"""Check every checksum a run or a dense cache vouches for: one line per damaged file.

Used by ``python -m repro.verify``, by a re-run of a finished run (which then redoes the damaged steps)
and by the aggregator (which leaves damaged runs out of its tables).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repro.store.files import read_json, sha256_file
from repro.store.paths import DensePaths, RunPaths
from repro.store.reader import RunReader, parse_records


def record_files(paths: RunPaths, record: dict[str, Any]) -> list[tuple[Path, str | None]]:
    """(path, recorded sha256) of every file a step's record vouches for."""
    step = record["step"]
    files: list[tuple[Path, str | None]] = [
        (paths.checkpoint(step), record.get("checkpoint_sha256")),
        (paths.mask(step), record.get("mask_sha256")),
    ]
    if "best_sha256" in record:
        files.append((paths.checkpoint(step, "best"), record["best_sha256"]))
    return files + artifact_files(paths, record)


def artifact_files(paths: RunPaths, record: dict[str, Any]) -> list[tuple[Path, str | None]]:
    """(path, recorded sha256) of a step's artifacts: what the tables and figures read besides records."""
    items = (record.get("artifact_sha256") or {}).items()
    return [(paths.artifact(kind, record["step"]), sha) for kind, sha in items]


def _carried(paths: RunPaths) -> dict[str, Any]:
    """A carried copy's manifest (``carried.json``); empty for an original run."""
    manifest = read_json(paths.carried)
    return manifest if isinstance(manifest, dict) else {}


def left_out(paths: RunPaths) -> set[int]:
    """Steps whose records a carried copy keeps without their files: not damage, only not carried."""
    return set(_carried(paths).get("left_out", []))


def artifacts_kept(paths: RunPaths) -> bool:
    """Whether a carried copy holds the artifacts of the steps it left out (copies made before it did not)."""
    return _carried(paths).get("artifacts") == "all"


def step_problems(
    paths: RunPaths, record: dict[str, Any], absent: set[int], artifacts: bool = False
) -> list[str]:
    """Damaged or missing files of one step; of a step in ``absent`` (:func:`left_out`) only its artifacts,
    and only when the copy kept them (``artifacts``)."""
    if record.get("step") in absent:
        files = artifact_files(paths, record) if artifacts else []
    else:
        files = record_files(paths, record)
    return [p for path, sha in files if (p := file_problem(path, sha))]


def file_problem(path: Path, sha: str | None) -> str | None:
    if not path.exists():
        return f"{path}: missing"
    if sha and sha256_file(path) != sha:
        return f"{path}: checksum mismatch (truncated or modified)"
    return None


def verify_run(run: RunReader) -> list[str]:
    """Problems of one run directory (empty when every file is as recorded)."""
    paths = run.paths
    problems = []
    if paths.status.exists() and not run.status():
        problems.append(f"{paths.status}: unreadable")
    if not paths.records.exists():
        return problems
    records, bad_line = parse_records(paths.records.read_text(errors="replace"), paths.records)
    if bad_line is not None:
        problems.append(f"{paths.records}: line {bad_line} is corrupt")
    absent, artifacts = left_out(paths), artifacts_kept(paths)
    for record in records:
        if record.get("status") != "diverged":
            problems += step_problems(paths, record, absent, artifacts)
    return problems


def verify_dense(cache: DensePaths) -> list[str]:
    meta = read_json(cache.meta)
    if not isinstance(meta, dict) or "sha256" not in meta:
        return [f"{cache.meta}: missing or unreadable (the cache is incomplete)"]
    problem = file_problem(cache.weights, meta["sha256"])
    return [problem] if problem else []
