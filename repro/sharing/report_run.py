"""The sweep's report run: one W&B run (job type ``report``, in the sweep's group) that carries what the
aggregator wrote, so that a dashboard shows the papers' tables and figures beside the jobs' own charts.

Every CSV table becomes a W&B Table, every PNG figure an image, and the tidy table (one row per run and
step) a ``dataset`` artifact for one's own analysis. Keys follow the files (:func:`media_key`), so the
dashboards name the same keys without reading W&B.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from repro.errors import ConfigError
from repro.store import find_runs

TIDY = ("tidy.csv", "tidy.parquet")
REPORT_JOB = "report"


def media_key(path: Path, out_dir: Path, kind: str) -> str:
    """``tables/sap/sap_table`` for ``OUT/sap/sap_table.csv`` (``kind`` = tables or figures); dots become
    underscores because W&B reads a dot in a key as nesting."""
    relative = Path(path).resolve().relative_to(Path(out_dir).resolve()).with_suffix("")
    return f"{kind}/{relative.as_posix().replace('.', '_')}"


@dataclass(frozen=True)
class Target:
    """Where a sweep's runs log: the W&B project, entity, group (the sweep) and mode."""

    project: str
    entity: str | None
    group: str
    mode: str = "auto"


def _most_common(values: Iterable[object]) -> object | None:
    found = [v for v in values if v is not None]
    return Counter(found).most_common(1)[0][0] if found else None


def sweep_target(root: Path, group: str | None = None) -> Target:
    """The W&B target of the runs under ``root``, read from their configs; ``group`` overrides the group.

    A job's group is ``logger.group`` or else ``sweep_name``; runs of several groups need ``group``.
    """
    loggers = [(c.get("logger") or {}, c.get("sweep_name")) for c in (r.config() for r in find_runs(root))]
    if group is None:
        groups = {str(log.get("group") or sweep) for log, sweep in loggers if log.get("group") or sweep}
        if len(groups) != 1:
            found = f"several groups ({', '.join(sorted(groups))})" if groups else "no group (sweep_name)"
            raise ConfigError(f"--group is invalid: the runs under {root} name {found}; pass --group NAME")
        group = groups.pop()
    project = _most_common(log.get("project") for log, _ in loggers) or "repro"
    entity = _most_common(log.get("entity") for log, _ in loggers)
    mode = _most_common(log.get("mode") for log, _ in loggers) or "auto"
    return Target(str(project), None if entity is None else str(entity), group, str(mode))


def _tables(files: list[Path], out_dir: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for path in files:
        if path.suffix != ".csv" or path.name in TIDY:
            continue
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:  # a table with no rows and no columns
            continue
        # W&B Tables want one type per column: text columns with gaps become text throughout
        for name in frame.columns:
            if not (pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_bool_dtype(frame[name])):
                frame[name] = frame[name].map(lambda v: "" if v is None or v != v else str(v)).astype(object)
        out[media_key(path, out_dir, "tables")] = frame
    return out


def log_report_run(out_dir: Path, files: list[Path], target: Target, runs: int) -> dict[str, int]:
    """Log the aggregator's ``files`` (written under ``out_dir``) as the sweep's report run; return counts."""
    from repro.loggers import WandbLogger

    out_dir = Path(out_dir)
    tables = _tables(files, out_dir)
    images = {media_key(p, out_dir, "figures"): p for p in files if p.suffix == ".png"}
    tidy = [p for p in files if p.name in TIDY and p.parent.resolve() == out_dir.resolve()]
    logger = WandbLogger(
        project=target.project,
        entity=target.entity,
        group=target.group,
        job_type=REPORT_JOB,
        tags=[REPORT_JOB],
        name=f"{REPORT_JOB}-{target.group}",
        config={"sweep_name": target.group, "runs": runs, "tables": len(tables), "figures": len(images)},
        mode=target.mode,
        run_dir=out_dir,
    )
    exit_code = 1
    try:
        if tables:
            logger.log_tables(tables)
        if images:
            logger.log_images(images)
        if tidy:
            logger.log_artifact(f"tidy-{target.group}", "dataset", tidy, {"runs": runs})
        logger.summary({"tables": sorted(tables), "figures": sorted(images)})
        exit_code = 0
    finally:
        logger.finish(exit_code)
    counts = {"tables": len(tables), "figures": len(images), "artifacts": int(bool(tidy))}
    print(
        f"[repro] W&B report run {REPORT_JOB}-{target.group} (project {target.project}): "
        f"{counts['tables']} tables, {counts['figures']} figures, tidy table as an artifact",
        flush=True,
    )
    return counts


def share_report(result: dict, out_dir: Path, target: Target) -> dict[str, int] | None:
    """The report run of an aggregation (``aggregate``'s result, written into ``out_dir``); nothing to log
    without runs."""
    if result["frame"].empty:
        print("[repro] no runs: no W&B report run", flush=True)
        return None
    return log_report_run(out_dir, result["files"], target, runs=len(result["runs"]))
