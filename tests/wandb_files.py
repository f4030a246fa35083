"""Read offline W&B runs without a server: what a test asserts about what the suite logged.

Each record of a ``run-<id>.wandb`` file is decoded by wandb's own protobuf class
(``wandb.proto.wandb_internal_pb2.Record``). wandb 0.31 no longer ships the Python reader of the file's
framing (``wandb.sdk.internal.datastore``; the Go core reads it now), so the framing is read here: a 7-byte
header (``:W&B``, magic, version), then LevelDB-log chunks in 32 KiB blocks, each with a CRC-32 of its
type byte and data, a 2-byte length and a type (full, first, middle, last).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[pb.Record]:
    """Every record of one ``.wandb`` file, in order; a chunk whose checksum fails is an error."""
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # the rest of a block too short for a chunk header is padding
            pos += left
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0 and length == 0:  # zero padding at the end of a block
            pos += left
            continue
        chunk = data[pos + HEADER : pos + HEADER + length]
        assert zlib.crc32(chunk, zlib.crc32(bytes([kind]))) == crc, f"{path}: bad checksum at {pos}"
        pos += HEADER + length
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


def _items(items: Any) -> dict[str, Any]:
    return {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in items}


@dataclass
class OfflineRun:
    """What one offline run logged."""

    dir: Path
    group: str = ""
    job_type: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, str] = field(default_factory=dict)  # metric (or glob) -> its step metric
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # name -> (type, files)

    def table(self, row: dict[str, Any], key: str) -> dict[str, Any]:
        """The W&B Table a history row logged under ``key``: its JSON file (columns, data)."""
        assert row[f"{key}/_type"] == "table-file", row
        return json.loads((self.dir / "files" / row[f"{key}/path"]).read_text())

    def media(self, kind: str) -> dict[str, Path]:
        """Every key of the history logged as ``kind`` (``table-file``, ``image-file``) -> its file."""
        out = {}
        for row in self.history:
            for key, value in row.items():
                if key.endswith("/_type") and value == kind:
                    name = key.removesuffix("/_type")
                    out[name] = self.dir / "files" / row[f"{name}/path"]
        return out


def read_run(run_file: Path) -> OfflineRun:
    run = OfflineRun(Path(run_file).parent)
    for record in records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.group, run.job_type = record.run.run_group, record.run.job_type
            run.config |= _items(record.run.config.update)
        elif kind == "config":
            run.config |= _items(record.config.update)
        elif kind == "metric":
            run.metrics[record.metric.name or record.metric.glob_name] = record.metric.step_metric
        elif kind == "history":
            run.history.append(_items(record.history.item))
        elif kind == "summary":
            run.summary |= _items(record.summary.update)
        elif kind == "artifact":
            files = [entry.path for entry in record.artifact.manifest.contents]
            run.artifacts[record.artifact.name] = (record.artifact.type, files)
    run.config.pop("_wandb", None)
    return run


def offline_runs(wandb_dir: Path) -> list[OfflineRun]:
    """Every offline run below ``wandb_dir`` (``$WANDB_DIR``), oldest first."""
    return [read_run(p) for p in sorted(Path(wandb_dir).glob("**/offline-run-*/run-*.wandb"))]
