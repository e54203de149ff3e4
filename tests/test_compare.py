"""``planner compare`` on a real extract: metrics recomputed independently from the GeoJSON."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from scipy.spatial import cKDTree

from planner.app.cli import main
from planner.ground.demand import build_demand
from planner.ground.network import load_network


@pytest.fixture(scope="module")
def bangor_compare(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    osm = shared / "osm" / "us_bangor_me.osm.pbf"
    if not osm.exists():
        pytest.skip(f"shared data not found at {shared}")
    out = tmp_path_factory.mktemp("cmp")
    argv = [
        "compare",
        "--osm",
        str(osm),
        "--strategies",
        "us-nevi,china-pile-swap",
        "--out",
        str(out),
        "-q",
        "--offline-assets",
    ]
    assert main(argv) == 0
    return osm, out


def test_outputs_written(bangor_compare: tuple[Path, Path]) -> None:
    _, out = bangor_compare
    for name in ("metrics.csv", "metrics.json", "compare.html", "report.html"):
        assert (out / name).is_file()
    for strategy in ("us-nevi", "china-pile-swap"):
        assert (out / strategy / "sites.geojson").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert [m["strategy"] for m in metrics] == ["us-nevi", "china-pile-swap"]
    html = (out / "compare.html").read_text()
    assert "share_within_3km" in html and "OpenStreetMap" in html


def test_ports_and_dc_share_recomputed(bangor_compare: tuple[Path, Path]) -> None:
    _, out = bangor_compare
    metrics = pd.read_csv(out / "metrics.csv").set_index("strategy")
    for strategy in ("us-nevi", "china-pile-swap"):
        feats = json.loads((out / strategy / "sites.geojson").read_text())["features"]
        ports = sum(f["properties"]["ports"] for f in feats)
        dc = sum(f["properties"]["dc_ports"] for f in feats)
        assert metrics.loc[strategy, "ports"] == ports
        assert metrics.loc[strategy, "dc_share"] == pytest.approx(dc / ports)
        assert metrics.loc[strategy, "sites"] == len(feats)


def test_share_within_3km_recomputed(bangor_compare: tuple[Path, Path]) -> None:
    """Demand share within 3 km network distance of a site with ports, via networkx."""
    osm, out = bangor_compare
    net = load_network(osm)
    demand = build_demand(net, country="US")
    graph = nx.DiGraph()
    for u, v, length in net.edges[["u", "v", "length_m"]].itertuples(index=False):
        if not graph.has_edge(v, u) or graph[v][u]["w"] > length:
            graph.add_edge(v, u, w=float(length))
    to_xy = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True)
    tree = cKDTree(np.column_stack([net.x_m, net.y_m]))
    metrics = pd.read_csv(out / "metrics.csv").set_index("strategy")
    for strategy in ("us-nevi", "china-pile-swap"):
        feats = json.loads((out / strategy / "sites.geojson").read_text())["features"]
        lonlat = np.array(
            [f["geometry"]["coordinates"] for f in feats if f["properties"]["ports"] > 0]
        )
        x, y = to_xy.transform(lonlat[:, 0], lonlat[:, 1])
        _, nodes = tree.query(np.column_stack([x, y]))
        reach = nx.multi_source_dijkstra_path_length(
            graph, set(nodes.tolist()), cutoff=3000.0, weight="w"
        )
        covered = np.isin(demand.node_idx, np.fromiter(reach.keys(), dtype=np.int64))
        share = demand.demand[covered].sum() / demand.demand.sum()
        assert metrics.loc[strategy, "share_within_3km"] == pytest.approx(share, abs=1e-9)


def test_corridor_gap_recomputed(bangor_compare: tuple[Path, Path]) -> None:
    _, out = bangor_compare
    metrics = pd.read_csv(out / "metrics.csv").set_index("strategy")
    corridors = json.loads((out / "us-nevi" / "corridors.geojson").read_text())["features"]
    assert corridors
    gaps = [f["properties"]["max_gap_mi"] for f in corridors]
    assert metrics.loc["us-nevi", "max_corridor_gap_mi"] == pytest.approx(max(gaps))
    assert max(gaps) <= 50.0


@pytest.mark.browser
def test_compare_html_in_headless_chromium(
    bangor_compare: tuple[Path, Path], tmp_path: Path
) -> None:
    """The real ``compare.html`` (offline assets) renders both panes offline, without JS errors."""
    from tests.headless_browser import browser_available, chromium, load_and_count, severe_errors

    reason = browser_available()
    if reason is not None:
        pytest.skip(f"headless Chromium unavailable: {reason}")
    _, out = bangor_compare
    html = (out / "compare.html").read_text()
    assert "http://" not in html.split("<body")[0] and "https://cdn" not in html
    with chromium() as driver:
        panes, seconds = load_and_count(
            driver,
            out / "compare.html",
            ready=lambda c: len(c) == 2 and all(p["markers"] + p["clusters"] > 0 for p in c),
        )
        assert len(panes) == 2
        for pane in panes:
            assert pane["markers"] + pane["clusters"] > 0
            assert pane["allPaths"] > 0  # corridors (I-95, I-395) and coverage
            assert pane["legend"] == 1
        heads = driver.execute_script(  # one metric per row, one strategy per column
            "return Array.from(document.querySelectorAll('table.planner-metrics thead th'))"
            ".map(function (e) { return e.textContent; });"
        )
        assert heads == ["metric", *pd.read_csv(out / "metrics.csv")["strategy"]]
        assert severe_errors(driver) == []
        assert driver.save_screenshot(str(tmp_path / "compare_bangor.png"))
    assert seconds < 60
