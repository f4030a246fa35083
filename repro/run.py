"""Entry point: ``python -m repro.run [-m] key=value ...``.

Thin on purpose: check the command line, compose, build the job, run it into its run directory, record.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from repro.config import register_schemas, validate
from repro.errors import ConfigError, DataMissingError
from repro.precheck import CONF_DIR
from repro.store import OutPaths, RunStore, resolved, run_name, warn
from repro.store.verify import verify_run

register_schemas()

USER_ERRORS = (ConfigError, DataMissingError)
# A full disk, a read-only file system, no permission: the user's to fix, reported in one line.
DISK_ERRORS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT)


def run_dir_of(cfg: DictConfig) -> Path:
    from repro.security import inside

    return inside(cfg.out_dir, OutPaths(Path(cfg.out_dir)).run(run_name(cfg)).dir, "run_dir")


def link_hydra_dir(run_dir: Path) -> None:
    """Point the Hydra job directory at the run directory, so a sweep's folder lists its runs."""
    if not HydraConfig.initialized():
        return
    link = Path(HydraConfig.get().runtime.output_dir) / "run"
    if not link.exists():
        link.symlink_to(os.path.relpath(run_dir.resolve(), link.parent.resolve()))


class Interrupted(BaseException):
    """SIGTERM (a cluster's time limit, ``kill``), raised where the job is so the run can be marked.

    A BaseException, like KeyboardInterrupt: no ``except Exception`` on the way (Hydra's among them) may
    swallow it and turn the signal into a traceback and exit status 1.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


def interrupt_code(exc: BaseException) -> int:
    """The shell's exit status for death by a signal: 128 + its number (130 Ctrl-C, 143 SIGTERM)."""
    return 128 + (exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)


def finished_and_intact(store: RunStore, quiet: bool = False) -> bool:
    """True when the run is finished and every file its records vouch for passes its checksum."""
    if not store.is_finished():
        return False
    problems = verify_run(store)
    if problems and not quiet:
        for problem in problems:
            warn(problem)
        warn(f"{store.name} is finished but damaged: redoing its steps from the last good one")
    return not problems


def run_job(cfg: DictConfig) -> list[dict[str, Any]]:
    """Run (or resume, or skip) the job described by ``cfg``; return its records."""
    from repro.loop.job import build_job

    validate(cfg)
    run_dir = run_dir_of(cfg)
    store = RunStore(run_dir)
    if finished_and_intact(store):
        print(f"[repro] skip {run_dir.name}: already {store.status()['status']} ({run_dir})", flush=True)
        link_hydra_dir(run_dir)
        return store.records()
    job = build_job(cfg)  # fails on bad input before the run directory exists
    owner = store.acquire()
    if owner is not None:
        print(f"[repro] skip {run_dir.name}: {owner} ({run_dir})", flush=True)
        return store.records()
    try:
        return _run_locked(cfg, job, store)
    finally:
        store.release()


def _run_locked(cfg: DictConfig, job: Any, store: RunStore) -> list[dict[str, Any]]:
    from repro.loggers import make_logger
    from repro.loop.loop import PruneLoop

    run_dir = store.dir
    if finished_and_intact(store, quiet=True):  # finished by another process while this one was building
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
        records = PruneLoop(job, store, logger).run()
        exit_code = 0
    except (KeyboardInterrupt, Interrupted) as exc:
        exit_code = interrupt_code(exc)
        store.set_status("interrupted", step=store.last_step())
        done = store.last_step()
        message = f"[repro] {run_dir.name}: interrupted after step {done}; the same command resumes it"
        print(message, file=sys.stderr, flush=True)
        raise
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
    except (KeyboardInterrupt, Interrupted) as exc:
        sys.exit(interrupt_code(exc))
    except OSError as exc:
        if exc.errno not in DISK_ERRORS:
            raise
        where = exc.filename or cfg.out_dir
        message = f"error: out_dir={cfg.out_dir!r} is invalid: cannot write {where} ({exc.strerror})"
        print(message, file=sys.stderr, flush=True)
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
    if any(a in ("--help", "-h") for a in argv):
        from repro.cli_help import help_text

        print(help_text(CONF_DIR))
        sys.exit(0)
    if not any(a in ("--help", "-h", "--hydra-help", "--info", "-i", "--cfg", "-c") for a in argv):
        try:
            precheck(argv)
        except USER_ERRORS as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)
    sys.argv = [sys.argv[0], *argv]
    signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        _hydra_main()
    except (KeyboardInterrupt, Interrupted) as exc:  # between jobs, or while Hydra starts
        print("[repro] interrupted", file=sys.stderr, flush=True)
        sys.exit(interrupt_code(exc))


if __name__ == "__main__":
    main()
