"""The package's import graph has no cycle (scripts/import_graph.py reads the sources)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "import_graph.py"


def _script():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    return module


def test_the_cycle_finder_finds_cycles() -> None:
    graph = _script()
    found = graph.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()})
    assert found == [["a", "b", "c"]]
    assert graph.cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_reads_function_level_imports(tmp_path: Path) -> None:
    graph = _script()
    pkg = tmp_path / "planner"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from planner import b\n")
    (pkg / "b.py").write_text("def f():\n    from planner.a import x\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from planner.a import y\n"
    )
    drawn = graph.build_graph(tmp_path)
    assert drawn["planner.a"] == {"planner.b"}
    assert drawn["planner.b"] == {"planner.a"}
    assert drawn["planner.c"] == set()
    assert graph.cycles(drawn) == [["planner.a", "planner.b"]]


def test_planner_has_no_import_cycle() -> None:
    graph = _script()
    drawn = graph.build_graph()
    assert "planner.app.cli" in drawn and "planner.optimize" in drawn
    assert graph.cycles(drawn) == []


def test_the_layer_check_finds_upward_imports() -> None:
    graph = _script()
    drawn = {
        "planner.core.errors": {"planner.app.cli"},
        "planner.app.cli": {"planner.core.errors", "planner.ground.network"},
        "planner.ground.network": {"planner.misc"},
        "planner.misc": set(),
        "planner.__main__": {"planner.app.cli"},
    }
    assert graph.upward_imports(drawn) == [
        ("planner.core.errors", "planner.app.cli"),
        ("planner.ground.network", "planner.misc"),
    ]


def test_planner_imports_run_down_the_layers() -> None:
    graph = _script()
    drawn = graph.build_graph()
    # every module of the package sits in one of the layers
    outside = {m for m in drawn if graph.layer_of(m) not in (None, *graph.LAYERS)}
    assert outside == set()
    assert graph.upward_imports(drawn) == []


def _call_path_script():
    path = SCRIPT.parent / "call_path.py"
    spec = importlib.util.spec_from_file_location("call_path", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_city_plan_crosses_four_modules_down_the_layers(tmp_path: Path) -> None:
    """``planner plan`` reaches the optimizer through the API and the strategy only (it crossed
    five modules when the package was flat: cli, workflows, strategies.base, the strategy,
    optimize)."""
    graph = _script()
    osm = Path(__file__).parent / "fixtures" / "grid.osm"
    argv = ["plan", "--osm", str(osm), "--out", str(tmp_path / "o"), "--sites", "3", "-q"]
    chain = _call_path_script().call_path(argv)
    assert chain[:3] == ["planner.app.cli", "planner.app.api", "planner.strategies.coverage"]
    assert len(chain) == 4 and graph.layer_of(chain[3]) == "optimize"
    ranks = [graph.LAYERS.index(graph.layer_of(m)) for m in chain]
    assert ranks == sorted(ranks, reverse=True)
