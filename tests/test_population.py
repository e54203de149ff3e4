"""Tests of planner.ground.population and planner.io.places.dedupe_places."""

from __future__ import annotations

import json
from pathlib import Path

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.geometry

from planner.core.errors import InputError
from planner.ground.national_demand import DEMAND_COLUMNS, national_demand
from planner.ground.population import (
    GRID_COLUMNS,
    fit_to_regions,
    places_national,
    population_grid,
    spread_to_h3,
)
from planner.ground.regions import load_regions, region_of_admin1
from planner.io.places import PLACE_COLUMNS, dedupe_places, load_places


def _places(rows: list[tuple[str, float, float, int, str]]) -> pd.DataFrame:
    """Synthetic places: (name, lon, lat, population, admin1)."""
    return pd.DataFrame(
        [(i, name, lon, lat, pop, "XX", a1) for i, (name, lon, lat, pop, a1) in enumerate(rows)],
        columns=list(PLACE_COLUMNS),
    )


KM_LON = 1 / 111.195  # degrees of longitude per km at the equator


def test_dedupe_rule_known_answer() -> None:
    # City of 1 M: core radius sqrt(1e6 / (pi * 5000)) = 7.98 km.
    places = _places(
        [
            ("city", 0.0, 0.0, 1_000_000, "A"),
            ("district", 5 * KM_LON, 0.0, 200_000, "A"),  # inside, small: dropped
            ("twin", -5 * KM_LON, 0.0, 600_000, "A"),  # inside but > half the city: kept
            ("neighbour", 0.0, 5 * KM_LON, 200_000, "B"),  # inside, other region: kept
            ("suburb", 10 * KM_LON, 0.0, 200_000, "A"),  # outside the core: kept
            ("unknown", 0.0, -5 * KM_LON, 100_000, ""),  # no admin-1 code: matches, dropped
            ("sub-district", -9 * KM_LON, 0.0, 1_000, "A"),  # inside twin's 6.2 km core
        ]
    )
    kept = dedupe_places(places)
    assert kept["name"].tolist() == ["city", "twin", "neighbour", "suburb"]
    # A smaller core density widens the radius: the suburb at 10 km goes too.
    wide = dedupe_places(places, core_density_per_km2=2000.0)
    assert "suburb" not in set(wide["name"])


def test_dedupe_validation() -> None:
    places = _places([("a", 0.0, 0.0, 10, "A")])
    with pytest.raises(InputError, match="core_density_per_km2"):
        dedupe_places(places, core_density_per_km2=0)
    with pytest.raises(InputError, match="max_share"):
        dedupe_places(places, max_share=1.5)
    with pytest.raises(InputError, match="places"):
        dedupe_places(places.drop(columns="admin1"))


def test_spread_single_point_kernel() -> None:
    grid = spread_to_h3([121.47], [31.23], [700.0], ["SH"], h3_resolution=5, kernel=(0.5, 0.5))
    assert tuple(grid.columns) == GRID_COLUMNS
    centre = h3.latlng_to_cell(31.23, 121.47, 5)
    assert len(grid) == 7 and set(grid["h3"]) == set(h3.grid_disk(centre, 1))
    by = grid.set_index("h3")["population"]
    assert by[centre] == pytest.approx(350.0)
    assert np.allclose(by.drop(centre), 350.0 / 6)
    lat, lon = h3.cell_to_latlng(centre)
    row = grid[grid["h3"] == centre].iloc[0]
    assert (row["lat"], row["lon"]) == pytest.approx((lat, lon))


def test_spread_next_to_a_pentagon_conserves() -> None:
    pentagon = sorted(h3.get_pentagons(5))[0]
    lat, lon = h3.cell_to_latlng(pentagon)
    grid = spread_to_h3([lon], [lat], [100.0], h3_resolution=5, kernel=(0.2, 0.3, 0.5))
    assert grid["population"].sum() == pytest.approx(100.0)
    assert len(grid) == 1 + 5 + 10  # a pentagon has 5 neighbours in ring 1 and 10 in ring 2
    assert grid.set_index("h3").loc[pentagon, "population"] == pytest.approx(20.0)


