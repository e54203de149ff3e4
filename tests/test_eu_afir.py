"""The ``eu-afir`` strategy in a three-strategy comparison, checked from the output files only.

``planner compare --strategies us-nevi,china-pile-swap,eu-afir`` runs once per country. The AFIR
rules are recomputed here from the written files and the shipped tables (not through planner's
code): pool gaps along the real route polylines (rebuilt from ``../shared/data/geo`` as in
``test_national_corridors.py``), each pool's power against ``data/policy_facts.csv``, and each
region's public power against 1.3 kW per BEV + 0.8 kW per PHEV from the regions' EV stock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from test_national_corridors import MI, TOL_M, _real_route, _station_chainage, real

from planner.core.errors import InputError
from planner.io._data import data_path

STRATEGIES = ("us-nevi", "china-pile-swap", "eu-afir")
__all__ = ["real"]  # the shared fixture of the real roads, used by name below


@pytest.fixture(scope="module", params=["us", "cn"])
def country(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def out(country: str, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three-strategy comparison written by the CLI (a few minutes on a loaded machine)."""
    from planner.app.cli import main

    folder = tmp_path_factory.mktemp(f"compare3_{country}")
    argv = ["compare", "--country", country, "--strategies", ",".join(STRATEGIES)]
    assert main([*argv, "--out", str(folder), "-q", "--overwrite"]) == 0
    return folder


def _facts() -> dict[str, float]:
    table = pd.read_csv(data_path("policy_facts.csv"), dtype=str, keep_default_na=False)
    return dict(zip(table["key"], table["value"].astype(float), strict=True))


def _sites(out: Path) -> pd.DataFrame:
    feats = json.loads((out / "eu-afir" / "sites.geojson").read_text())["features"]
    frame = pd.DataFrame([f["properties"] for f in feats])
    coords = np.array([f["geometry"]["coordinates"] for f in feats])
    return frame.assign(lon=coords[:, 0], lat=coords[:, 1])


def test_three_synced_panes_and_a_three_column_table(out: Path) -> None:
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["strategy"].tolist() == list(STRATEGIES)
    html = (out / "compare.html").read_text()
    maps = _map_ids(html)
    assert len(set(maps)) == 3
    for a in maps:  # every map follows the two others
        for b in maps:
            if a != b:
                assert f"{a}.sync({b});" in html, (a, b)
    header = html.split('class="planner-metrics"', 1)[1].split("</thead>", 1)[0]
    assert [h.split("</th>")[0] for h in header.split("<th>")[2:]] == list(STRATEGIES)
    for name in STRATEGIES:
        assert (out / name / "sites.geojson").is_file()


def _map_ids(html: str) -> list[str]:
    """The variable names of the Leaflet maps the page creates."""
    return [chunk.rsplit("var ", 1)[1].strip() for chunk in html.split("= L.map(")[:-1]]


def test_pools_meet_the_60_km_rule_along_the_real_roads(
    out: Path, country: str, real: dict
) -> None:
    """On every modelled corridor, consecutive pools <= 60 km apart and route ends (in the
    country) <= 30 km along the real polyline, without exception; a pool on a point added
    between two waypoints stands on the polyline, off the exits."""
    summary = json.loads((out / "eu-afir" / "summary.json").read_text())
    spacing = _facts()["afir_core_spacing_km"] * 1000.0
    assert summary["params"]["spacing_km"] * 1000.0 == spacing
    end = summary["params"]["end_gap_km"] * 1000.0
    assert end <= spacing / 2
    sites = _sites(out)
    pools = sites[sites["kind"] == "afir_pool"].reset_index(drop=True)
    x, y = real["to_xy"].transform(pools["lon"].to_numpy(), pools["lat"].to_numpy())
    points = shapely.points(x, y)
    listed = pools["corridor"].astype(str).str.split(";")
    added = pools["added_point"].astype(bool).to_numpy()
    assert summary["pool_locations_at_added_points"] == added.sum()
    assert not pools.loc[added, "at_exit"].astype(bool).any()
    corridors = json.loads((out / "eu-afir" / "corridors.geojson").read_text())["features"]
    assert len(corridors) >= 59
    gaps = []
    for feature in corridors:
        rid = feature["properties"]["corridor"]
        route, _ = _real_route(real, rid)
        on = listed.apply(lambda ids, r=rid: r in ids).to_numpy()
        assert on.any(), rid
        assert route.distance(points[on]).max() <= MI, rid
        if (on & added).any():  # on the real road, between two of its waypoints
            assert route.distance(points[on & added]).max() <= 1.0, rid
        chain = _station_chainage(route, points[on])
        lo, hi = route.inside_extent(real["polygon"])
        gaps.append((rid, float(np.diff(chain).max(initial=0.0)), chain[0] - lo, hi - chain[-1]))
    over = [g for g in gaps if g[1] > spacing + TOL_M or max(g[2], g[3]) > end + TOL_M]
    assert not over, over


