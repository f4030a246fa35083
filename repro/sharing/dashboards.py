"""A paper's dashboard as a W&B Report specification: plain JSON, written into the sweep folder.

The specification is what gets published (:mod:`.wandb_reports` builds the ``wandb-workspaces`` object from
it), so a sweep made offline keeps its dashboard until a key is set. It has two sections, both filtered to
the sweep's W&B group: the paper's panels over the jobs (one line per method), and the report run's tables
and figures (keys from :func:`.report_run.media_key`, so they match what the report run logged).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repro.registry import get
from repro.sharing.report_run import REPORT_JOB, Target, media_key

SPEC_DIR = "dashboards"
EXPORT_JOB = "export"  # runs of `python -m repro.export` share the group but chart nothing


def quoted(value: str) -> str:
    """A string literal of W&B's filter language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def group_filter(group: str, report_run: bool) -> str:
    """The runs of the sweep's group: its jobs, or its report run."""
    if report_run:
        return f"Group = {quoted(group)} and JobType = {quoted(REPORT_JOB)}"
    return f"Group = {quoted(group)} and JobType != {quoted(REPORT_JOB)} and JobType != {quoted(EXPORT_JOB)}"


def papers(out_dir: Path) -> list[str]:
    """The papers whose report the aggregator wrote into ``out_dir`` and that declare a dashboard."""
    return [n for n in get("dashboard").names() if (Path(out_dir) / n).is_dir()]


def report_panels(out_dir: Path, paper: str) -> list[dict[str, Any]]:
    """One table panel per CSV table of the paper's report, one media panel with all its figures."""
    folder = Path(out_dir) / paper
    panels: list[dict[str, Any]] = [
        {"kind": "table", "title": path.stem.replace("_", " "), "key": media_key(path, out_dir, "tables")}
        for path in sorted(folder.glob("*.csv"))
    ]
    figures = [media_key(path, out_dir, "figures") for path in sorted(folder.glob("*.png"))]
    if figures:
        panels.append({"kind": "media", "title": "Figures", "keys": figures})
    return panels


def dashboard_spec(paper: str, target: Target, out_dir: Path) -> dict[str, Any]:
    """The report specification of ``paper`` for the sweep logged to ``target``."""
    board = get("dashboard")[paper]
    return {
        "paper": paper,
        "title": f"{board.title}: {target.group}",
        "description": board.description,
        "project": target.project,
        "entity": target.entity,
        "group": target.group,
        "sections": [
            {
                "title": "Jobs of the sweep (mean over seeds per method)",
                "filters": group_filter(target.group, report_run=False),
                "panels": [panel.spec() for panel in board.panels],
            },
            {
                "title": "Tables and figures of the sweep (its report run)",
                "filters": group_filter(target.group, report_run=True),
                "panels": report_panels(out_dir, paper),
            },
        ],
    }


def spec_path(out_dir: Path, paper: str) -> Path:
    return Path(out_dir) / SPEC_DIR / f"{paper}.json"
