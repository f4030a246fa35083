"""Every path of the suite's output, named once: one attribute or method per artifact.

Nothing else in the suite joins path strings inside ``out_dir``: runs, the shared dense trainings and the
interpolation solutions are reached through :class:`OutPaths`, the files of one run through
:class:`RunPaths`. Per-step JSON artifacts are addressed by kind (:data:`STEP_ARTIFACTS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# kind -> folder of a run holding ``step_<k>.json`` files of that kind
STEP_ARTIFACTS = {
    "metrics": "metrics",  # per-layer arrays of the activation probes (entropy, PSP)
    "pqi": "pqi",  # the PQ Index over the (p, q) grid
    "sharpness": "sharpness",  # loss curves, surfaces, interpolation curves
    "masks": "masks",  # sparsity report of the step's masks
    "depth": "depth",  # the shallower network built from the zero-entropy layers vs the pruned one
}


@dataclass(frozen=True)
class RunPaths:
    """The files of one run directory."""

    dir: Path

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def records(self) -> Path:
        return self.dir / "records.jsonl"

    @property
    def status(self) -> Path:
        return self.dir / "status.json"

    @property
    def config(self) -> Path:
        return self.dir / "config.yaml"

    @property
    def lock(self) -> Path:
        return self.dir / "lock"

    @property
    def init(self) -> Path:
        return self.dir / "init.pt"

    @property
    def carried(self) -> Path:
        """Which recorded steps a carried copy holds without their files (see ``repro.carry``)."""
        return self.dir / "carried.json"

    def checkpoint(self, step: int, kind: str = "last") -> Path:
        return self.dir / "checkpoints" / f"step_{step}_{kind}.pt"

    def mask(self, step: int) -> Path:
        return self.dir / "masks" / f"step_{step}.pt"

    def artifact(self, kind: str, step: int) -> Path:
        return self.dir / STEP_ARTIFACTS[kind] / f"step_{step}.json"

    def export(self, step: int, form: str) -> Path:
        """A step's model written for sharing: ``sparse`` (plain ``torch.load``) or ``shallow`` (a
        ``torch.export`` program)."""
        return self.dir / "export" / f"step_{step}_{form}{'.pt2' if form == 'shallow' else '.pt'}"

    def artifact_steps(self, kind: str) -> list[int]:
        folder = self.dir / STEP_ARTIFACTS[kind]
        if not folder.is_dir():
            return []
        steps = []
        for p in folder.glob("step_*.json"):
            tail = p.stem.removeprefix("step_")
            if tail.isdigit():
                steps.append(int(tail))
        return sorted(steps)


@dataclass(frozen=True)
class DensePaths:
    """The shared dense training of every run that differs from another only in its pruner."""

    dir: Path
    key: str

    @property
    def weights(self) -> Path:
        """Weights (last and best) and the training summary, one file."""
        return self.dir / f"{self.key}.pt"

    @property
    def meta(self) -> Path:
        """The checksum of ``weights``; written after it, so its presence marks the cache complete."""
        return self.dir / f"{self.key}.json"


@dataclass(frozen=True)
class OutPaths:
    """The layout of ``out_dir``."""

    root: Path

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def run(self, name: str) -> RunPaths:
        return RunPaths(self.runs / name)

    def dense(self, key: str) -> DensePaths:
        return DensePaths(self.root / "dense", key)

    def dense_caches(self) -> list[DensePaths]:
        folder = self.root / "dense"
        return [DensePaths(folder, p.stem) for p in sorted(folder.glob("*.pt"))] if folder.is_dir() else []

    def solutions(self, dense_key: str) -> Path:
        """Final weights of the runs that share one dense start (partners of the interpolation)."""
        return self.root / "solutions" / dense_key

    def solution(self, dense_key: str, run: str) -> tuple[Path, Path]:
        """(weights, description) of one run's solution."""
        folder = self.solutions(dense_key)
        return folder / f"{run}.pt", folder / f"{run}.json"

    @staticmethod
    def of_run(run_dir: Path) -> OutPaths:
        """The ``out_dir`` a run directory belongs to."""
        return OutPaths(Path(run_dir).parent.parent)
