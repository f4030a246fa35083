"""Experiment loggers: W&B (offline unless a key is configured) or nothing.

Results never depend on the logger: records are always written locally first, the logger mirrors them.
Every W&B run is finished in a ``finally`` so that the jobs of a multirun never merge into one run.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any


class NullLogger:
    run_path: str | None = None

    def log(self, data: dict[str, Any], step: int | None = None) -> None:
        pass

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
            config=config,
            mode=wandb_mode(mode),
            # WANDB_DIR wins when set; otherwise the files sit in the run directory.
            dir=None if os.environ.get("WANDB_DIR") else str(run_dir),
            reinit="finish_previous",
        )
        self.run_path = getattr(self.run, "dir", None)

    def log(self, data: dict[str, Any], step: int | None = None) -> None:
        self.run.log(data)

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
