"""Run a sweep file: ``python -m repro.sweep sweeps/<name>.yaml [key=value ...]``.

A sweep file names the fixed overrides and the swept parameters of one paper table or figure; this turns it
into one Hydra multirun (so launchers, resume and the aggregation callback all apply). Extra command-line
overrides are appended, e.g. ``hydra/launcher=joblib`` or ``trainer.epochs=1`` for a dry run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import OmegaConf

from repro.security import check_sweep_overrides


def sweep_argv(path: Path, extra: list[str]) -> list[str]:
    spec = OmegaConf.load(path)
    unknown = set(spec.keys()) - {"overrides", "params"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}; allowed: overrides, params")
    # Unresolved: a ${...} reaches the job's config (and the oc.env guard) as written, not a value read here;
    # an escaped \${...} (a job-time interpolation such as pruner.name=sap_eta\${pruner.eta}) is unescaped.
    data = OmegaConf.to_container(spec, resolve=False)
    assert isinstance(data, dict)
    fixed = [str(o).replace("\\${", "${") for o in data.get("overrides") or []]
    params = data.get("params") or {}
    if not fixed and not params:
        raise ValueError(f"sweep={str(path)!r} is invalid: it sets no overrides and no params (empty?)")
    swept = [f"{k}={v}".replace("\\${", "${") for k, v in params.items()]
    check_sweep_overrides(path, [*fixed, *swept])
    return ["-m", f"sweep_name={path.stem}", *fixed, *swept, *extra]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if argv else 2)
    path = Path(argv[0])
    if not path.is_file():
        available = ", ".join(sorted(p.name for p in Path("sweeps").glob("*.yaml"))) or "none found"
        print(f"error: sweep={str(path)!r} is not a file; sweeps here: {available}", file=sys.stderr)
        sys.exit(2)
    try:
        args = sweep_argv(path, argv[1:])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    from repro.run import main as run_main

    run_main(args)


if __name__ == "__main__":
    main()
