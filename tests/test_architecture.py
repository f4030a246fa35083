"""The layers of the suite, read from the source: no import cycle, no import from a lower layer upwards.

1. ground: errors, masks, the run store, seeding, declared schema fields, registries, target building,
   the security guards;
2. parts: data, models, pruning, metrics, training, job resources, loggers;
3. the loop and its step hooks;
4. reports;
5. entry points (run, sweep, aggregate, precheck, config, and the other command-line modules).
Every import counts, also one inside a function.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "repro"
MAX_LINES = 300

LAYERS = {
    "repro.errors": 1,
    "repro.masks": 1,
    "repro.store": 1,
    "repro.seeding": 1,
    "repro.schema": 1,
    "repro.registry": 1,
    "repro.instantiate": 1,
    "repro.security": 1,
    "repro.data": 2,
    "repro.models": 2,
    "repro.pruning": 2,
    "repro.metrics": 2,
    "repro.train": 2,
    "repro.parallel": 2,
    "repro.loggers": 2,
    "repro.loop": 3,
    "repro.reports": 4,
}
ENTRY = 5


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    for prefix, number in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return number
    return ENTRY


def imports(path: Path, modules: set[str]) -> set[str]:
    """The suite's modules that ``path`` imports (``from repro.x import y`` counts y when it is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("repro")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("repro"):
            if node.module != "repro":  # ``from repro import registry`` imports the module, not the package
                found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules}
    return {m for m in found if m in modules}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports(p, modules) - {module_name(p)} for p in paths}


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    # A package's __init__ importing its own modules is how registration works, not a cycle of concerns.
    edges = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    try:
        TopologicalSorter(edges).static_order()
        list(TopologicalSorter(edges).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_no_import_from_a_higher_layer(graph: dict[str, set[str]]) -> None:
    upward = [
        f"{m} (layer {layer(m)}) imports {d} (layer {layer(d)})"
        for m, deps in sorted(graph.items())
        for d in sorted(deps)
        if layer(d) > layer(m)
    ]
    assert not upward, "\n".join(upward)


def test_a_cycle_and_an_upward_import_are_caught(tmp_path: Path) -> None:
    """The checks above can fail: a constructed graph with both faults."""
    edges = {"repro.masks": {"repro.loop.loop"}, "repro.loop.loop": {"repro.masks"}}
    with pytest.raises(CycleError):
        list(TopologicalSorter(edges).static_order())
    assert layer("repro.loop.loop") > layer("repro.masks")


def test_schemas_import_no_implementation(graph: dict[str, set[str]]) -> None:
    for module, deps in graph.items():
        if module.endswith(".schemas") or module in ("repro.config", "repro.schema", "repro.registry"):
            allowed = {"repro.errors", "repro.schema", "repro.registry"}
            assert deps <= allowed, f"{module} imports {sorted(deps)}"


def test_no_file_over_the_line_limit() -> None:
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}  # fmt: skip
    assert not long, long
