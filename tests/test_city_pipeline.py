"""End to end on real OSM extracts: ``planner plan`` writes sites on the network, and the covered
share in ``summary.json`` is recomputed independently (networkx Dijkstra on the loaded edges)."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from pyproj import Transformer
from scipy.spatial import cKDTree

from planner.app.cli import main
from planner.ground.build import guess_country
from planner.ground.demand import build_demand
from planner.ground.network import load_network

EXTRACTS = [
    ("cn_shanghai_central.osm", 12, 1.0),
    ("cn_beijing_haidian.osm", 5, 0.5),
    ("us_west_oakland.osm.bz2", 3, 0.5),
]


def _plan(osm: Path, out: Path, sites: int, radius_km: float, *extra: str) -> dict:
    code = main(
        [
            "plan",
            "--osm",
            str(osm),
            "--sites",
            str(sites),
            "--radius-km",
            str(radius_km),
            "--out",
            str(out),
            "-q",
            *extra,
        ]
    )
    assert code == 0
    return json.loads((out / "summary.json").read_text())


def _independent_covered_share(osm: Path, sites_path: Path, radius_m: float) -> float:
    """Covered share from the GeoJSON sites and the network, with networkx instead of scipy."""
    net = load_network(osm)
    demand = build_demand(net, country=guess_country(net.lon, net.lat).upper())
    graph = nx.DiGraph()
    for u, v, length in net.edges[["u", "v", "length_m"]].itertuples(index=False):
        if not graph.has_edge(v, u) or graph[v][u]["w"] > length:
            graph.add_edge(v, u, w=float(length))  # reversed: distance from demand to site
    features = json.loads(sites_path.read_text())["features"]
    lonlat = np.array([f["geometry"]["coordinates"] for f in features])
    x, y = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(
        lonlat[:, 0], lonlat[:, 1]
    )
    dist, site_nodes = cKDTree(np.column_stack([net.x_m, net.y_m])).query(np.column_stack([x, y]))
    assert dist.max() < 1.0  # sites stand on network nodes
    reach = nx.multi_source_dijkstra_path_length(
        graph, set(site_nodes.tolist()), cutoff=radius_m, weight="w"
    )
    covered = np.isin(demand.node_idx, np.fromiter(reach.keys(), dtype=np.int64))
    return float(demand.demand[covered].sum() / demand.demand.sum())


def _near_road_m(osm: Path, sites_path: Path) -> np.ndarray:
    """Distance of each site to the nearest drivable edge geometry, metres."""
    import shapely

    net = load_network(osm)
    features = json.loads(sites_path.read_text())["features"]
    lonlat = np.array([f["geometry"]["coordinates"] for f in features])
    x, y = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(
        lonlat[:, 0], lonlat[:, 1]
    )
    tree = shapely.STRtree(net.edges.geometry.to_numpy())
    points = shapely.points(x, y)
    _, dist = tree.query_nearest(points, return_distance=True, all_matches=False)
    return np.asarray(dist)


@pytest.mark.parametrize(("name", "sites", "radius_km"), EXTRACTS)
def test_plan_real_extract(
    shared_data: Path, tmp_path: Path, name: str, sites: int, radius_km: float
) -> None:
    osm = shared_data / "osm" / name
    summary = _plan(osm, tmp_path, sites, radius_km)
    collection = json.loads((tmp_path / "sites.geojson").read_text())
    assert collection["type"] == "FeatureCollection"
    assert "OpenStreetMap" in collection["attribution"]
    n_nodes = summary["ground"]["nodes"]
    placed = summary["saturation"]["sites_placed"]  # may stop short of the count (issue 18)
    assert len(collection["features"]) == placed
    assert 1 <= placed <= min(sites, summary["ground"]["candidates"], n_nodes)
    props = collection["features"][0]["properties"]
    for key in ("site_id", "kind", "ports", "power_kw", "demand_served", "existing"):
        assert key in props
    assert (_near_road_m(osm, tmp_path / "sites.geojson") <= 100.0).all()
    share = _independent_covered_share(osm, tmp_path / "sites.geojson", radius_km * 1000)
    assert share == pytest.approx(summary["covered_share"], abs=1e-9)
    assert 0 < summary["covered_share"] <= 1
    assert summary["p95_distance_m"] >= summary["mean_distance_m"] * 0.5
    html = (tmp_path / "map.html").read_text()
    assert "OpenStreetMap" in html


@pytest.mark.slow
def test_plan_columbus(shared_data: Path, tmp_path: Path) -> None:
    osm = shared_data / "osm" / "us_columbus_oh.osm.pbf"
    summary = _plan(osm, tmp_path, 25, 3.0)
    features = json.loads((tmp_path / "sites.geojson").read_text())["features"]
    assert len(features) == summary["saturation"]["sites_placed"] <= 25
    assert (_near_road_m(osm, tmp_path / "sites.geojson") <= 100.0).all()
    share = _independent_covered_share(osm, tmp_path / "sites.geojson", 3000.0)
    assert share == pytest.approx(summary["covered_share"], abs=1e-9)
    assert summary["optimizer"]["bound"] >= summary["optimizer"]["objective"] - 1e-6


def test_existing_stations_count_as_open(shared_data: Path, tmp_path: Path) -> None:
    """Stations given with --existing are open sites; only the gap is planned."""
    osm = shared_data / "osm" / "us_west_oakland.osm.bz2"
    net = load_network(osm)
    i = int(np.argmin(net.x_m))
    stations = tmp_path / "existing.geojson"
    stations.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {
                            "type": "Point",
                            "coordinates": [float(net.lon[i]), float(net.lat[i])],
                        },
                        "properties": {"name": "Depot <b>", "dc_ports": 2, "ac_ports": 4},
                    }
                ],
            }
        )
    )
    # no spacing or share minimum: on 84 nodes a 300 m spacing would drop a site (issue 18)
    scenario = tmp_path / "keep.toml"
    scenario.write_text("min_site_spacing_m = 0.0\nmin_site_share_of_even = 0.0\n")
    summary = _plan(
        osm, tmp_path / "o", 2, 0.3, "--existing", str(stations), "--scenario", str(scenario)
    )
    feats = json.loads((tmp_path / "o" / "sites.geojson").read_text())["features"]
    existing = [f for f in feats if f["properties"]["existing"]]
    assert len(existing) == 1 and existing[0]["properties"]["dc_ports"] == 2
    assert summary["existing_sites"] == 1 and summary["sites"] == 2


def test_coverage_scenario_values_are_used_unless_a_flag_is_given(
    shared_data: Path, tmp_path: Path
) -> None:
    osm = shared_data / "osm" / "us_west_oakland.osm.bz2"
    scenario = tmp_path / "cov.toml"
    scenario.write_text('sites = 2\nradius_km = 0.4\nmodel = "pmedian"\n', encoding="utf-8")
    from_file = _run_plan(osm, tmp_path / "a", "--scenario", str(scenario))
    assert (from_file["params"]["sites"], from_file["params"]["radius_km"]) == (2, 0.4)
    assert from_file["params"]["model"] == "pmedian" and from_file["sites"] == 2
    flagged = _run_plan(osm, tmp_path / "b", "--scenario", str(scenario), "--sites", "3")
    assert (flagged["params"]["sites"], flagged["params"]["radius_km"]) == (3, 0.4)
    bad = tmp_path / "bad.toml"
    bad.write_text("sites = -1\n", encoding="utf-8")
    assert (
        main(
            ["plan", "--osm", str(osm), "--scenario", str(bad), "--out", str(tmp_path / "c"), "-q"]
        )
        == 2
    )


def _run_plan(osm: Path, out: Path, *extra: str) -> dict:
    assert main(["plan", "--osm", str(osm), "--out", str(out), "-q", *extra]) == 0
    return json.loads((out / "summary.json").read_text())
