"""National plans from the CLI, checked independently from the files they write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from planner.cli import main

MI = 1609.344
CRS = {"us": "EPSG:5070", "cn": "+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +datum=WGS84 +units=m"}


@pytest.fixture(scope="module")
def us_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("us")
    assert main(["national", "--country", "us", "--out", str(out), "-q", "--overwrite"]) == 0
    return out


@pytest.fixture(scope="module")
def cn_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cn")
    argv = ["national", "--country", "cn", "--strategy", "china-pile-swap", "--out", str(out), "-q"]
    assert main([*argv, "--overwrite"]) == 0
    return out


def _sites(out: Path) -> pd.DataFrame:
    feats = json.loads((out / "sites.geojson").read_text())["features"]
    frame = pd.DataFrame([f["properties"] for f in feats])
    coords = np.array([f["geometry"]["coordinates"] for f in feats])
    return frame.assign(lon=coords[:, 0], lat=coords[:, 1])


def _station_gaps(
    out: Path, country: str, kinds: set[str], offset_m: float
) -> dict[str, tuple[float, float]]:
    """Per corridor: (max gap between consecutive stations, max end gap), in metres.

    A station serves a corridor when it lies within ``offset_m`` of the corridor's line; its
    position is its projection onto the line, scaled to road distance by the corridor's
    ``length_mi`` over the line's length (the embedded corridors are chords times a circuity
    factor).
    """
    sites = _sites(out)
    sites = sites[sites["kind"].isin(kinds)]
    to_xy = Transformer.from_crs("EPSG:4326", CRS[country], always_xy=True)
    sx, sy = to_xy.transform(sites["lon"].to_numpy(), sites["lat"].to_numpy())
    points = shapely.points(sx, sy)
    result = {}
    for feat in json.loads((out / "corridors.geojson").read_text())["features"]:
        lon, lat = np.array(feat["geometry"]["coordinates"]).T
        line = shapely.LineString(np.column_stack(to_xy.transform(lon, lat)))
        near = shapely.distance(points, line) <= offset_m
        chain = np.sort(shapely.line_locate_point(line, points[near]))
        assert chain.size, feat["properties"]["corridor"]
        road = feat["properties"]["length_mi"] * MI / line.length
        assert 1.0 <= road < 1.3
        gaps = np.diff(chain) * road
        ends = max(chain[0], line.length - chain[-1]) * road
        result[feat["properties"]["corridor"]] = (
            float(gaps.max()) if gaps.size else 0.0,
            float(ends),
        )
    return result


def test_us_total_ports_equal_target(us_plan: Path) -> None:
    summary = json.loads((us_plan / "summary.json").read_text())
    ports = _sites(us_plan)["ports"].sum()
    assert abs(ports - 500_000) <= 0.001 * 500_000
    assert summary["map_html_bytes"] == (us_plan / "map.html").stat().st_size


def test_us_corridor_gaps_recomputed(us_plan: Path) -> None:
    """Every Interstate: consecutive NEVI stations <= 50 mi apart, ends <= 25 mi, from the files."""
    gaps = _station_gaps(us_plan, "us", {"corridor_dc"}, offset_m=1 * MI)
    assert len(gaps) == 70
    worst = max(g for g, _ in gaps.values())
    assert worst <= 50 * MI + 1.0
    assert max(e for _, e in gaps.values()) <= 25 * MI + 1.0
    table = json.loads((us_plan / "corridors.geojson").read_text())["features"]
    for feat in table:
        props = feat["properties"]
        assert props["compliant"] is True
        assert props["max_gap_mi"] == pytest.approx(gaps[props["corridor"]][0] / MI, abs=0.05)


def test_us_corridor_stations_have_nevi_ports(us_plan: Path) -> None:
    sites = _sites(us_plan)
    corridor = sites[sites["kind"] == "corridor_dc"]
    assert (corridor["dc_ports"] >= 4).all() and (corridor["power_kw"] >= 150).all()
    assert set(sites["state"]) >= {"CA", "TX", "OH", "NY"}


def test_regions_table(us_plan: Path) -> None:
    regions = pd.read_csv(us_plan / "regions.csv")
    assert len(regions) == 51
    assert {"region", "sites", "capex_usd"} <= set(regions.columns)


def test_cn_swap_capacity_respected(cn_plan: Path) -> None:
    sites = _sites(cn_plan)
    swap = sites[sites["kind"] == "swap_station"]
    assert len(swap) > 0
    assert (swap["capacity_swaps_day"] > 0).all()
    assert (swap["assigned_swaps_day"] <= swap["capacity_swaps_day"] + 1e-6).all()
    summary = json.loads((cn_plan / "summary.json").read_text())
    assert summary["swap_capacity_day"] == pytest.approx(swap["capacity_swaps_day"].sum())


def test_cn_dc_share_and_summary(cn_plan: Path) -> None:
    sites = _sites(cn_plan)
    summary = json.loads((cn_plan / "summary.json").read_text())
    dc, ac = sites["dc_piles"].sum(), sites["ac_piles"].sum()
    assert abs(dc / (dc + ac) - summary["params"]["dc_share"]) <= 0.01
    assert set(sites["kind"]) == {"pile_station", "service_area", "swap_station"}
    for key in ("service_area_spacing_km", "unmet_swaps_day", "capex_cny", "capex_usd"):
        assert key in json.dumps(summary)


def test_cn_service_area_spacing_recomputed(cn_plan: Path) -> None:
    summary = json.loads((cn_plan / "summary.json").read_text())
    spacing_m = summary["params"]["service_area_spacing_km"] * 1000
    gaps = _station_gaps(cn_plan, "cn", {"service_area"}, offset_m=100.0)
    assert len(gaps) == 36
    assert max(g for g, _ in gaps.values()) <= spacing_m + 1.0
