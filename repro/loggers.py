"""Experiment loggers: W&B (offline unless a key is configured) or nothing.

Results never depend on the logger: records are always written locally first, the logger mirrors them:
per-step numbers on a ``step`` axis, per-epoch rows on an ``epoch`` axis, the last record as the summary,
the config flattened to dotted keys (W&B groups and filters by any of them), and tables, images and
artifacts for what a dashboard shows. Every W&B run is finished in a ``finally`` so that the jobs of a
multirun never merge into one run.
"""

from __future__ import annotations

import netrc
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repro.store import flatten

if TYPE_CHECKING:
    import pandas as pd


class NullLogger:
    """Logs nothing (``logger=none``); the W&B logger below has the same methods."""

    run_path: str | None = None

    def log(self, data: dict[str, Any], step: int | None = None) -> None:
        pass

    def log_record(self, record: dict[str, Any]) -> None:
        """A step's record: its numbers on the ``step`` axis, the whole record as the run's summary."""

    def log_epoch(self, step: int, row: dict[str, Any]) -> None:
        """One training epoch's row (``train/*``) on the ``epoch`` axis (epochs counted over the run)."""

    def log_tables(self, tables: dict[str, pd.DataFrame], step: int | None = None) -> None:
        """Frames as W&B Tables, one key each."""

    def log_images(self, images: dict[str, Path]) -> None:
        """Image files (figures), one key each."""

    def log_artifact(self, name: str, kind: str, paths: list[Path], metadata: dict | None = None) -> None:
        """Files as one versioned W&B artifact of type ``kind`` (``model``, ``dataset``)."""

    def summary(self, data: dict[str, Any]) -> None:
        pass

    def finish(self, exit_code: int = 0) -> None:
        pass


def wandb_key_configured() -> bool:
    """True when a W&B API key is available (environment or ~/.netrc); it is never read into any config."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        rc = netrc.netrc()
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False
    return rc.authenticators("api.wandb.ai") is not None


def wandb_mode(mode: str) -> str:
    if mode != "auto":
        return mode
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if wandb_key_configured() else "offline"


class WandbLogger(NullLogger):
    def __init__(
        self,
        *,
        project: str,
        entity: str | None,
        group: str | None,
        job_type: str,
        tags: list[str],
        name: str,
        config: dict[str, Any],
        mode: str,
        run_dir: Path,
    ) -> None:
        from repro.security import refuse_secrets_in

        # The last guard before W&B saves these (its files, then the shared dashboard).
        sent = {"project": project, "entity": entity, "group": group, "tags": tags, "name": name}
        refuse_secrets_in({**sent, "job_type": job_type, "config": config}, "W&B run")
        import wandb

        os.environ.setdefault("WANDB_SILENT", "true")
        self._wandb = wandb
        self.run = wandb.init(
            project=project,
            entity=entity,
            group=group,
            job_type=job_type,
            tags=tags,
            name=name,
            config=flatten(config),  # dotted keys: W&B groups and filters by any of them
            mode=wandb_mode(mode),
            # WANDB_DIR wins when set; otherwise the files sit in the run directory. Passed explicitly: W&B
            # reads the variable once per process, and a later run of the process may have another.
            dir=os.environ.get("WANDB_DIR") or str(run_dir),
            reinit="finish_previous",
        )
        self.run_path = getattr(self.run, "dir", None)
        # Two x axes: per-step numbers against ``step``, per-epoch rows against ``epoch``.
        self.run.define_metric("step")
        self.run.define_metric("epoch")
        self.run.define_metric("train/*", step_metric="epoch")
        self._epochs = 0
        self._on_step: set[str] = set()
        self._method: str | None = None

    def log(self, data: dict[str, Any], step: int | None = None) -> None:
        self.run.log(data)

    def log_record(self, record: dict[str, Any]) -> None:
        numbers = {k: v for k, v in record.items() if isinstance(v, int | float) and k != "step"}
        for key in sorted(numbers.keys() - self._on_step):
            self.run.define_metric(key, step_metric="step")
        self._on_step |= numbers.keys()
        self.run.log(numbers | {"step": record["step"]})
        self.summary(record)
        method = record.get("method")
        if isinstance(method, str) and method != self._method:  # a dashboard groups runs by it
            self.run.config.update({"method": method}, allow_val_change=True)
            self._method = method

    def log_epoch(self, step: int, row: dict[str, Any]) -> None:
        self._epochs += 1
        self.run.log({f"train/{k}": v for k, v in row.items()} | {"epoch": self._epochs, "step": step})

    def log_tables(self, tables: dict[str, pd.DataFrame], step: int | None = None) -> None:
        table = self._wandb.Table
        data: dict[str, Any] = {k: table(dataframe=f, allow_mixed_types=True) for k, f in tables.items()}
        self.run.log(data | ({"step": step} if step is not None else {}))

    def log_images(self, images: dict[str, Path]) -> None:
        self.run.log({key: self._wandb.Image(str(path)) for key, path in images.items()})

    def log_artifact(self, name: str, kind: str, paths: list[Path], metadata: dict | None = None) -> None:
        artifact = self._wandb.Artifact(re.sub(r"[^\w.-]", "-", name), type=kind, metadata=metadata or {})
        for path in paths:
            artifact.add_file(str(path))
        self.run.log_artifact(artifact)

    def summary(self, data: dict[str, Any]) -> None:
        for k, v in data.items():
            self.run.summary[k] = v

    def finish(self, exit_code: int = 0) -> None:
        self.run.finish(exit_code=exit_code)


def make_logger(
    cfg: Any, *, name: str, job_type: str, group: str, tags: list[str], config: dict[str, Any], run_dir: Path
) -> NullLogger:
    if cfg.name == "none" or cfg.mode == "disabled":
        return NullLogger()
    return WandbLogger(
        project=cfg.project,
        entity=cfg.entity,
        group=cfg.group or group,
        job_type=job_type,
        tags=[*tags, *cfg.tags],
        name=name,
        config=config,
        mode=cfg.mode,
        run_dir=run_dir,
    )