def test_every_pool_meets_the_power_rule(out: Path) -> None:
    facts = _facts()
    year = json.loads((out / "eu-afir" / "summary.json").read_text())["params"]["target_year"]
    pool_kw, fast = facts[f"afir_pool_kw_{year}"], facts[f"afir_pool_points_150kw_{year}"]
    pools = _sites(out).query("kind == 'afir_pool'")
    assert len(pools) > 500
    per_pool = pools["dc_ports"] / pools["pools"]
    assert (per_pool == pools["points_per_pool"]).all()
    assert (pools["pools"] == 2 * pools["corridor"].str.count(";").add(1)).all()  # 2 directions
    assert (pools["power_kw"] >= 150.0).all()
    assert (per_pool >= fast).all()  # points of >= 150 kW in each pool
    assert (per_pool * pools["power_kw"] >= pool_kw).all()
    assert (pools["ac_ports"] == 0).all()


def _required_kw(out: Path, country: str) -> pd.Series:
    """1.3 kW per BEV + 0.8 kW per PHEV per region, from the shipped EV stock and facts."""
    facts = _facts()
    regions = pd.read_csv(out / "eu-afir" / "regions.csv", keep_default_na=False)
    stock = regions.set_index("region")["ev_stock"].astype(float)
    if country == "us":  # battery-electric only (AFDC 2023); PHEVs by the national ratio
        shipped = pd.read_csv(data_path("us_states.csv"), keep_default_na=False)
        assert stock.to_dict() == shipped.set_index("region")["ev_stock"].astype(float).to_dict()
        assert facts["us_phev_per_bev"] == pytest.approx(1_520_800 / 4_503_700, abs=1e-6)
        bev, phev = stock, stock * facts["us_phev_per_bev"]
    else:  # all NEVs, brought to the national total; BEVs by the national share
        assert stock.sum() == pytest.approx(facts["cn_nev_stock"], abs=len(stock))
        # 68.74 % as published; 30.22 M / 43.97 M agrees within the rounding of the millions
        assert facts["cn_bev_share_of_nev"] == pytest.approx(30.22 / 43.97, abs=3e-4)
        bev = stock * facts["cn_bev_share_of_nev"]
        phev = stock - bev
    return facts["afir_kw_per_bev"] * bev + facts["afir_kw_per_phev"] * phev


def test_every_region_has_the_fleet_based_power(out: Path, country: str) -> None:
    required = _required_kw(out, country)
    assert len(required) == (51 if country == "us" else 31)
    sites = _sites(out)
    power = (sites["dc_ports"] + sites["ac_ports"]) * sites["power_kw"]
    planned = power.groupby(sites["state"]).sum().reindex(required.index).fillna(0.0)
    assert (planned >= required - 1e-6).all(), (planned - required)[planned < required]
    assert planned.sum() <= required.sum() * 1.1  # the rule, not far beyond it


def test_sites_are_distinct_points_under_the_cap(out: Path) -> None:
    sites = _sites(out)
    keys = sites["lon"].round(6).astype(str) + "," + sites["lat"].round(6).astype(str)
    assert not keys.duplicated().any()
    summary = json.loads((out / "eu-afir" / "summary.json").read_text())
    assert sites["ports"].max() <= summary["site_places"]["max_ports_per_site"]
    assert (sites["state"] != "").all()


