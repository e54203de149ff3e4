"""``docs/quickstart.ipynb``: stored without outputs, and it runs headless from top to bottom."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "docs" / "quickstart.ipynb"


def _code_cells(notebook: dict) -> list[dict]:
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_quickstart_is_stored_without_outputs() -> None:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = _code_cells(notebook)
    assert len(cells) >= 10
    for i, cell in enumerate(cells):
        assert cell["outputs"] == [], f"code cell {i} has outputs: strip them"
        assert cell["execution_count"] is None, f"code cell {i} has an execution count"
    assert "widgets" not in notebook["metadata"]


def _kernel_here(folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec running this interpreter (with this checkout importable), found first."""
    spec = folder / "kernels" / "planner-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "planner tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(folder))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no deprecation warning from jupyter_core
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return "planner-test"


@pytest.mark.slow
def test_quickstart_runs(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernel = _kernel_here(tmp_path, monkeypatch)
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=kernel,
        timeout=900,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    cells = _code_cells(notebook)
    outputs = [out for cell in cells for out in cell["outputs"]]
    assert not [out for out in outputs if out["output_type"] == "error"]
    warned = [
        out["text"]
        for out in outputs
        if out["output_type"] == "stream" and "Warning" in out.get("text", "")
    ]
    assert not warned, warned
    html = [out["data"]["text/html"] for out in outputs if "text/html" in out.get("data", {})]
    maps = [page for page in html if "leaflet" in page.lower()]
    assert len(maps) == 2  # the city plan's map and the comparison's synchronised maps
    reprs = [out["data"].get("text/plain", "") for out in outputs if "data" in out]
    assert any("<planner.Plan 'coverage' on us_bangor_me (city): 10 sites" in r for r in reprs)
    assert any("<planner.Plan 'us-nevi' on United States (national)" in r for r in reprs)
