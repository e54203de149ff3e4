"""National corridor networks on Travel Mapping waypoints: tables, geometry, lengths, junctions."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from planner.core.errors import InputError
from planner.ground.corridors import (
    ATTRIBUTION,
    CRS,
    CorridorNetwork,
    component_report,
    load_corridor_network,
    read_route_table,
    read_waypoints,
    route_length_report,
)
from planner.io._data import data_path

GEOD = Geod(ellps="WGS84")
STEM = {"us": "us_interstates", "cn": "cn_national_expressways"}


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


# ---- the derived table -------------------------------------------------------------------------


def test_derived_waypoints_match_the_shared_tables(shared_data: Path) -> None:
    """Every shipped waypoint is a shared one (same root/seq, coordinates to 1e-5 degrees)."""
    shipped = pd.read_csv(data_path("highway_waypoints.csv.gz"), keep_default_na=False)
    for code in ("us", "cn"):
        ours = shipped[shipped["country"] == code]
        theirs = pd.read_csv(shared_data / "geo" / "highways" / f"{STEM[code]}_waypoints.csv")
        merged = ours.merge(theirs, on=["root", "seq"], suffixes=("", "_src"), validate="1:1")
        assert len(merged) == len(ours) > 10_000
        assert (merged["route"] == merged["route_src"]).all()
        assert (merged["hidden"] == merged["hidden_src"]).all()
        assert np.abs(merged["lon"] - merged["lon_src"]).max() <= 5.1e-6
        assert np.abs(merged["lat"] - merged["lat_src"]).max() <= 5.1e-6
    us_regions = set(shipped.loc[shipped["country"] == "us", "region"])
    assert "PR" not in us_regions and {"AK", "HI", "DC"} <= us_regions
    assert not ({"HK", "MO", "TW"} & set(shipped.loc[shipped["country"] == "cn", "region"]))


def test_modelled_routes_are_the_primary_ones(us: CorridorNetwork, cn: CorridorNetwork) -> None:
    us_numbers = {r.route_id.split(" ")[0] for r in us.routes}
    cn_numbers = {r.route_id.split(" ")[0] for r in cn.routes}
    assert {"I-5", "I-10", "I-35E", "I-95", "I-H1", "I-A1"} <= us_numbers
    assert all(re.fullmatch(r"I-(\d{1,2}[CEW]?|A\d|H\d+)", n) for n in us_numbers)
    assert not any(n.startswith("I-PR") for n in us_numbers)
    assert {f"G{i}" for i in range(1, 8)} <= cn_numbers
    assert all(len(n) <= 3 for n in cn_numbers)  # G1 .. G98


def test_every_official_piece_is_modelled(net: CorridorNetwork) -> None:
    ids = {r.route_id for r in net.routes}
    for row in read_route_table(net.country).itertuples():
        assert row.pieces and set(row.pieces) <= ids, row.route_id


# ---- lengths -----------------------------------------------------------------------------------


def test_lengths_within_3_percent_unless_a_reason_is_given(net: CorridorNetwork) -> None:
    report = route_length_report(net)
    held = report[report["excluded"] == ""]
    assert len(held) >= (55 if net.country == "us" else 10)
    assert held["within_3pct"].all(), held.loc[~held["within_3pct"], ["route_id", "ratio"]]
    assert held["ratio"].between(0.97, 1.03).all()
    # the exclusions are the misfits; US: the routes whose sourced length covers another road than
    # the waypoints (I-27, I-69, I-73), one without a surveyed length (I-42) and three winding roads
    out = report[report["excluded"] != ""]
    if net.country == "us":
        assert set(out["route_id"]) == {
            "I-27", "I-42", "I-68", "I-69", "I-73", "I-79", "I-97",
        }  # fmt: skip


def test_route_length_is_the_geodesic_polyline(us: CorridorNetwork, shared_data: Path) -> None:
    """I-70: its length is the sum of geodesic steps between its shared waypoints, in order."""
    wps = pd.read_csv(shared_data / "geo" / "highways" / "us_interstates_waypoints.csv")
    routes = pd.read_csv(shared_data / "geo" / "highways" / "us_interstates_routes.csv")
    roots = routes.loc[routes["route"] == "I-70", "roots"].iloc[0].split(",")
    chain = pd.concat([wps[wps["root"] == r].sort_values("seq") for r in roots])
    lon, lat = chain["lon"].to_numpy(), chain["lat"].to_numpy()
    step = GEOD.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])[2]
    assert us.route("I-70").length_km == pytest.approx(float(np.sum(step)) / 1000.0, rel=1e-4)


# ---- graph -------------------------------------------------------------------------------------


def test_graph_shape_and_crs(net: CorridorNetwork) -> None:
    n = net.n_nodes
    assert net.crs == CRS[net.country]
    for arr in (net.node_name, net.node_lon, net.node_lat, net.node_x_m, net.node_y_m):
        assert arr.shape == (n,)
    assert net.exits().shape == (n,)
    assert net.length_m.shape == (n, n)
    assert abs(net.length_m - net.length_m.T).max() == 0
    assert net.length_m.data.min() > 0
    assert net.attribution == ATTRIBUTION


def test_consecutive_nodes_are_adjacent(net: CorridorNetwork) -> None:
    csr = net.length_m.tocsr()
    for r in net.routes:
        edge = np.asarray(csr[r.node_idx[:-1], r.node_idx[1:]]).ravel()
        assert (edge > 0).all(), r.route_id
        np.testing.assert_allclose(np.diff(r.chainage_m), edge, rtol=1e-9)
        assert r.chainage_m[0] == 0.0 and (np.diff(r.chainage_m) > 0).all()


def test_exits_are_interchanges_inside_the_country(net: CorridorNetwork) -> None:
    table = read_waypoints(net.country)
    good = table[(table["hidden"] == 0) & (table["in_country"] == 1)]
    keys = set(zip(good["lon"].round(5), good["lat"].round(5), strict=True))
    lon, lat = net.node_lon[net.exits()], net.node_lat[net.exits()]
    assert all(k in keys for k in zip(lon.round(5), lat.round(5), strict=True))
    assert 0.3 < net.exits().mean() < 0.9


def test_routes_meet_at_shared_junction_nodes(us: CorridorNetwork, cn: CorridorNetwork) -> None:
    i70 = set(us.route("I-70").node_idx.tolist())
    for other in ("I-25", "I-35 (N. Texas - S. Minnesota)", "I-75", "I-76 (Ohio - New Jersey)"):
        assert i70 & set(us.route(other).node_idx.tolist()), other
    g4 = set(cn.route("G4").node_idx.tolist())
    assert g4 & set(cn.route("G42").node_idx.tolist())
    assert g4 & set(cn.route("G70").node_idx.tolist())


def test_networks_are_nearly_connected(net: CorridorNetwork) -> None:
    report = component_report(net)
    assert report["nodes"].iloc[0] > (0.95 if net.country == "us" else 0.97) * net.n_nodes
    if net.country == "us":  # Alaska and Hawaii are islands of their own
        assert any("I-A1" in r for r in report["routes"])
        assert any("I-H1" in r for r in report["routes"])


def test_unknown_country_raises_input_error() -> None:
    for bad in ("xx", "", None, 3):
        with pytest.raises(InputError, match="country: expected one of 'us', 'cn'"):
            load_corridor_network(bad)  # type: ignore[arg-type]


def test_unknown_route_id_raises(us: CorridorNetwork) -> None:
    with pytest.raises(InputError, match="route_id"):
        us.route("I-1000")
