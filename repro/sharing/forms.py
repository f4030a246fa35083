"""A run's model at one step, rebuilt from its files, and the forms it is shared in.

The run's config rebuilds the job (model, data, masks) on the CPU and the step's checkpoint and masks are
loaded through the store (checksums verified). Every form is measured the same way, beside the dense one:
file size, numbers stored, median latency of one forward of a test batch on one CPU thread, and the
largest logit difference from the run's model over the whole test split (a round trip must be exact to
float precision).

- ``dense``: the step's checkpoint as the loop saved it;
- ``sparse``: :mod:`.sparse`'s file, loaded back with plain torch;
- ``sparse-csr``: the same weights with the masked linear layers computed by sparse matrix products;
- ``shallow``: the shallower network of the depth check (:mod:`repro.metrics.depth`) as a ``torch.export``
  program, loaded back with ``torch.export.load`` (no ``repro`` needed to run it).
"""

from __future__ import annotations

import copy
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import nn

from repro.errors import ConfigError
from repro.loop.batches import Batches
from repro.loop.job import Job, build_job
from repro.loop.state import restore
from repro.metrics.depth_check import compare, latency_ms, shallow_of
from repro.sharing.sparse import blob_bytes, csr_compute, load_sparse, sparse_blob, stored_values
from repro.store import RunStore, atomic_write


@dataclass
class Step:
    """A run's job with the model and masks of one step loaded, and its seeded batches."""

    store: RunStore
    job: Job
    batches: Batches
    step: int
    example: torch.Tensor  # the latency batch: the first test images

    @property
    def masked_weights(self) -> list[str]:
        return [f"{name}.weight" for name in self.job.masks]


def load_step(run_dir: Path, step: int | None = None, data_root: str | None = None) -> Step:
    """Rebuild the run in ``run_dir`` at ``step`` (default: its last recorded one) on the CPU."""
    store = RunStore(run_dir)
    steps = sorted(int(r["step"]) for r in store.records())
    if not steps or not store.config():
        raise ConfigError(f"RUN_DIR={str(run_dir)!r} is invalid: not a run folder with a config and records")
    step = steps[-1] if step is None else step
    if step not in steps:
        raise ConfigError(f"--step={step} is invalid: the run recorded steps {', '.join(map(str, steps))}")
    cfg = OmegaConf.create(store.config())
    cfg.trainer.device = "cpu"  # shared models load anywhere; latencies are CPU latencies
    if data_root is not None:
        cfg.dataset.root = data_root
    job = build_job(cfg)
    restore(store, step, job.model, job.masks)
    job.model.eval()
    t = cfg.trainer
    batches = Batches(job.data, int(cfg.seed), t.batch_size, t.eval_batch_size, t.max_batches)
    size = int(OmegaConf.select(cfg, "entropy.latency_batch", default=128))
    example = next(iter(batches.test()))[0][:size]
    return Step(store, job, batches, step, example)


@dataclass
class Form:
    """One form of the step's model and what it costs."""

    form: str
    file: str
    bytes: int
    params: int
    nonzero_params: int
    latency_ms: float
    test_acc: float
    max_logit_diff: float

    def row(self) -> dict[str, Any]:
        return asdict(self)


def measure(
    name: str, model: nn.Module, path: Path, at: Step, weights: nn.Module, stored: int | None = None
) -> Form:
    """``model``'s latency on the step's example and its agreement with the run's model on the test split;
    parameters counted on ``weights`` (``stored``: the numbers a file holds, when it holds fewer)."""
    check = compare(at.job.model, model, at.batches.test())
    params = [p.detach() for p in weights.parameters()]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core: forms compare alike on any machine, a busy shared one too
    try:
        latency = latency_ms(model, at.example, repeats=20, warmup=5)
    finally:
        torch.set_num_threads(threads)
    return Form(
        name, str(path), path.stat().st_size, sum(p.numel() for p in params) if stored is None else stored,
        sum(int((p != 0).sum()) for p in params), latency, check["shallow_acc"], check["max_diff"],
    )  # fmt: skip


class Program(nn.Module):
    """A loaded ``torch.export`` program used like a model: the program is fixed in eval mode and refuses
    ``eval()``, so it is held outside the module tree and ``eval``/``train`` do not reach it."""

    def __init__(self, program: nn.Module) -> None:
        super().__init__()
        self.program = [program]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.program[0](x)


def dense_form(at: Step) -> Form:
    return measure("dense", at.job.model, at.store.paths.checkpoint(at.step), at, at.job.model)


def sparse_forms(at: Step) -> list[Form]:
    """Write the sparse file; measure it loaded back (dense compute) and with CSR products."""
    blob = sparse_blob(at.job.model.state_dict(), at.masked_weights)
    path = at.store.paths.export(at.step, "sparse")
    atomic_write(path, blob_bytes(blob))
    loaded = copy.deepcopy(at.job.model)
    loaded.load_state_dict(load_sparse(path))
    csr = csr_compute(loaded, list(at.job.masks))
    return [
        measure("sparse", loaded, path, at, loaded, stored_values(blob)),
        measure("sparse-csr", csr, path, at, loaded, stored_values(blob)),
    ]


def program_bytes(model: nn.Module, example: torch.Tensor) -> bytes:
    """``model`` as a saved ``torch.export`` program whose batch size is free (traced on two images of
    ``example``: the program keeps its example inputs)."""
    batch = torch.export.Dim("batch", min=1)
    try:
        program = torch.export.export(model.eval(), (example[:2].clone(),), dynamic_shapes=({0: batch},))
    except Exception as exc:  # an operation torch.export cannot trace: say which, in one line
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(
            f"--format=shallow is invalid for this model: torch.export failed: {detail}"
        ) from None
    buf = io.BytesIO()
    torch.export.save(program, buf)
    return buf.getvalue()


def shallow_form(at: Step) -> Form:
    """Build the shallower network (gates from the step's training pass, as the depth check), export it,
    load the program back and measure it."""
    train = at.batches("train", train=True, step=at.step)
    shallow, _changes, _probe, _rectified = shallow_of(at.job.model, train, at.example)
    path = at.store.paths.export(at.step, "shallow")
    atomic_write(path, program_bytes(shallow, at.example))
    module = torch.export.load(path).module()
    return measure("shallow", Program(module), path, at, module)
