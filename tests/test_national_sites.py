"""National plans as real places, recomputed from the files the CLI writes and the shared polygons.

Each check reads ``sites.geojson`` / ``summary.json`` and the full-resolution Natural Earth
polygons in ``../shared/data/geo/boundaries`` (not planner's simplified copies, not its code path).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.geometry

ROOT = Path(__file__).resolve().parent.parent
POLYGONS = {"us": "us_states_ne50m", "cn": "cn_provinces_ne10m"}
NOT_MAINLAND = {"CN-91", "CN-92", "CN-71"}  # Hong Kong, Macau, Taiwan


def _sites(out: Path) -> pd.DataFrame:
    feats = json.loads((out / "sites.geojson").read_text())["features"]
    frame = pd.DataFrame([f["properties"] for f in feats])
    coords = np.array([f["geometry"]["coordinates"] for f in feats])
    return frame.assign(lon=coords[:, 0], lat=coords[:, 1])


def _containing(country: str, shared: Path, lon: np.ndarray, lat: np.ndarray) -> list[set[str]]:
    """ISO codes of every shared polygon of the country that contains each point."""
    path = shared / "geo" / "boundaries" / f"{POLYGONS[country]}.geojson"
    feats = json.loads(path.read_text())["features"]
    feats = [f for f in feats if f["properties"]["iso_3166_2"] not in NOT_MAINLAND]
    geoms = [shapely.geometry.shape(f["geometry"]) for f in feats]
    codes = [f["properties"]["iso_3166_2"] for f in feats]
    out: list[set[str]] = [set() for _ in range(lon.size)]
    points = shapely.points(lon, lat)
    for geom, code in zip(geoms, codes, strict=True):
        hit = shapely.contains_xy(geom, lon, lat) | shapely.touches(geom, points)
        for i in np.flatnonzero(hit):
            out[i].add(code)
    return out


def _cap(key: str) -> int:
    facts = pd.read_csv(ROOT / "data" / "policy_facts.csv", dtype=str)
    row = facts[facts["key"] == key]
    assert len(row) == 1 and row["source"].str.len().iloc[0] > 40  # a real, cited source
    return int(float(row["value"].iloc[0]))


@pytest.fixture(scope="module", params=["us", "cn"])
def plan(request: pytest.FixtureRequest) -> tuple[str, Path]:
    fixture = {"us": "national_us_plan", "cn": "national_cn_plan"}[request.param]
    return request.param, request.getfixturevalue(fixture)


def test_no_site_outside_the_country(plan: tuple[str, Path], shared_data: Path) -> None:
    country, out = plan
    sites = _sites(out)
    inside = _containing(country, shared_data, sites["lon"].to_numpy(), sites["lat"].to_numpy())
    outside = [i for i, codes in enumerate(inside) if not codes]
    assert outside == [], sites.iloc[outside[:5]][["site_id", "kind", "lon", "lat"]]


def test_iso_code_is_the_containing_polygon(plan: tuple[str, Path], shared_data: Path) -> None:
    country, out = plan
    sites = _sites(out)
    inside = _containing(country, shared_data, sites["lon"].to_numpy(), sites["lat"].to_numpy())
    iso = sites["iso_3166_2"].tolist()
    wrong = [i for i, codes in enumerate(inside) if iso[i] not in codes]
    assert wrong == [], sites.iloc[wrong[:5]][["site_id", "iso_3166_2", "state", "lon", "lat"]]
    if country == "us":  # the state label is the polygon's postal code
        assert ("US-" + sites["state"] == sites["iso_3166_2"]).all()
    else:  # one province label per ISO code
        assert sites.groupby("iso_3166_2")["state"].nunique().max() == 1


def test_one_site_per_point(plan: tuple[str, Path]) -> None:
    _, out = plan
    sites = _sites(out)
    assert len(sites.drop_duplicates(["lon", "lat"])) == len(sites)
    assert sites["site_id"].is_unique


def test_ports_per_site_within_the_sourced_cap(plan: tuple[str, Path]) -> None:
    country, out = plan
    cap = _cap({"us": "us_max_ports_per_site", "cn": "cn_max_piles_per_station"}[country])
    sites = _sites(out)
    ports = sites["ports"].to_numpy()
    assert ports.max() <= cap
    summary = json.loads((out / "summary.json").read_text())
    reported = summary["site_places"]["ports_per_site"]
    charging = ports[ports > 0]
    assert reported["max"] == charging.max()
    assert reported["median"] == pytest.approx(np.median(charging))
    assert reported["p95"] == pytest.approx(np.percentile(charging, 95))
    assert summary["site_places"]["sites"] == len(sites)
    assert set(summary["outside_country"]) >= {"moved", "dropped"}


def test_us_plan_keeps_500k_ports(national_us_plan: Path) -> None:
    sites = _sites(national_us_plan)
    assert int(sites["ports"].sum()) == 500_000
    assert (sites["dc_ports"] + sites["ac_ports"] == sites["ports"]).all()
    summary = json.loads((national_us_plan / "summary.json").read_text())
    assert summary["ports_total"] == 500_000
    by_kind = sites.groupby("kind")["ports"].sum().to_dict()
    assert by_kind == summary["ports_by_kind"]


def test_cn_plan_keeps_piles_dc_share_and_swaps(national_cn_plan: Path) -> None:
    sites = _sites(national_cn_plan)
    summary = json.loads((national_cn_plan / "summary.json").read_text())
    piles = sites[sites["kind"] != "swap_station"]
    assert int(piles["ports"].sum()) == summary["target_piles"] == summary["piles"]
    share = piles["dc_piles"].sum() / piles["ports"].sum()
    assert abs(share - summary["params"]["dc_share"]) < 1e-4
    swaps = sites[sites["kind"] == "swap_station"]
    assert len(swaps) == summary["swap_stations"] > 0
    assert (swaps["capacity_swaps_day"] == summary["params"]["swaps_per_day"]).all()
    assert swaps["capacity_swaps_day"].sum() == pytest.approx(summary["swap_capacity_day"])


def test_boundary_and_census_credits(plan: tuple[str, Path]) -> None:
    country, out = plan
    credit = json.loads((out / "sites.geojson").read_text())["attribution"]
    assert "Natural Earth" in credit and "GeoNames" in credit
    assert ("US Census" if country == "us" else "FTChinese") in credit
    assert "Natural Earth" in (out / "map.html").read_text()
