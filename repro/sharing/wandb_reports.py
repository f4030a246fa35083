"""A dashboard specification (:mod:`.dashboards`) as a W&B Report object, and its publication.

Building needs only ``wandb-workspaces`` (``pip install 'repro[share]'``) and no network; saving needs a
key. The runsets name the project only when an entity is known, because ``wandb-workspaces`` looks the
project up on the server as soon as both are set.
"""

from __future__ import annotations

from typing import Any

from repro.errors import ConfigError


def workspaces() -> Any:
    """``wandb_workspaces.reports.v2``, or a one-line error naming the extra that installs it."""
    try:
        import wandb_workspaces.reports.v2 as wr
    except ImportError:
        raise ConfigError(
            "dashboard is invalid: wandb-workspaces is not installed (pip install 'repro[share]')"
        ) from None
    return wr


def _panel(wr: Any, spec: dict[str, Any]) -> Any:
    kind = spec["kind"]
    # one line or bar per method: the mean over its runs (the seeds) with the standard error
    grouped = {
        "groupby": wr.Config(spec.get("groupby", "")),
        "groupby_aggfunc": "mean",
        "groupby_rangefunc": "stderr",
    }
    if kind == "line":
        return wr.LinePlot(title=spec["title"], x=spec["x"], y=list(spec["y"]), **grouped)
    if kind == "bar":
        return wr.BarPlot(title=spec["title"], metrics=list(spec["y"]), **grouped)
    if kind == "table":
        return wr.WeavePanelSummaryTable(table_name=spec["key"])
    if kind == "media":
        return wr.MediaBrowser(title=spec["title"], media_keys=list(spec["keys"]), num_columns=2)
    raise ConfigError(f"panel kind={kind!r} is invalid: allowed: bar, line, media, table")


def build_report(spec: dict[str, Any], entity: str | None = None) -> Any:
    """The ``wandb_workspaces`` Report of ``spec``: a heading and a panel grid per section."""
    wr = workspaces()
    entity = entity or spec.get("entity") or ""
    project = spec["project"] if entity else ""
    blocks: list[Any] = [wr.P(spec["description"])]
    for section in spec["sections"]:
        if not section["panels"]:
            continue
        runset = wr.Runset(entity=entity, project=project, name=section["title"], filters=section["filters"])
        blocks += [
            wr.H2(section["title"]),
            wr.PanelGrid(runsets=[runset], panels=[_panel(wr, p) for p in section["panels"]]),
        ]
    return wr.Report(
        project=spec["project"], entity=entity, title=spec["title"][:128], description=spec["description"],
        blocks=blocks, width="fluid",
    )  # fmt: skip


def publish(spec: dict[str, Any]) -> str:
    """Save the report of ``spec`` to W&B (needs a key); return its address."""
    import wandb

    entity = spec.get("entity") or wandb.Api().default_entity
    report = build_report(spec, entity=entity)
    report.save()
    return str(report.url)
