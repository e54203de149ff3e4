"""planner.ground.boundaries: the shipped simplified polygons against the shared full-resolution
ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.geometry

from planner.core.errors import InputError
from planner.ground.boundaries import load_boundaries, locate
from planner.ground.regions import load_regions

FULL = {"us": "us_states_ne50m", "cn": "cn_provinces_ne10m"}


def _full(shared: Path, country: str) -> list[dict]:
    path = shared / "geo" / "boundaries" / f"{FULL[country]}.geojson"
    return json.loads(path.read_text())["features"]


def _label_full(feats: list[dict], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """ISO code of the first full-resolution polygon containing each point (file order)."""
    out = np.full(lon.size, "", dtype=object)
    for feat in feats:
        hit = shapely.contains_xy(shapely.geometry.shape(feat["geometry"]), lon, lat) & (out == "")
        out[hit] = feat["properties"]["iso_3166_2"]
    return out


@pytest.mark.parametrize(("country", "n"), [("us", 51), ("cn", 31)])
def test_one_row_per_region_with_the_source_iso_code(
    country: str, n: int, shared_data: Path
) -> None:
    frame = load_boundaries(country)
    assert len(frame) == n and list(frame.columns) == ["region", "iso_3166_2", "name", "geometry"]
    assert frame.crs.to_epsg() == 4326
    assert set(frame["region"]) == set(load_regions(country)["region"])
    source = {
        f["properties"]["name"]: f["properties"]["iso_3166_2"] for f in _full(shared_data, country)
    }
    assert dict(zip(frame["name"], frame["iso_3166_2"], strict=True)).items() <= source.items()


def test_sar_only_when_asked() -> None:
    assert not {"HK", "MO", "TW"} & set(load_boundaries("cn")["region"])
    sar = load_boundaries("cn", include_sar=True)
    assert set(sar.loc[sar["region"].isin(["HK", "MO", "TW"]), "iso_3166_2"]) == {
        "CN-91",
        "CN-92",
        "CN-71",
    }


def test_known_places() -> None:
    # Los Angeles, Tijuana, Windsor (Ontario), Jersey City, Chicago, Mexicali
    us = locate(
        [-118.25, -117.03, -83.03, -74.07, -87.63, -115.45],
        [34.05, 32.52, 42.30, 40.72, 41.88, 32.62],
        "us",
    )
    assert us.region.tolist() == ["CA", "", "", "NJ", "IL", ""]
    assert us.iso_3166_2.tolist() == ["US-CA", "", "", "US-NJ", "US-IL", ""]
    # Hong Kong, Macau, Beijing, the sea near Sansha, Blagoveshchensk, Shenzhen
    lon, lat = (
        [114.17, 113.55, 116.40, 112.34, 127.53, 114.06],
        [22.37, 22.19, 39.90, 16.84, 50.27, 22.55],
    )
    assert locate(lon, lat, "cn").region.tolist() == ["", "", "BJ", "", "", "GD"]
    assert locate(lon, lat, "cn", include_sar=True).region.tolist()[:2] == ["HK", "MO"]


def test_simplified_copy_labels_like_the_full_polygons(shared_data: Path) -> None:
    """Every tract centre (US) and prefecture point (CN) keeps its full-resolution label."""
    tracts = pd.read_csv(shared_data / "geo" / "population" / "us_tract_centers_pop2020.csv")
    pref = pd.read_csv(shared_data / "geo" / "population" / "cn_prefectures_pop2020.csv")
    for country, lon, lat in (
        ("us", tracts["longitude"].to_numpy(float), tracts["latitude"].to_numpy(float)),
        ("cn", pref["in_lon"].to_numpy(float), pref["in_lat"].to_numpy(float)),
    ):
        feats = [
            f
            for f in _full(shared_data, country)
            if f["properties"]["iso_3166_2"] not in {"CN-91", "CN-92", "CN-71"}
        ]
        expected = _label_full(feats, lon, lat)
        got = locate(lon, lat, country).iso_3166_2
        assert (expected != "").mean() > 0.95
        assert (got == expected).all(), np.flatnonzero(got != expected)[:10]


def test_bad_input() -> None:
    with pytest.raises(InputError, match="country"):
        load_boundaries("fr")
    with pytest.raises(InputError, match="one length"):
        locate([1.0, 2.0], [3.0], "us")
