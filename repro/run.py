"""Entry point: ``python -m repro.run [-m] key=value ...``.

Thin on purpose: check the command line, compose, build the job, run it into its run directory, record.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from repro.config import register_schemas, validate
from repro.errors import ConfigError, DataMissingError
from repro.precheck import CONF_DIR
from repro.tracking import RunStore, resolved, run_name

register_schemas()

USER_ERRORS = (ConfigError, DataMissingError)


def run_dir_of(cfg: DictConfig) -> Path:
    from repro.security import inside

    return inside(cfg.out_dir, Path(cfg.out_dir) / "runs" / run_name(cfg), "run_dir")


def link_hydra_dir(run_dir: Path) -> None:
    """Point the Hydra job directory at the run directory, so a sweep's folder lists its runs."""
    if not HydraConfig.initialized():
        return
    link = Path(HydraConfig.get().runtime.output_dir) / "run"
    if not link.exists():
        link.symlink_to(os.path.relpath(run_dir.resolve(), link.parent.resolve()))


def run_job(cfg: DictConfig) -> list[dict[str, Any]]:
    """Run (or resume, or skip) the job described by ``cfg``; return its records."""
    from repro.experiment import build_job

    validate(cfg)
    run_dir = run_dir_of(cfg)
    store = RunStore(run_dir)
    if store.is_finished():
        print(f"[repro] skip {run_dir.name}: already {store.status()['status']} ({run_dir})", flush=True)
        link_hydra_dir(run_dir)
        return store.records()
    job = build_job(cfg)  # fails on bad input before the run directory exists
    owner = store.acquire()
    if owner is not None:
        print(f"[repro] skip {run_dir.name}: it is being trained by {owner} ({run_dir / 'lock'})", flush=True)
        return store.records()
    try:
        return _run_locked(cfg, job, store)
    finally:
        store.release()


def _run_locked(cfg: DictConfig, job: Any, store: RunStore) -> list[dict[str, Any]]:
    from repro.experiment import Experiment
    from repro.loggers import make_logger

    run_dir = store.dir
    if store.is_finished():  # finished by another process while this one was building
        return store.records()
    store.write_config(cfg)
    link_hydra_dir(run_dir)
    logger = make_logger(
        cfg.logger,
        name=run_dir.name,
        job_type=cfg.pruner.name,
        group=cfg.sweep_name,
        tags=[cfg.model.name, cfg.dataset.name],
        config=resolved(cfg),
        run_dir=run_dir,
    )
    exit_code = 1
    try:
        records = Experiment(job, store, logger, dense_cache=Path(cfg.out_dir) / "dense").run()
        exit_code = 0
    finally:
        logger.finish(exit_code)
    last = records[-1]
    print(
        f"[repro] {run_dir.name}: step {last['step']} sparsity={last.get('sparsity', float('nan')):.4f} "
        f"test_acc={last.get('test_acc', float('nan')):.4f} status={store.status()['status']} -> {run_dir}",
        flush=True,
    )
    return records


# An absolute path: Hydra resolves relative ones against the caller, which differs under `-m` and in tests.
@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> None:
    try:
        run_job(cfg)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)


def expand_metric_lists(argv: list[str]) -> list[str]:
    """``entropy=[egp,psp]`` selects both options, but Hydra's merge keeps only the last option's ``names``
    list; name every metric explicitly so the union is measured (in one pass)."""
    out = []
    for arg in argv:
        out.append(arg)
        key, _, value = arg.partition("=")
        if key == "entropy" and value.startswith("[") and value.endswith("]"):
            out.append(f"entropy.names={value}")
    return out


def main(argv: list[str] | None = None) -> None:
    from repro.precheck import precheck

    argv = expand_metric_lists(sys.argv[1:] if argv is None else argv)
    if not any(a in ("--help", "-h", "--hydra-help", "--info", "-i", "--cfg", "-c") for a in argv):
        try:
            precheck(argv)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)
    sys.argv = [sys.argv[0], *argv]
    _hydra_main()


if __name__ == "__main__":
    main()
