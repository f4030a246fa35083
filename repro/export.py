"""``python -m repro.export RUN_DIR [--step K] [--format sparse|shallow]``: a pruned model to share.

Writes the model of step K (default: the last) into ``RUN_DIR/export/``: ``sparse`` is a compressed file
that plain ``torch.load(..., weights_only=True)`` reads (the masked layers as CSR tensors), ``shallow`` the
shallower network of the depth check as a ``torch.export`` program that runs without ``repro``. Prints each
form's file size, parameter count, latency and agreement with the run's model beside the dense model's,
and logs the files as a W&B model artifact when the run logged to W&B. Without ``--format`` it writes the
sparse file, and the shallow program too for a run made with the depth check (``entropy.depth``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from repro.errors import ConfigError, DataMissingError
from repro.loggers import make_logger
from repro.reports.tables import markdown
from repro.sharing.forms import Form, Step, dense_form, load_step, shallow_form, sparse_forms
from repro.store import flatten

FORMATS = ("sparse", "shallow")


def export(
    run_dir: Path, step: int | None = None, formats: list[str] | None = None, data_root: str | None = None
) -> tuple[Step, list[Form]]:
    """Write and measure the chosen forms of ``run_dir``'s model at ``step``; the dense form comes first."""
    for name in formats or []:
        if name not in FORMATS:
            raise ConfigError(f"--format={name} is invalid: allowed: {', '.join(FORMATS)}")
    at = load_step(Path(run_dir), step, data_root)
    depth = bool(at.job.cfg.get("entropy", {}).get("depth", False))
    chosen = formats or (list(FORMATS) if depth else ["sparse"])
    forms = [dense_form(at)]
    if "sparse" in chosen:
        forms += sparse_forms(at)
    if "shallow" in chosen:
        forms.append(shallow_form(at))
    return at, forms


def table(forms: list[Form]) -> pd.DataFrame:
    """The forms side by side, with each file's size relative to the dense checkpoint."""
    frame = pd.DataFrame([f.row() for f in forms])
    frame.insert(3, "x smaller", frame["bytes"].iloc[0] / frame["bytes"])
    frame.attrs["digits"] = {"latency_ms": 3, "test_acc": 4, "x smaller": 2}
    return frame.drop(columns=["file"])


def log_artifact(at: Step, forms: list[Form]) -> None:
    """The exported files as one W&B ``model`` artifact, in the run's group, when the run logged to W&B."""
    cfg = at.job.cfg
    if cfg.logger.name == "none" or cfg.logger.mode == "disabled":
        return
    name = f"{at.store.name}-step{at.step}"
    files = sorted({Path(f.file) for f in forms if f.form != "dense"})
    rows = {f.form: {k: v for k, v in f.row().items() if k not in ("form", "file")} for f in forms}
    logger = make_logger(
        cfg.logger, name=f"export-{name}", job_type="export", group=cfg.sweep_name,
        tags=[cfg.model.name, cfg.dataset.name], config={"run": at.store.name, "step": at.step},
        run_dir=at.store.dir,
    )  # fmt: skip
    exit_code = 1
    try:
        logger.log_artifact(name, "model", files, metadata=flatten(rows))
        logger.summary(rows)
        exit_code = 0
    finally:
        logger.finish(exit_code)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m repro.export", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder (out_dir/runs/<name>)")
    parser.add_argument("--step", type=int, default=None, help="the step to export (default: the last)")
    parser.add_argument("--format", action="append", default=None, help="sparse or shallow (repeatable)")
    parser.add_argument("--data-root", default=None, help="where the run's data set is now (dataset.root)")
    parser.add_argument("--no-wandb", action="store_true", help="do not log the files as a W&B artifact")
    args = parser.parse_args(argv)
    try:
        at, forms = export(args.run_dir, args.step, args.format, args.data_root)
    except (ConfigError, DataMissingError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    print(markdown(table(forms)))
    for file in dict.fromkeys(f.file for f in forms[1:]):
        print(f"[repro] wrote {file}")
    if not args.no_wandb:
        log_artifact(at, forms)


if __name__ == "__main__":
    main()
