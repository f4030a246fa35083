"""``python -m repro.dashboard DIR``: one W&B Report per paper for the sweep under DIR.

Reads the aggregator's output in DIR (aggregating first when there is none), writes each paper's report
specification to ``DIR/dashboards/<paper>.json`` and, when W&B is online (a key is set), publishes them
with ``wandb-workspaces`` and prints their addresses. Offline it prints the one command that publishes
them once a key is set. The reports chart the sweep's group: its jobs and its report run
(``python -m repro.aggregate DIR --wandb``, or the end of a multirun that logs to W&B).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from repro.errors import ConfigError
from repro.loggers import wandb_mode
from repro.sharing.dashboards import dashboard_spec, papers, spec_path
from repro.sharing.report_run import sweep_target
from repro.store import atomic_write


def write_specs(root: Path, out_dir: Path, group: str | None, project: str | None) -> list[Path]:
    """Write the specification of every paper reported in ``out_dir``; return their paths."""
    target = sweep_target(root, group)
    target = replace(target, project=project or target.project)
    if not (out_dir / "summary.csv").exists():
        from repro.aggregate import aggregate

        aggregate(root, out_dir, quiet=True)
    paths = []
    for paper in papers(out_dir):
        path = spec_path(out_dir, paper)
        spec = dashboard_spec(paper, target, out_dir)
        atomic_write(path, (json.dumps(spec, indent=2) + "\n").encode())
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m repro.dashboard", description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder of a sweep (or of runs)")
    parser.add_argument("--out", type=Path, default=None, help="where the aggregator wrote (default: ROOT)")
    parser.add_argument("--group", default=None, help="W&B group (default: the runs' sweep_name)")
    parser.add_argument("--project", default=None, help="W&B project (default: the runs' logger.project)")
    parser.add_argument("--publish", action="store_true", help="publish; without a W&B key this is an error")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"error: root={str(args.root)!r} is invalid: not a folder", file=sys.stderr)
        sys.exit(2)
    out_dir = args.out or args.root
    online = wandb_mode("auto") == "online"
    try:
        if args.publish and not online:
            raise ConfigError("--publish is invalid: W&B is offline (no WANDB_API_KEY or `wandb login`)")
        paths = write_specs(args.root, out_dir, args.group, args.project)
        if not paths:
            print(f"[repro] no paper report under {out_dir}: no dashboard", flush=True)
            return
        for path in paths:
            print(f"[repro] dashboard specification: {path}", flush=True)
        if online:
            from repro.sharing.wandb_reports import publish

            for path in paths:
                print(f"[repro] published {publish(json.loads(path.read_text()))}", flush=True)
            return
        from repro.sharing.wandb_reports import build_report, workspaces

        workspaces()  # the extra that publishes: named now rather than once a key is set
        for path in paths:  # built offline too, so that a specification that cannot publish fails now
            build_report(json.loads(path.read_text()))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    given = (("out", args.out), ("group", args.group), ("project", args.project))
    options = [f"--{k} {v}" for k, v in given if v]
    print(
        "[repro] W&B is offline: once a key is set (`wandb login`) and the runs are synced (`wandb sync` "
        "on their offline-run folders), publish with:\n  "
        + " ".join(["python -m repro.dashboard", str(args.root), *options, "--publish"]),
        flush=True,
    )


if __name__ == "__main__":
    main()
