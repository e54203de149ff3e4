"""National plans from the CLI, checked independently from the files they write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def us_plan(national_us_plan: Path) -> Path:
    return national_us_plan


@pytest.fixture(scope="module")
def cn_plan(national_cn_plan: Path) -> Path:
    return national_cn_plan


def _sites(out: Path) -> pd.DataFrame:
    feats = json.loads((out / "sites.geojson").read_text())["features"]
    frame = pd.DataFrame([f["properties"] for f in feats])
    coords = np.array([f["geometry"]["coordinates"] for f in feats])
    return frame.assign(lon=coords[:, 0], lat=coords[:, 1])


def test_us_total_ports_equal_target(us_plan: Path) -> None:
    summary = json.loads((us_plan / "summary.json").read_text())
    ports = _sites(us_plan)["ports"].sum()
    assert abs(ports - 500_000) <= 0.001 * 500_000
    assert summary["map_html_bytes"] == (us_plan / "map.html").stat().st_size


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