def test_the_2027_rule_doubles_the_fast_points(shared_data: Path) -> None:
    import planner

    facts = _facts()
    plan = planner.plan_national("cn", strategy="eu-afir", target_year=2027)
    pools = plan.sites[plan.sites["kind"] == "afir_pool"]
    per_pool = pools["dc_ports"] / pools["pools"]
    assert (per_pool >= facts["afir_pool_points_150kw_2027"]).all()
    assert (per_pool * pools["power_kw"] >= facts["afir_pool_kw_2027"]).all()
    assert (per_pool * pools["power_kw"] > facts["afir_pool_kw_2025"]).all()


@pytest.mark.parametrize(
    ("key", "value", "names"),
    [
        ("target_year", 2026, "target_year"),
        ("fast_point_kw", 100.0, "fast_point_kw"),
        ("community_points_per_site", 0, "community_points_per_site"),
        ("spacing_km", -1.0, "spacing_km"),
    ],
)
def test_bad_parameters_are_one_line_errors(key: str, value: object, names: str) -> None:
    from planner.io.scenario import params_from_mapping
    from planner.strategies.eu_afir import EuAfirParams

    with pytest.raises(InputError) as err:
        params_from_mapping(EuAfirParams, {key: value})
    assert names in str(err.value) and "\n" not in str(err.value)


def test_defaults_are_the_facts_table() -> None:
    from planner.strategies.eu_afir import EuAfirParams

    facts, p = _facts(), EuAfirParams()
    assert p.spacing_km == facts["afir_core_spacing_km"]
    assert p.kw_per_bev == facts["afir_kw_per_bev"]
    assert p.kw_per_phev == facts["afir_kw_per_phev"]
    assert p.fast_point_kw == facts["afir_fast_point_kw"]
    assert p.normal_point_kw == facts["afir_normal_point_kw"]
    assert p.community_points_per_site == facts["afir_community_points_per_site"]
    assert p.us_phev_per_bev == facts["us_phev_per_bev"]
    assert p.cn_bev_share_of_nev == facts["cn_bev_share_of_nev"]
    assert p.fast_point_capex_usd == facts["us_dc_port_capex_usd"]
    assert p.normal_point_capex_usd == facts["us_l2_port_capex_usd"]


def test_a_city_ground_gets_its_population_share_of_the_fleet_rule(shared_data: Path) -> None:
    """Bangor, Maine: the area's BEVs are Maine's AFDC count times the area's population share;
    the plan's public power covers 1.3 kW per BEV + 0.8 kW per PHEV, and every motorway piece
    keeps the pool rule."""
    import planner

    facts = _facts()
    plan = planner.plan_city(shared_data / "osm" / "us_bangor_me.osm.pbf", strategy="eu-afir")
    states = pd.read_csv(data_path("us_states.csv")).set_index("region")
    share = plan.ground.meta["population"] / states.at["ME", "population"]
    bev = states.at["ME", "ev_stock"] * share
    required = facts["afir_kw_per_bev"] * bev + facts["afir_kw_per_phev"] * bev * (
        1_520_800 / 4_503_700
    )
    sites = plan.core.sites
    power = ((sites["dc_ports"] + sites["ac_ports"]) * sites["power_kw"]).sum()
    assert 0 < share < 1
    assert power >= required * (1 - 1e-5)
    assert plan.core.corridors["compliant"].all()
    assert (plan.core.corridors["max_gap_km"] <= facts["afir_core_spacing_km"]).all()


