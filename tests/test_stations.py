"""Tests of planner.ground.stations: AFDC/Shenzhen/GeoJSON readers, GCJ-02, snapping."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from planner.core.errors import DataError, InputError
from planner.ground.network import RoadNetwork, load_network
from planner.ground.stations import (
    STATION_COLUMNS,
    gcj02_to_wgs84,
    read_stations,
    snap_stations,
    wgs84_to_gcj02,
)

FIXTURES = Path(__file__).parent / "fixtures"
GEOD = Geod(ellps="WGS84")

# wgs lat, wgs lon, gcj lat, gcj lon: the test table of the eviltransform library (BSD)
KNOWN = np.array(
    [
        (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
        (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
        (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
    ]
)


@pytest.fixture(scope="module")
def grid() -> RoadNetwork:
    return load_network(FIXTURES / "grid.osm")


def test_gcj02_known_answers() -> None:
    lon, lat = wgs84_to_gcj02(KNOWN[:, 1], KNOWN[:, 0])
    assert np.allclose(lon, KNOWN[:, 3], atol=1e-9) and np.allclose(lat, KNOWN[:, 2], atol=1e-9)
    back_lon, back_lat = gcj02_to_wgs84(KNOWN[:, 3], KNOWN[:, 2])
    _, _, err_m = GEOD.inv(back_lon, back_lat, KNOWN[:, 1], KNOWN[:, 0])
    assert np.max(err_m) < 0.01


def test_gcj02_round_trip_across_china() -> None:
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(74.0, 134.0, 5000), rng.uniform(18.0, 53.0, 5000)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    _, _, offset_m = GEOD.inv(lon, lat, g_lon, g_lat)
    assert 1.0 < np.median(offset_m) < 1500.0  # GCJ-02 shifts by tens to hundreds of metres
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    _, _, err_m = GEOD.inv(lon, lat, w_lon, w_lat)
    assert np.max(err_m) < 1.0


def test_gcj02_is_identity_outside_china() -> None:
    lon, lat = np.array([-83.0, 2.35, 139.7]), np.array([39.95, 48.85, 35.7])
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lon, out_lat = fn(lon, lat)
        assert np.array_equal(out_lon, lon) and np.array_equal(out_lat, lat)


def test_read_afdc_sample() -> None:
    frame = read_stations(FIXTURES / "afdc_sample.csv")
    assert list(frame.columns) == list(STATION_COLUMNS)
    # the LPG station and the planned (status P) station are left out
    assert frame["name"].tolist() == ["Grid Garage", "Main St Fast", "Far Away"]
    assert frame["dc_ports"].tolist() == [0, 6, 0]
    assert frame["ac_ports"].tolist() == [4, 3, 2]  # level 1 + level 2
    assert set(frame["region"]) == {"OH"}
    assert frame["network"][0] == "ChargePoint Network"


def test_read_shenzhen_sample_converts_gcj02() -> None:
    frame = read_stations(FIXTURES / "shenzhen_sample.csv", region="GD")
    wgs = np.array([(114.0579, 22.5431), (114.1200, 22.6000), (113.9300, 22.5200)])
    _, _, err_m = GEOD.inv(frame["lon"], frame["lat"], wgs[:, 0], wgs[:, 1])
    assert np.max(err_m) < 1.0  # the file holds GCJ-02 rounded to 1e-6 degrees
    assert frame["dc_ports"].tolist() == [5, 20, 0] and frame["ac_ports"].tolist() == [5, 0, 8]
    assert set(frame["region"]) == {"GD"}
    raw = read_stations(FIXTURES / "shenzhen_sample.csv", datum="wgs84")
    _, _, shift_m = GEOD.inv(raw["lon"], raw["lat"], frame["lon"], frame["lat"])
    assert np.all((shift_m > 100) & (shift_m < 1000))


def test_read_generic_csv_and_geojson(tmp_path: Path) -> None:
    csv_path = tmp_path / "stations.csv"
    pd.DataFrame(
        {
            "name": ["A", "B"],
            "lon": [-83.0, -82.99],
            "lat": [39.95, 39.96],
            "dc_ports": [2, 0],
            "ac_ports": [0, 6],
        }
    ).to_csv(csv_path, index=False)
    geo_path = tmp_path / "stations.geojson"
    features = [
        {
            "type": "Feature",
            "properties": {"name": n, "EV DC Fast Count": dc, "EV Level2 EVSE Num": ac},
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
        }
        for n, lon, lat, dc, ac in [("A", -83.0, 39.95, 2, 0), ("B", -82.99, 39.96, 0, 6)]
    ]
    geo_path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    a, b = read_stations(csv_path), read_stations(geo_path)
    cols = ["name", "lon", "lat", "dc_ports", "ac_ports"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_bad_station_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_stations(tmp_path / "none.csv")
    odd = tmp_path / "odd.csv"
    odd.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="neither an AFDC nor a Shenzhen"):
        read_stations(odd)
    negative = tmp_path / "negative.csv"
    negative.write_text("lon,lat,dc_ports,ac_ports\n-83,39.95,-1,0\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 1"):
        read_stations(negative)
    with pytest.raises(InputError, match="datum"):
        read_stations(odd, datum="bd09")  # type: ignore[arg-type]
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(DataError, match="holds no station"):
        read_stations(empty)


def test_snap_stations_to_the_grid(grid: RoadNetwork) -> None:
    frame = read_stations(FIXTURES / "afdc_sample.csv")
    existing = snap_stations(frame, grid, max_dist_m=100.0)
    assert len(existing) == 2  # "Far Away" is 7 km off the grid
    assert existing.name.tolist() == ["Grid Garage", "Main St Fast"]
    # 20 m north of node (2, 2) and 20 m east of node (0, 2)
    assert grid.node_id[existing.node_idx].tolist() == [112, 102]
    assert existing.dc_ports.tolist() == [0, 6] and existing.ac_ports.tolist() == [4, 3]
    assert len(snap_stations(frame, grid, max_dist_m=10.0)) == 0
    with pytest.raises(InputError, match="missing column"):
        snap_stations(frame.drop(columns="region"), grid)


def test_real_afdc_and_shenzhen_files(shared_data: Path) -> None:
    path = shared_data / "stations" / "us_wa_afdc_2023-03.csv"
    frame = read_stations(path)
    raw = pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
    elec = raw[(raw["Fuel Type Code"] == "ELEC") & raw["Status Code"].isin(["E", "T"])]
    assert len(frame) == len(elec) > 1000
    assert frame["dc_ports"].sum() == elec["EV DC Fast Count"].fillna(0).sum()
    level2 = elec["EV Level2 EVSE Num"].fillna(0).sum() + elec["EV Level1 EVSE Num"].fillna(0).sum()
    assert frame["ac_ports"].sum() == level2
    assert set(frame["region"]) == {"WA"}
    shenzhen = read_stations(shared_data / "stations" / "cn_shenzhen_stations.csv")
    raw_sz = pd.read_csv(shared_data / "stations" / "cn_shenzhen_stations.csv")
    assert len(shenzhen) == len(raw_sz) and shenzhen["dc_ports"].sum() == raw_sz["fast"].sum()
    _, _, shift_m = GEOD.inv(
        raw_sz["longitude"], raw_sz["latitude"], shenzhen["lon"], shenzhen["lat"]
    )
    assert 200.0 < np.median(shift_m) < 800.0


def test_spreadsheet_without_coordinates_is_a_data_error(shared_data: Path) -> None:
    # a table without geometry (pyogrio reads spreadsheets as plain tables): its columns decide
    survey = shared_data / "stations" / "cn_shenzhen_swap_survey.xlsx"
    with pytest.raises(DataError, match=r"lacks lon/lat .*has ID, District, Station Name"):
        read_stations(survey)
