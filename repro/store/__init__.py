"""The run store: the only module that knows where a file of a run lives and how it is written and read."""

from repro.store.files import (
    CorruptFileError,
    atomic_json,
    atomic_torch_save,
    atomic_write,
    read_json,
    safe_load,
    sha256_file,
    warn,
)
from repro.store.identity import flatten, identity, resolved, run_name
from repro.store.paths import DensePaths, OutPaths, RunPaths
from repro.store.reader import RunReader, find_runs
from repro.store.run_store import RunStore

__all__ = [
    "CorruptFileError",
    "DensePaths",
    "OutPaths",
    "RunPaths",
    "RunReader",
    "RunStore",
    "atomic_json",
    "atomic_torch_save",
    "atomic_write",
    "find_runs",
    "flatten",
    "identity",
    "read_json",
    "resolved",
    "run_name",
    "safe_load",
    "sha256_file",
    "warn",
]