def test_spread_conserves_and_splits_regions() -> None:
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(-100, -90, 500), rng.uniform(30, 40, 500)
    pop = rng.integers(1_000, 1_000_000, 500).astype(float)
    region = np.where(lon < -95, "W", "E").astype(object)
    grid = spread_to_h3(lon, lat, pop, region, h3_resolution=4)
    assert grid["population"].sum() == pytest.approx(pop.sum(), rel=1e-12)
    assert not grid.duplicated(["h3", "region"]).any()
    sums = grid.groupby("region")["population"].sum()
    assert sums["W"] == pytest.approx(pop[region == "W"].sum(), rel=1e-12)
    # Two points of different regions in one cell give two rows of that cell.
    two = spread_to_h3([10.0, 10.001], [50.0, 50.0], [1.0, 3.0], ["P", "Q"], kernel=(1.0,))
    assert two["h3"].nunique() == 1 and sorted(two["region"]) == ["P", "Q"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kernel": (0.5, 0.4)}, "kernel"),
        ({"kernel": (1.5, -0.5)}, "kernel"),
        ({"kernel": ()}, "kernel"),
        ({"h3_resolution": 16}, "h3_resolution"),
        ({"h3_resolution": 2.5}, "h3_resolution"),
    ],
)
def test_spread_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        spread_to_h3([0.0], [0.0], [1.0], **kwargs)  # type: ignore[arg-type]


def test_spread_rejects_bad_population() -> None:
    with pytest.raises(InputError, match="population"):
        spread_to_h3([0.0], [0.0], [-1.0])
    with pytest.raises(InputError, match="one length"):
        spread_to_h3([0.0, 1.0], [0.0], [1.0])


def test_fit_to_regions_known_answer() -> None:
    grid = pd.DataFrame(
        {
            "h3": ["a", "b", "c", "d", "e"],
            "region": ["R", "R", "S", "S", "T"],
            "population": [60.0, 40.0, 300.0, 100.0, 5.0],
        }
    )
    regions = pd.DataFrame({"region": ["R", "S", "U"], "population": [200, 200, 50]})
    fit = fit_to_regions(grid, regions)
    # R: deficit 100 spread evenly; S: surplus scaled by 0.5; T: unknown, unchanged.
    assert fit["population"].tolist() == pytest.approx([110.0, 90.0, 150.0, 50.0, 5.0])
    with pytest.raises(InputError, match="population"):
        fit_to_regions(grid.drop(columns="population"), regions)


def test_isolated_small_cluster_takes_no_rural_people() -> None:
    import h3

    main = h3.latlng_to_cell(20.0, 110.3, 5)  # a town on Hainan island
    island = h3.latlng_to_cell(16.83, 112.34, 5)  # Sansha, 350 km away
    cells = [main, *h3.grid_ring(main, 1), island]
    grid = pd.DataFrame(
        {
            "h3": cells,
            "region": "HI",
            "population": [1_000_000.0] + [100_000.0] * 6 + [1_443.0],
        }
    )
    regions = pd.DataFrame({"region": ["HI"], "population": [2_001_443]})
    fit = fit_to_regions(grid, regions)
    # the 400,000 people outside places go evenly to the seven connected cells only
    assert fit["population"].iloc[-1] == pytest.approx(1_443.0)
    assert fit["population"].iloc[:-1].tolist() == pytest.approx(
        [1_000_000.0 + 400_000 / 7] + [100_000.0 + 400_000 / 7] * 6
    )
    assert fit["population"].sum() == pytest.approx(2_001_443)


def test_cn_grid_puts_no_rural_people_on_the_paracel_islands(cn_grid: pd.DataFrame) -> None:
    paracel = cn_grid[cn_grid["lon"].between(111.0, 113.0) & cn_grid["lat"].between(15.5, 17.5)]
    assert 0 < paracel["population"].sum() < 2_000  # Sansha: 1,443 in GeoNames


@pytest.fixture(scope="module")
def cn_raw() -> pd.DataFrame:
    return load_places(["CN"], min_population=1000)


@pytest.fixture(scope="module")
def cn_grid() -> pd.DataFrame:
    return population_grid("cn")


def test_cn_dedupe_fixes_shanghai(cn_raw: pd.DataFrame) -> None:
    kept = dedupe_places(cn_raw)
    shanghai_raw = int(cn_raw.loc[cn_raw["admin1"] == "23", "population"].sum())
    shanghai = int(kept.loc[kept["admin1"] == "23", "population"].sum())
    regions = load_regions("cn")
    official = int(regions.loc[regions["region"] == "SH", "population"].sum())
    assert shanghai_raw > 2 * official  # districts and their city both listed
    assert official <= shanghai < 1.15 * official
    assert {"Puxi", "Pudong"}.isdisjoint(kept["name"])
    assert "Shanghai" in set(kept["name"])
    # Real data, no regions: the grid holds exactly the places' people.
    raw = spread_to_h3(kept["lon"], kept["lat"], kept["population"])
    assert raw["population"].sum() == pytest.approx(kept["population"].sum(), rel=1e-12)


def test_every_cn_admin1_code_maps_to_a_province(cn_raw: pd.DataFrame) -> None:
    codes = set(cn_raw["admin1"]) - {""}
    assert set(region_of_admin1("cn", sorted(codes))) == set(load_regions("cn")["region"])


def test_places_national_validation() -> None:
    with pytest.raises(InputError, match="country"):
        places_national("de")
    with pytest.raises(InputError, match="min_population"):
        places_national("cn", min_population=1000.5)  # type: ignore[arg-type]


