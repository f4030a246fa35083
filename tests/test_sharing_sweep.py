"""A sweep shared: its W&B report run (read back from the offline run files) and one W&B Report per paper.

The runs of all three papers (the report fixtures) are aggregated once with ``--wandb``, then the
dashboards are built from that folder, offline.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import wandb_workspaces.reports.v2 as wr

from repro.aggregate import main as aggregate_main
from repro.dashboard import main as dashboard_main
from repro.registry import get
from repro.sharing.report_run import media_key
from repro.sharing.wandb_reports import build_report
from tests.test_reports_fixtures import egp_runs, ovg_runs, sap_runs
from tests.wandb_files import offline_runs

GROUP = "sweep1"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("sweep")
    for write in (sap_runs, egp_runs, ovg_runs):
        write(root)
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as env, contextlib.redirect_stdout(printed):
        env.setenv("WANDB_MODE", "offline")
        env.setenv("WANDB_SILENT", "true")
        env.setenv("WANDB_DIR", str(root / "wandb"))
        env.delenv("WANDB_API_KEY", raising=False)
        aggregate_main([str(root), "--wandb", "--group", GROUP])
        dashboard_main([str(root), "--group", GROUP])
    return SimpleNamespace(root=root, printed=printed.getvalue(), runs=offline_runs(root / "wandb"))


def written(root: Path, suffix: str) -> list[Path]:
    return [p for p in root.rglob(f"*{suffix}") if "wandb" not in p.parts and p.name != "tidy.csv"]


def test_report_run_logs_every_table_figure_and_the_tidy_table(sweep: SimpleNamespace) -> None:
    (run,) = sweep.runs
    assert (run.job_type, run.group) == ("report", GROUP)
    tables, images = run.media("table-file"), run.media("image-file")
    assert set(tables) == {media_key(p, sweep.root, "tables") for p in written(sweep.root, ".csv")}
    assert set(images) == {media_key(p, sweep.root, "figures") for p in written(sweep.root, ".png")}
    assert {"tables/summary", "tables/sap/sap_table", "tables/egp/egp_table"} <= set(tables)
    assert any(key.startswith("figures/sap/tradeoff_") for key in images)
    assert all(path.stat().st_size > 0 for path in images.values())
    summary = json.loads(tables["tables/summary"].read_text())
    header = (sweep.root / "summary.csv").read_text().splitlines()[0].split(",")
    assert summary["columns"] == [h.strip('"') for h in header] and summary["data"]
    assert run.artifacts[f"tidy-{GROUP}"] == ("dataset", ["tidy.csv", "tidy.parquet"])


def panel_grids(spec: dict) -> list:
    report = build_report(spec)
    return [block for block in report.blocks if isinstance(block, wr.PanelGrid)]


def filters(grid: wr.PanelGrid) -> list[tuple[str, str, str]]:
    """The runset's filter as W&B stores it: (run attribute, operator, value), all joined by AND."""
    tree = grid.runsets[0]._to_model().filters  # built offline: no entity, so no project look-up
    assert {f.get("connector", "AND") for f in tree["filters"]} == {"AND"}
    return [(f["key"]["name"], f["op"], f["value"]) for f in tree["filters"]]


@pytest.mark.parametrize("paper", ["sap", "egp", "sharpness"])
def test_each_paper_report_has_its_panels_and_the_group_filter(sweep: SimpleNamespace, paper: str) -> None:
    spec = json.loads((sweep.root / "dashboards" / f"{paper}.json").read_text())
    assert spec["group"] == GROUP and spec["project"] == "repro"
    jobs, report_run = panel_grids(spec)
    assert filters(jobs) == [("group", "=", GROUP), ("jobType", "!=", "report"), ("jobType", "!=", "export")]
    assert filters(report_run) == [("group", "=", GROUP), ("jobType", "=", "report")]
    declared = get("dashboard")[paper].panels
    assert [p.title for p in jobs.panels] == [d.title for d in declared]
    for panel, want in zip(jobs.panels, declared):
        assert panel.groupby == wr.Config("method")
        if want.kind == "line":
            assert isinstance(panel, wr.LinePlot) and (panel.x, panel.y) == (want.x, list(want.y))
        else:
            assert isinstance(panel, wr.BarPlot) and panel.metrics == list(want.y)
    logged = sweep.runs[0]
    tables = [p.table_name for p in report_run.panels if isinstance(p, wr.WeavePanelSummaryTable)]
    assert tables and set(tables) <= set(logged.media("table-file"))
    assert all(t.startswith(f"tables/{paper}/") for t in tables)
    (media,) = [p for p in report_run.panels if isinstance(p, wr.MediaBrowser)]
    assert media.media_keys and set(media.media_keys) <= set(logged.media("image-file"))


def test_the_panels_a_paper_needs(sweep: SimpleNamespace) -> None:
    def panels(paper: str) -> list:
        return panel_grids(json.loads((sweep.root / "dashboards" / f"{paper}.json").read_text()))[0].panels

    assert any(p.x == "remaining" and p.y == ["test_acc"] for p in panels("sap"))  # accuracy vs remaining
    assert any(p.y == ["pqi", "pqi_neuron", "gini"] for p in panels("sap"))  # PQI trajectories
    assert any(p.y == ["egp_removed_layers"] for p in panels("egp"))  # removed layers per step
    bars = [p.metrics for p in panels("sharpness") if isinstance(p, wr.BarPlot)]
    assert ["hessian_top_eig", "eps_sharpness", "sharpness_loss"] in bars  # sharpness bars
    assert any("psp_network" in b for b in bars)  # PSP-entropy bars


def test_offline_dashboard_prints_the_one_command_that_publishes(sweep: SimpleNamespace) -> None:
    for paper in ("sap", "egp", "sharpness"):
        assert f"dashboard specification: {sweep.root / 'dashboards' / paper}.json" in sweep.printed
    assert f"python -m repro.dashboard {sweep.root} --group {GROUP} --publish" in sweep.printed


@pytest.mark.parametrize(
    ("main", "args", "needle"),
    [
        (dashboard_main, ["--group", GROUP, "--publish"], "error: --publish is invalid: W&B is offline"),
        (dashboard_main, [], "error: --group is invalid: the runs under"),
        (aggregate_main, ["--wandb"], "error: --group is invalid: the runs under"),
    ],
)
def test_bad_sharing_input_fails_in_one_line(
    sweep: SimpleNamespace, capsys: pytest.CaptureFixture, main, args: list[str], needle: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([str(sweep.root), *args])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.startswith(needle) and "\n" not in err
