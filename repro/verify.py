"""``python -m repro.verify DIR``: check every checksum of every run and dense cache under DIR.

Prints one line per damaged file and exits 1 when there is any (0 when all are intact), so a script or a
cluster job can check a results folder before it is shared. Re-running a damaged run's command redoes its
steps from the last good one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from repro.store import OutPaths, find_runs
from repro.store.verify import verify_dense, verify_run


def damaged(root: Path) -> tuple[int, int, list[str]]:
    """(runs checked, dense caches checked, problems) below ``root``."""
    runs = find_runs(root)
    problems = [p for run in runs for p in verify_run(run)]
    folders = {root, *(r.dir.parent.parent for r in runs)}  # out_dirs: where dense caches live
    caches = [c for folder in folders for c in OutPaths(folder).dense_caches()]
    caches = list({c.weights: c for c in caches}.values())
    problems += [p for cache in caches for p in verify_dense(cache)]
    return len(runs), len(caches), problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m repro.verify", description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="an out_dir, a runs folder or a sweep folder")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"error: root={str(args.root)!r} is invalid: not a folder", file=sys.stderr)
        sys.exit(2)
    runs, caches, problems = damaged(args.root)
    for problem in problems:
        print(problem)
    verdict = f"{len(problems)} damaged file(s)" if problems else "all intact"
    print(f"[repro] verify: {runs} runs, {caches} dense caches: {verdict}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