def test_cn_grid_matches_census(cn_grid: pd.DataFrame) -> None:
    regions = load_regions("cn").set_index("region")["population"]
    grid = cn_grid
    assert tuple(grid.columns) == GRID_COLUMNS
    assert grid["population"].sum() == pytest.approx(regions.sum(), rel=1e-9)
    by_region = grid.groupby("region")["population"].sum()
    pd.testing.assert_series_equal(
        by_region.sort_index(), regions.astype(float).sort_index(), check_names=False, rtol=1e-9
    )
    assert (grid["population"] > 0).all()
    assert grid["population"].is_monotonic_decreasing
    # Mainland China, Hainan and the South China Sea islands (Sansha).
    assert grid["lon"].between(73, 136).all() and grid["lat"].between(15, 54).all()
    assert not grid.duplicated(["h3", "region"]).any()


def test_us_grid_matches_census() -> None:
    regions = load_regions("us").set_index("region")["population"]
    grid = population_grid("us", h3_resolution=4, kernel=(1.0,))
    by_region = grid.groupby("region")["population"].sum()
    assert set(by_region.index) == set(regions.index)
    assert np.allclose(by_region.sort_index(), regions.sort_index(), rtol=1e-9)
    # Manhattan's cell is the densest of the country.
    top = grid.iloc[0]
    assert top["region"] == "NY" and abs(top["lon"] + 74.0) < 0.5


# --- fine national demand (planner.ground.national_demand) ---------------------------------------


def _inside_full(shared: Path, name: str, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Whether each point lies in a shared full-resolution polygon (not HK, MO, TW)."""
    feats = json.loads((shared / "geo" / "boundaries" / f"{name}.geojson").read_text())["features"]
    inside = np.zeros(lon.size, dtype=bool)
    for f in feats:
        if f["properties"]["iso_3166_2"] not in {"CN-91", "CN-92", "CN-71"}:
            inside |= shapely.contains_xy(shapely.geometry.shape(f["geometry"]), lon, lat)
    return inside


def test_us_demand_is_the_census_tracts_inside_the_country(shared_data: Path) -> None:
    tracts = pd.read_csv(
        shared_data / "geo" / "population" / "us_tract_centers_pop2020.csv", dtype={"statefp": str}
    )
    states = tracts[tracts["statefp"] != "72"]  # not Puerto Rico
    official = int(states["population"].sum())
    assert official == 331_449_281
    demand = national_demand("us")
    points, outside = demand.points, demand.info["outside_country"]
    assert tuple(points.columns) == DEMAND_COLUMNS
    # people are moved, not lost, except the few dropped ones, which are counted
    assert points["population"].sum() + outside["population_dropped"] == pytest.approx(official)
    assert outside["population_dropped"] < 1e-4 * official
    assert len(points) > 80_000 and not points.duplicated(["lon", "lat"]).any()
    lon, lat = points["lon"].to_numpy(), points["lat"].to_numpy()
    assert _inside_full(shared_data, "us_states_ne50m", lon, lat).all()
    assert ("US-" + points["region"] == points["iso_3166_2"]).all()
    by_state = points.groupby("region")["population"].sum()
    census = states.assign(fp=states["statefp"]).groupby("fp")["population"].sum()
    assert by_state["CA"] == pytest.approx(census["06"], rel=0.01)  # California, FIPS 06


def test_cn_demand_spreads_the_prefectures_inside_the_mainland(shared_data: Path) -> None:
    pref = pd.read_csv(shared_data / "geo" / "population" / "cn_prefectures_pop2020.csv")
    mainland = pref[(pref["province_code"] < 710000) & pref["pop_2020"].notna()]
    official = float(mainland["pop_2020"].sum())
    demand = national_demand("cn")
    points, outside = demand.points, demand.info["outside_country"]
    assert points["population"].sum() + outside["population_dropped"] == pytest.approx(official)
    assert outside["population_dropped"] < 0.001 * official
    lon, lat = points["lon"].to_numpy(), points["lat"].to_numpy()
    assert _inside_full(shared_data, "cn_provinces_ne10m", lon, lat).all()
    assert not points["region"].isin(["HK", "MO", "TW", ""]).any()
    # Shanghai (one prefecture-level unit): its 2020 census population, over its places; the
    # label is the polygon a point stands in, so places filed under Jiangsu or Zhejiang by
    # GeoNames but standing in Shanghai count there (and the other way round)
    shanghai = float(mainland.loc[mainland["city_code"] == 310100, "pop_2020"].iloc[0])
    in_sh = points.loc[points["region"] == "SH", "population"].sum()
    assert in_sh == pytest.approx(shanghai, rel=0.1)
    assert (points["region"] == "SH").sum() > 5