def _toy_ground() -> Any:
    """A city-scale ground in EPSG:5070 (western Utah): road A west-east through nodes at 0, 10,
    80.5 and 100 km, road B back over A's 70.5 km segment without a node (80.5 -> 10 km) and
    then 40 km north. Every road node may hold a pool."""
    import scipy.sparse as sp
    from pyproj import Transformer

    from planner.ground.candidates import Candidates
    from planner.ground.demand import DemandPoints
    from planner.ground.model import REGION_COLUMNS, Corridor, Ground

    x0, y0 = -1_450_000.0, 2_000_000.0
    x = x0 + np.array([0.0, 10_000.0, 80_500.0, 100_000.0, 10_000.0])
    y = y0 + np.array([0.0, 0.0, 0.0, 0.0, 40_000.0])
    lon, lat = Transformer.from_crs("EPSG:5070", "EPSG:4326", always_xy=True).transform(x, y)
    u, v = np.array([0, 1, 2, 1]), np.array([1, 2, 3, 4])
    step = np.hypot(x[v] - x[u], y[v] - y[u])
    length = sp.csr_array((np.r_[step, step], (np.r_[u, v], np.r_[v, u])), shape=(5, 5))
    pick = np.array([0, 3, 4])
    empty = np.zeros(0)
    return Ground(
        name="toy",
        scale="city",
        country="us",
        crs="EPSG:5070",
        node_x_m=x,
        node_y_m=y,
        node_lon=np.asarray(lon),
        node_lat=np.asarray(lat),
        length_m=length,
        demand=DemandPoints(
            pick,
            x[pick],
            y[pick],
            np.asarray(lon)[pick],
            np.asarray(lat)[pick],
            np.ones(3),
            np.array(["UT"] * 3, dtype=object),
        ),
        candidates=Candidates(empty.astype(np.int64), empty, empty, empty.astype(object)),
        corridors=(
            Corridor("A", np.arange(4), np.r_[0.0, np.cumsum(step[:3])], np.full(3, 1e4)),
            Corridor("B", np.array([2, 1, 4]), np.r_[0.0, 70_500.0, 110_500.0], np.full(2, 1e4)),
        ),
        regions=pd.DataFrame(columns=list(REGION_COLUMNS)),
    )


def test_points_are_added_on_the_road_where_no_node_can_keep_60_km() -> None:
    """A 70.5 km segment without a node: points are added on it (both roads over it pass them),
    the pools then keep 60 km and 30 km from the ends, measured here along the straight roads;
    the network's distances are unchanged."""
    from scipy.sparse.csgraph import dijkstra

    from planner.strategies.eu_afir import EuAfirParams, corridor_pools

    toy = _toy_ground()
    ground, pools, table = corridor_pools(toy, EuAfirParams())
    new = np.arange(5, ground.node_x_m.size)
    assert new.size == ground.meta["stretch_points"]["added"] == 70  # 71 pieces of <= 1 km
    assert np.allclose(ground.node_y_m[new], toy.node_y_m[0])  # on road A, between 10 and 80.5
    assert np.all(np.diff(np.r_[10_000.0, ground.node_x_m[new] - toy.node_x_m[0], 80_500.0]) > 0)
    assert np.diff(np.r_[10_000.0, ground.node_x_m[new] - toy.node_x_m[0], 80_500.0]).max() <= 1e3
    a, b = ground.corridors
    assert a.node_idx.tolist() == [0, 1, *new.tolist(), 2, 3]
    assert b.node_idx.tolist() == [2, *new[::-1].tolist(), 1, 4]
    assert np.allclose(dijkstra(ground.length_m, indices=0), np.r_[
        dijkstra(toy.length_m, indices=0), np.abs(ground.node_x_m[new] - toy.node_x_m[0])
    ])  # fmt: skip
    x = pools["x_m"].to_numpy() - toy.node_x_m[0]
    on_a = np.sort(x[pools["corridor"].str.split(";").map(lambda ids: "A" in ids).to_numpy()])
    assert np.diff(on_a).max() <= 60_000.0 + 1e-6 and on_a[0] <= 30_000.0 + 1e-6
    assert 100_000.0 - on_a[-1] <= 30_000.0 + 1e-6
    assert pools["added_point"].any() and not pools.loc[pools["added_point"], "at_exit"].any()
    assert table["compliant"].all() and (table["max_gap_km"] <= 60.0).all()
