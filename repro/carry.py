"""``python -m repro.carry RUN... --to FOLDER``: a light copy of runs that another machine resumes from.

A run directory holds the weights of every step, but going on needs only the initial weights, step 0's
(the dense weights one-shot pruners read) and the last step's. The copy keeps the config, the status,
every record and every step's artifacts (the small files the tables and figures read), the weights of
those steps, and ``carried.json`` naming the steps whose weights stay behind, so ``repro.verify`` passes
on it and the aggregator reads it like the original. A finished run travels without weights. To go on
elsewhere, carry the copy into that ``out_dir``'s ``runs/`` folder the same way and run the same command:
it resumes after the last recorded step, with the same numbers as an uninterrupted run. A copy never
replaces a run that has more recorded steps or is running.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from repro.store import RunReader, RunStore, atomic_json, find_runs
from repro.store.verify import artifact_files, artifacts_kept, left_out, record_files, step_problems


@dataclass(frozen=True)
class Carried:
    """What one run's copy holds."""

    name: str
    records: int
    steps_with_files: tuple[int, ...]
    bytes: int


class CarryError(Exception):
    """A run that cannot be carried: damaged, not resumable, or its destination is further along."""


def files_to_carry(run: RunReader) -> tuple[list[Path], set[int], set[int], bool]:
    """(files, steps kept with their weights, steps kept without, whether every step's artifacts are kept)
    of ``run``'s copy."""
    records = [r for r in run.records() if r.get("status") != "diverged"]
    steps = {int(r["step"]) for r in records}
    absent = left_out(run.paths)
    with_artifacts = artifacts_kept(run.paths) or not absent  # an older copy may lack some
    finished = run.status_name() in ("finished", "diverged")
    keep = set() if finished or not steps else {0, max(steps)} & steps
    if keep & absent:
        raise CarryError(f"{run.dir}: step(s) {sorted(keep & absent)} hold no files here; carry the original")
    files = [run.paths.init] if keep and run.paths.init.exists() else []
    for record in records:
        if record["step"] in keep:
            problems, found = step_problems(run.paths, record, set()), record_files(run.paths, record)
        else:  # the weights stay behind; the artifacts the tables and figures read travel
            problems = step_problems(run.paths, record, steps - keep, artifacts=with_artifacts)
            found = artifact_files(run.paths, record) if with_artifacts else []
        if problems:
            raise CarryError(f"{problems[0]}; repair the run first (re-run its command)")
        files += [path for path, _ in found]
    return files, keep, (steps - keep) | absent, with_artifacts


def carry(src: Path, dest_root: Path) -> Carried:
    """Copy run ``src`` into ``dest_root/<name>`` (replacing an older copy there, never a newer one)."""
    run = RunReader(src)
    files, keep, absent, with_artifacts = files_to_carry(run)
    dest = dest_root / run.name
    if dest.resolve() == run.dir.resolve():
        raise CarryError(f"{src}: the destination is the run itself")
    if RunReader(dest).last_step() > run.last_step():
        raise CarryError(f"{dest} has more recorded steps than {src}; left as it is")
    guard = RunStore(dest) if dest.exists() else None
    if guard is not None and (owner := guard.acquire()) is not None:
        raise CarryError(f"{dest} is in use by {owner}; left as it is")
    tmp = dest_root / f".{run.name}.carry"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        wanted = [run.paths.config, run.paths.status, run.paths.records, *files]
        for path in wanted:
            if path.exists():
                target = tmp / path.relative_to(run.dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        manifest = {"left_out": sorted(absent)} | ({"artifacts": "all"} if with_artifacts else {})
        atomic_json(tmp / run.paths.carried.name, manifest)
        old = dest_root / f".{run.name}.old"
        if dest.exists():
            dest.rename(old)
        tmp.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if guard is not None:
            guard.release()
    size = sum(p.stat().st_size for p in files)
    return Carried(run.name, len(run.records()), tuple(sorted(keep)), size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m repro.carry", description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run directories, or folders holding runs")
    parser.add_argument("--to", type=Path, required=True, help="the folder the copies go into")
    args = parser.parse_args(argv)
    runs = []
    for root in args.runs:
        found = find_runs(root) if root.is_dir() else []
        if not found:
            print(f"error: runs={str(root)!r} is invalid: no run directory there", file=sys.stderr)
            sys.exit(2)
        runs += found
    args.to.mkdir(parents=True, exist_ok=True)
    failed = 0
    for run in runs:
        try:
            done = carry(run.dir, args.to)
        except CarryError as exc:
            failed += 1
            print(f"[repro] carry: {exc}", file=sys.stderr)
            continue
        held = ", ".join(map(str, done.steps_with_files)) or "none"
        print(f"[repro] carried {done.name}: {done.records} records with their artifacts, weights of steps "
              f"{held}, {done.bytes / 1e6:.1f} MB -> {args.to / done.name}")  # fmt: skip
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
