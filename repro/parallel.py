"""Share one machine between the jobs of a parallel sweep: CPU threads per job, and one GPU per job.

Why: with ``hydra/launcher=joblib`` several jobs run at once, and each one's torch would otherwise start as
many threads as the machine has cores. Oversubscribed threads wait on each other at every op's barrier, which
on small models costs more than the parallelism gains. :func:`configure_job`, called at the start of every
job, gives each job ``cores // parallel jobs`` threads (``trainer.num_threads`` wins when set) and, on a
machine with several GPUs, its own GPU.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

_held_gpu_lock: Any = None  # the open lock file of the GPU this process claimed, kept until the next job


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask: a container or SLURM allocation may limit it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def parallel_jobs(launcher: Mapping[str, Any] | None, cores: int) -> int:
    """How many jobs of this sweep share the machine at once, read from the Hydra launcher config.

    joblib's ``n_jobs`` follows joblib's rule (-1: all cores, -2: all but one, ...); the basic launcher and
    SLURM (one allocation per job) run one job per machine.
    """
    if not launcher or "joblib" not in str(launcher.get("_target_", "")).lower():
        return 1
    n = int(launcher.get("n_jobs") or 1)
    if n < 0:
        n = cores + 1 + n
    return max(1, min(n, cores))


def threads_per_job(
    cores: int,
    jobs: int,
    requested: int | None = None,
    cpus_per_task: int | None = None,
) -> int | None:
    """torch threads for one job: ``requested`` (``trainer.num_threads``) if set, else the launcher's
    ``cpus_per_task`` (submitit), else an even share of ``cores`` among ``jobs``; None leaves torch's
    default (one job on the machine)."""
    if requested:
        return int(requested)
    if cpus_per_task:
        return int(cpus_per_task)
    if jobs <= 1:
        return None
    return max(1, cores // jobs)


def claim_gpu(count: int, job_num: int, lock_dir: Path | None = None) -> int:
    """Index of a GPU no other job on this machine holds, locked until this process claims another.

    Each GPU has a lock file; the first one free is taken (``flock``, released by the kernel if the process
    dies). When every GPU is held (more parallel jobs than GPUs), jobs share them round-robin by number.
    """
    global _held_gpu_lock
    if _held_gpu_lock is not None:  # this worker's previous job is over
        _held_gpu_lock.close()
        _held_gpu_lock = None
    folder = lock_dir or Path(tempfile.gettempdir()) / f"repro-gpu-locks-{os.getuid()}"
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        handle = open(folder / f"gpu{index}.lock", "w")  # noqa: SIM115 - held open while the job runs
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _held_gpu_lock = handle
        return index
    return job_num % count


def _hydra_launch() -> tuple[dict[str, Any] | None, int]:
    """The launcher config and this job's number, when running under Hydra."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    if not HydraConfig.initialized():
        return None, 0
    hc = HydraConfig.get()
    launcher = OmegaConf.to_container(hc.launcher, resolve=False) if "launcher" in hc else None
    num = OmegaConf.select(hc, "job.num", default=0, throw_on_missing=False)
    return launcher, int(num) if isinstance(num, int) else 0  # type: ignore[return-value]


def configure_job(trainer: Any, device: torch.device) -> torch.device:
    """Set this job's torch threads and pick its GPU; return the device it should use."""
    launcher, job_num = _hydra_launch()
    cores = usable_cores()
    jobs = parallel_jobs(launcher, cores)
    cpus = (launcher or {}).get("cpus_per_task") or int(os.environ.get("SLURM_CPUS_PER_TASK", 0))
    threads = threads_per_job(cores, jobs, trainer.num_threads, cpus or None)
    if threads is not None:
        torch.set_num_threads(threads)
    if device.type == "cuda" and device.index is None and jobs > 1 and torch.cuda.device_count() > 1:
        device = torch.device("cuda", claim_gpu(torch.cuda.device_count(), job_num))
        torch.cuda.set_device(device)
    if jobs > 1 or (threads is not None and not trainer.num_threads):
        where = f" on {device}" if device.type == "cuda" else ""
        print(
            f"[repro] job {job_num}: threads={torch.get_num_threads()} of {cores} cores{where}, "
            f"{jobs} parallel job(s) here",
            flush=True,
        )
    return device
