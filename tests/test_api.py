"""The Python API: plans as GeoDataFrames, maps, vector files, tables in, errors by name.

Results are checked against what the strategies computed (``Plan.core``) or against files read
back with geopandas/pyogrio/pyarrow, and the national plan against the CLI's own output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from branca.element import Figure
from pyproj import Transformer
from scipy.spatial import cKDTree

import planner
from planner.app.cli import main
from planner.core.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures"
FORMATS = ("gpkg", "fgb", "parquet")


@pytest.fixture(scope="module")
def bangor(shared_data: Path) -> planner.Plan:
    """A coverage plan of Bangor, Maine (work budgets only: no clock)."""
    osm = shared_data / "osm" / "us_bangor_me.osm.pbf"
    return planner.plan_city(osm, sites=8, radius_km=3, seed=0)


@pytest.fixture(scope="module")
def grid() -> planner.RoadNetwork:
    return planner.load_network(FIXTURES / "grid.osm")


def _read(path: Path, layer: str = "sites") -> gpd.GeoDataFrame:
    if path.suffix == ".parquet":
        return gpd.read_parquet(path)
    return gpd.read_file(path, layer=layer)


def _by_id(frame: gpd.GeoDataFrame, key: str) -> gpd.GeoDataFrame:
    """Rows in key order (FlatGeobuf stores features in its spatial index's order)."""
    return frame.sort_values(key).reset_index(drop=True)


def test_plan_city_gives_geodataframes_and_a_folium_map(bangor: planner.Plan) -> None:
    core = bangor.core.sites
    sites = bangor.sites
    assert isinstance(sites, gpd.GeoDataFrame) and sites.crs.to_epsg() == 4326
    assert len(sites) == len(core) == 8 and bangor.summary["site_count"] == 8
    # the points are the strategy's own lon/lat, to 6 decimals
    assert np.allclose(sites.geometry.x, core["lon"], atol=5e-7)
    assert np.allclose(sites.geometry.y, core["lat"], atol=5e-7)
    assert sites["site_id"].tolist() == core["site_id"].tolist()
    assert not {"node_idx", "x_m", "y_m"} & set(sites.columns)
    corridors = bangor.corridors
    assert corridors.crs.to_epsg() == 4326 and set(corridors["corridor"]) >= {"I-95", "I-395"}
    assert (corridors.geom_type == "LineString").all()
    m = bangor.explore(tiles="OpenTopoMap", height=500)
    assert isinstance(m, folium.Map)
    page = m.get_root().render()
    assert all(site_id in page for site_id in core["site_id"])
    assert "OpenStreetMap" in page and "GeoNames" in page


def test_summary_is_read_only(bangor: planner.Plan) -> None:
    assert bangor.summary["strategy"] == "coverage"
    assert bangor.summary["params"]["sites"] == 8
    assert bangor.summary["params"]["time_limit_s"] is None  # no clock unless asked for
    with pytest.raises(TypeError):
        bangor.summary["strategy"] = "other"  # type: ignore[index]
    with pytest.raises(TypeError):
        bangor.summary["params"]["sites"] = 9  # type: ignore[index]
    sites = bangor.sites
    sites["ports"] = 0  # a copy: the plan keeps its own
    assert bangor.sites["ports"].sum() == bangor.core.sites["ports"].sum() > 0


def test_formats_round_trip(bangor: planner.Plan, tmp_path: Path) -> None:
    geojson = bangor.to_file(tmp_path / "plan.geojson")
    collection = json.loads(geojson.read_text())
    assert collection["attribution"] == planner.ATTRIBUTION
    expected = _by_id(gpd.read_file(geojson), "site_id")
    assert expected.crs.to_epsg() == 4326 and len(expected) == 8
    for ext in FORMATS:
        path = bangor.to_file(tmp_path / f"plan.{ext}")
        got = _by_id(_read(path), "site_id")
        assert got.crs.to_epsg() == 4326, ext
        assert list(got.columns) == list(expected.columns), ext
        pd.testing.assert_frame_equal(
            pd.DataFrame(got.drop(columns="geometry")),
            pd.DataFrame(expected.drop(columns="geometry")),
            check_dtype=False,  # GDAL reads small GeoJSON integers as int32
        )
        assert got.geometry.geom_equals_exact(expected.geometry, tolerance=0).all(), ext
    # the GeoPackage holds one layer per table, and its corridors match the GeoJSON's
    assert [name for name, _ in pyogrio.list_layers(tmp_path / "plan.gpkg")] == [
        "sites",
        "corridors",
    ]
    lines = bangor.to_file(tmp_path / "corridors.geojson", layer="corridors")
    want = _by_id(gpd.read_file(lines), "corridor")
    got = _by_id(gpd.read_file(tmp_path / "plan.gpkg", layer="corridors"), "corridor")
    assert got["corridor"].tolist() == want["corridor"].tolist()
    assert np.allclose(got["length_mi"], want["length_mi"])
    assert got.geometry.geom_equals_exact(want.geometry, tolerance=0).all()


def test_formats_credit_the_data(bangor: planner.Plan, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    bangor.to_file(tmp_path / "plan.gpkg")
    bangor.to_file(tmp_path / "plan.fgb")
    bangor.to_file(tmp_path / "plan.parquet")
    for name in ("plan.gpkg", "plan.fgb"):
        meta = pyogrio.read_info(tmp_path / name, layer="sites")["layer_metadata"]
        assert meta["DESCRIPTION"] == planner.ATTRIBUTION, name
    schema = pq.read_schema(tmp_path / "plan.parquet")
    assert schema.metadata[b"attribution"].decode() == planner.ATTRIBUTION
    assert b"geo" in schema.metadata  # GeoParquet
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.fgb", "plan.gpkg", "plan.parquet"]


def test_write_plan_in_several_formats(bangor: planner.Plan, tmp_path: Path) -> None:
    from planner.app.export import write_plan

    written = write_plan(bangor.core, tmp_path, formats=("geojson", "gpkg", "parquet"))
    names = {
        "sites.geojson",
        "corridors.geojson",
        "plan.gpkg",
        "sites.parquet",
        "corridors.parquet",
        "summary.json",
    }  # a city coverage plan has no per-region table
    assert set(written) == names == {p.name for p in tmp_path.iterdir()}
    expected = _by_id(gpd.read_file(tmp_path / "sites.geojson"), "site_id")
    for got in (
        gpd.read_file(tmp_path / "plan.gpkg", layer="sites"),
        gpd.read_parquet(tmp_path / "sites.parquet"),
    ):
        got = _by_id(got, "site_id")
        assert got["site_id"].tolist() == expected["site_id"].tolist()
        assert got["ports"].tolist() == expected["ports"].tolist()
        assert got.geometry.geom_equals_exact(expected.geometry, tolerance=0).all()
    lines = gpd.read_parquet(tmp_path / "corridors.parquet")
    assert sorted(lines["corridor"]) == sorted(bangor.corridors["corridor"])
    with pytest.raises(InputError, match="formats: expected one or more of geojson, gpkg, parquet"):
        write_plan(bangor.core, tmp_path, formats=("shp",))


def test_to_file_bad_input(bangor: planner.Plan, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"path: cannot tell a vector format .*\.xyz"):
        bangor.to_file(tmp_path / "plan.xyz")
    with pytest.raises(InputError, match="driver: expected a vector format"):
        bangor.to_file(tmp_path / "plan.dat", driver="NotADriver")
    with pytest.raises(InputError, match="layers: a FlatGeobuf file holds one table"):
        bangor.to_file(tmp_path / "plan.fgb", layer=["sites", "corridors"])
    with pytest.raises(InputError, match="layers: expected distinct names"):
        bangor.to_file(tmp_path / "plan.gpkg", layer="stations")
    with pytest.raises(InputError, match=r"create .* first"):
        bangor.to_file(tmp_path / "missing" / "plan.gpkg")
    assert list(tmp_path.iterdir()) == []


def test_unknown_keyword_is_a_type_error(grid: planner.RoadNetwork) -> None:
    with pytest.raises(TypeError, match=r"plan_city\(\).*'sitez'.*its parameters are .*sites"):
        planner.plan_city(grid, sitez=3)
    with pytest.raises(TypeError, match=r"'sites' for strategy 'us-nevi'"):
        planner.plan_city(grid, strategy="us-nevi", sites=3)
    with pytest.raises(TypeError, match=r"plan_national\(\).*'spacing_km'.*spacing_mi"):
        planner.plan_national("us", spacing_km=80)
    with pytest.raises(InputError, match="sites") as bad:
        planner.plan_city(grid, sites="ten")
    assert "\n" not in str(bad.value)
    with pytest.raises(InputError, match="seed: expected a whole number 0 to 4294967295"):
        planner.plan_city(grid, seed=-1)
    with pytest.raises(InputError, match=r"existing: file nowhere\.csv does not exist"):
        planner.plan_city(grid, existing="nowhere.csv")
    with pytest.raises(InputError, match="country: expected one of us, cn, got 'fr'"):
        planner.plan_national("fr")
    with pytest.raises(InputError, match="strategy: unknown strategy 'nevi'"):
        planner.plan_national("us", strategy="nevi")


def _within(
    lon: np.ndarray, lat: np.ndarray, net: planner.RoadNetwork, limit_m: float
) -> np.ndarray:
    """Which points lie within ``limit_m`` of a network node (computed here, not by planner)."""
    x, y = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(lon, lat)
    dist, _ = cKDTree(np.column_stack([net.x_m, net.y_m])).query(np.column_stack([x, y]))
    return np.asarray(dist) <= limit_m


def test_geodataframes_in(grid: planner.RoadNetwork) -> None:
    """``existing=`` and ``demand=`` as GeoDataFrames (another CRS, another weight column) plan
    the same as the files they came from."""
    afdc = pd.read_csv(FIXTURES / "afdc_sample.csv", encoding="utf-8-sig")
    stations = gpd.GeoDataFrame(
        afdc, geometry=gpd.points_from_xy(afdc["Longitude"], afdc["Latitude"]), crs=4326
    ).to_crs(3857)
    points = gpd.read_file(FIXTURES / "user_demand.geojson")
    weighted = points.rename(columns={"demand": "weight"}).to_crs(3857)
    from_files = planner.plan_city(
        grid,
        sites=3,
        radius_km=0.5,
        existing=FIXTURES / "afdc_sample.csv",
        demand=FIXTURES / "user_demand.geojson",
    )
    from_frames = planner.plan_city(
        grid, sites=3, radius_km=0.5, existing=stations, demand=weighted, demand_column="weight"
    )
    pd.testing.assert_frame_equal(from_frames.sites, from_files.sites)
    # open electric stations within 500 m of the network are the plan's existing sites
    open_ev = afdc[(afdc["Fuel Type Code"] == "ELEC") & afdc["Status Code"].isin(["E", "T"])]
    near = _within(open_ev["Longitude"].to_numpy(), open_ev["Latitude"].to_numpy(), grid, 500)
    existing = from_frames.sites[from_frames.sites["existing"]]
    assert len(existing) == int(near.sum()) >= 1
    dc = pd.to_numeric(open_ev["EV DC Fast Count"], errors="coerce").fillna(0)
    assert existing["dc_ports"].sum() >= dc[near].sum()
    # user demand: the weights of the points within 2 km of the network (user_snap_m)
    lon, lat = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    kept = points["demand"].to_numpy()[_within(lon, lat, grid, 2000)]
    assert from_frames.ground.demand.components["user"].sum() == pytest.approx(kept.sum())
    assert from_frames.summary["inputs"]["demand"] == "GeoDataFrame of 4 rows"


def test_geodataframe_input_errors(grid: planner.RoadNetwork) -> None:
    lines = gpd.GeoDataFrame(
        {"dc_ports": [1]}, geometry=gpd.GeoSeries.from_wkt(["LINESTRING (0 0, 1 1)"]), crs=4326
    )
    with pytest.raises(InputError, match=r"existing: .* non-point geometries"):
        planner.plan_city(grid, existing=lines)
    points = gpd.GeoDataFrame({"w": [1.0]}, geometry=gpd.points_from_xy([-83.0], [39.95]), crs=4326)
    with pytest.raises(InputError, match=r"demand: .* no weight column 'demand'.*demand_column"):
        planner.plan_city(grid, demand=points)
    with pytest.raises(InputError, match="existing: expected a GeoDataFrame"):
        planner.plan_city(grid, existing=[1, 2])  # type: ignore[arg-type]


def test_compare_strategies_and_plans(grid: planner.RoadNetwork) -> None:
    result = planner.compare(["coverage", "grid-baseline"], network=grid, seed=1)
    assert [p.strategy for p in result.plans] == ["coverage", "grid-baseline"]
    metrics = result.metrics.set_index("strategy")
    for plan in result.plans:
        assert metrics.loc[plan.strategy, "ports"] == plan.sites["ports"].sum()
        assert metrics.loc[plan.strategy, "sites"] == len(plan.sites)
    page = result.explore(title="grid")
    assert isinstance(page, Figure)
    maps = [c for c in page._children.values() if isinstance(c, folium.Map)]
    assert len(maps) == 2
    again = planner.compare(list(result.plans))
    pd.testing.assert_frame_equal(again.metrics, result.metrics)
    assert result["grid-baseline"] is result.plans[1]
    with pytest.raises(InputError, match=r"exactly one of country= .* or network="):
        planner.compare(["coverage", "grid-baseline"])
    with pytest.raises(InputError, match="two or more Plans or strategy names"):
        planner.compare(["coverage"], network=grid)
    with pytest.raises(InputError, match="apply to strategy names only"):
        planner.compare(list(result.plans), same="ports")


@pytest.mark.slow
def test_national_plan_equals_the_cli(tmp_path: Path) -> None:
    # us-nevi: the seed drives its k-means community siting, and no solver has a time limit
    argv = ["national", "--country", "us", "--seed", "3"]
    assert main([*argv, "--out", str(tmp_path / "cli"), "-q"]) == 0
    plan = planner.plan_national("us", seed=3)
    plan.to_file(tmp_path / "api_sites.geojson")
    plan.to_file(tmp_path / "api_corridors.geojson", layer="corridors")
    for name, ours in (("sites", "api_sites"), ("corridors", "api_corridors")):
        cli = json.loads((tmp_path / "cli" / f"{name}.geojson").read_text())
        api = json.loads((tmp_path / f"{ours}.geojson").read_text())
        assert len(api["features"]) == len(cli["features"]) > 0, name
        assert [f["properties"] for f in api["features"]] == [
            f["properties"] for f in cli["features"]
        ], name
        assert [f["geometry"] for f in api["features"]] == [
            f["geometry"] for f in cli["features"]
        ], name
    summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    for key in ("params", "ground"):
        assert json.loads(json.dumps(plan.summary[key], default=dict)) == summary[key], key
    regions = pd.read_csv(tmp_path / "cli" / "regions.csv", keep_default_na=False)
    assert plan.regions["region"].tolist() == regions["region"].tolist()
    assert plan.regions["sites"].tolist() == regions["sites"].tolist()
    assert plan.regions["ports_dc"].tolist() == regions["ports_dc"].tolist()


def test_progress_hook_inputs_and_radius_min(grid: planner.RoadNetwork) -> None:
    """The named steps run inside the hook, in order; ``inputs=`` is what the summary records;
    ``radius_min`` sets the service radius of a coverage plan and the within-radius figures of
    any other strategy."""
    import networkx as nx

    seen: list[str] = []

    @contextmanager
    def hook(name: str) -> Iterator[None]:
        seen.append(name)
        yield

    plan = planner.plan_city(grid, sites=3, radius_min=4, progress=hook, inputs={"by": "test"})
    assert seen == ["loading network", "demand and candidates", "planning (coverage)"]
    assert list(plan.summary["timings_s"]) == seen
    assert dict(plan.summary["inputs"]) == {"by": "test"}
    assert plan.summary["radius_min"] == 4.0 and plan.summary["service_radius"] == "4 min"
    base = planner.plan_city(grid, strategy="grid-baseline", radius_min=0.5)
    assert base.summary["service_radius"] == "0.5 min"
    # recomputed with networkx: demand within 30 s of driving of a grid-baseline site
    graph = nx.DiGraph()
    for u, v, w in grid.edges[["u", "v", "travel_time_s"]].itertuples(index=False):
        if not graph.has_edge(v, u) or graph[v][u]["w"] > w:
            graph.add_edge(int(v), int(u), w=float(w))  # reversed: from demand to site
    sites = set(base.core.sites["node_idx"].astype(int).tolist())
    dist = nx.multi_source_dijkstra_path_length(graph, sites, weight="w")
    demand = base.ground.demand
    within = np.array([dist.get(int(n), np.inf) <= 30.0 for n in demand.node_idx])
    share = float(demand.demand[within].sum() / demand.demand.sum())
    assert 0 < share < 1
    assert base.summary["within_radius_covered_share"] == pytest.approx(share, abs=1e-9)
    seen.clear()
    planner.compare(["coverage", "grid-baseline"], network=grid, progress=hook)
    assert seen == ["city ground", "planning (coverage, grid-baseline)"]


def test_compare_checks_before_the_ground(tmp_path: Path) -> None:
    """Scenario keys and ``same="capex"`` are refused before the (missing) network is read."""
    missing = tmp_path / "missing.osm"
    with pytest.raises(InputError, match="'us-nevi' is not one of the compared strategies"):
        planner.compare(["coverage", "grid-baseline"], network=missing, scenarios={"us-nevi": {}})
    with pytest.raises(InputError, match="grid-baseline has no cost model"):
        planner.compare(["us-nevi", "grid-baseline"], network=missing, same="capex")
    with pytest.raises(InputError, match=r"unknown key.*'sitez'"):
        planner.compare(
            ["coverage", "grid-baseline"], network=missing, scenarios={"coverage": {"sitez": 1}}
        )


def test_compare_is_the_api_function() -> None:
    """``planner.compare`` is the function; the metrics live in ``planner.app.comparison``."""
    import inspect

    from planner.app import comparison

    assert inspect.isfunction(planner.compare)
    assert planner.compare is planner.app.api.compare
    assert not callable(comparison) and callable(comparison.plan_metrics)
