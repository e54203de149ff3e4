"""Country profiles: the registry, and a toy country added without touching planner's code.

The toy country "Toyland" (code ``zz``) is built here from a few coordinates: two regions side
by side (lon 10-11 and 11-12, lat 50-51), one corridor ``Z1`` along lat 50.5 across both, a
dozen demand points and places. Registering its :class:`CountryProfile` is all it takes to plan
it end to end: national ground, a strategy, export.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

import planner
from planner.core.errors import InputError
from planner.countries import (
    CountryProfile,
    country_codes,
    get_country,
    register,
    unregister,
)

LAT = 50.5
STEP_DEG = 0.05
REGIONS = {"A": (10.0, 11.0), "B": (11.0, 12.0)}


def _write_toy(folder: Path) -> None:
    """The toy country's data files: boundaries, regions, waypoints, routes, demand, places."""
    polygons = [shapely.box(w, 50.0, e, 51.0) for w, e in REGIONS.values()]
    gpd.GeoDataFrame(
        {"region": list(REGIONS), "iso_3166_2": ["ZZ-A", "ZZ-B"], "name": ["Aland", "Bland"]},
        geometry=polygons,
        crs=4326,
    ).to_file(folder / "zz_boundaries.geojson", driver="GeoJSON")
    pd.DataFrame(
        {
            "region": list(REGIONS),
            "name": ["Aland", "Bland"],
            "geonames_admin1": list(REGIONS),
            "population": [600_000, 400_000],
            "ev_stock": [30_000, 10_000],
            "ev_source": ["toy fixture", "toy fixture"],
            "ev_fallback": ["false", "false"],
        }
    ).to_csv(folder / "zz_regions.csv", index=False)
    lon = np.round(np.arange(10.05, 11.95 + 1e-9, STEP_DEG), 6)
    pd.DataFrame(
        {
            "country": "zz",
            "piece": 0,
            "route": "Z1",
            "group": "",
            "root_pos": 0,
            "root": "zz.z1",
            "seq": np.arange(lon.size),
            "label": [str(i + 1) for i in range(lon.size)],
            "hidden": 0,
            "in_country": 1,
            "region": np.where(lon < 11.0, "A", "B"),
            "lon": lon,
            "lat": LAT,
        }
    ).to_csv(folder / "zz_waypoints.csv", index=False)
    pd.DataFrame(
        {
            "route_id": ["Z1"],
            "name": ["Toy Expressway 1"],
            "official_length_km": [round(_corridor_length_m() / 1000.0, 3)],
            "length_source": ["toy fixture"],
            "pieces": ["Z1"],
        }
    ).to_csv(folder / "zz_routes.csv", index=False)
    grid = [(x, y) for x in (10.2, 10.5, 10.8, 11.2, 11.5, 11.8) for y in (50.2, 50.8)]
    demand = pd.DataFrame(
        {
            "lon": [x for x, _ in grid],
            "lat": [y for _, y in grid],
            "population": [100_000.0 if x < 11 else 200_000.0 / 3 for x, _ in grid],
            "region": ["A" if x < 11 else "B" for x, _ in grid],
        }
    )
    demand.to_csv(folder / "zz_demand.csv", index=False)
    demand.assign(name=[f"Town {i}" for i in range(len(demand))], admin1=demand["region"]).drop(
        columns="region"
    ).to_csv(folder / "zz_places.csv", index=False)


def _corridor_length_m() -> float:
    lon = np.round(np.arange(10.05, 11.95 + 1e-9, STEP_DEG), 6)
    lat = np.full(lon.size - 1, LAT)
    _, _, step = Geod(ellps="WGS84").inv(lon[:-1], lat, lon[1:], lat)
    return float(np.sum(step))


@pytest.fixture
def toyland(tmp_path: Path):
    """Toyland registered for one test, removed after it."""
    _write_toy(tmp_path)
    profile = CountryProfile(
        code="zz",
        name="Toyland",
        crs="+proj=laea +lat_0=50.5 +lon_0=11 +datum=WGS84 +units=m +no_defs",
        bbox=(10.0, 50.0, 12.0, 51.0),
        osm_bbox=(10.0, 50.0, 12.0, 51.0),
        default_strategy="coverage",
        region_file="zz_regions.csv",
        boundary_file="zz_boundaries.geojson",
        credit="toy boundaries: planner test suite",
        route_table="zz_routes.csv",
        route_length_unit="km",
        demand_file="zz_demand.csv",
        demand_source="toy demand points",
        max_ports_fact="us_max_ports_per_site",
        mean_flow_fact="us_mean_corridor_aadt_veh_day",
        population_param="us_population",
        waypoint_file="zz_waypoints.csv",
        places_file="zz_places.csv",
        data_dir=tmp_path,
    )
    register(profile)
    yield profile
    unregister("zz")


def test_registry_knows_the_shipped_countries() -> None:
    assert country_codes() == ("us", "cn")
    assert get_country("CN").name == "China"
    with pytest.raises(InputError, match=r"country: expected one of us, cn, got 'xx'"):
        get_country("xx")


def test_cli_country_choices_follow_the_registry(toyland: CountryProfile) -> None:
    from planner.app.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["compare", "--country", "xx", "--out", "o"])
    args = build_parser().parse_args(["compare", "--country", "zz", "--out", "o"])
    assert args.country == "zz"


def test_toy_country_plans_end_to_end(toyland: CountryProfile, tmp_path: Path) -> None:
    from planner.ground.build import national_ground

    assert "zz" in country_codes()
    ground = national_ground("zz")
    assert ground.name == "Toyland" and ground.country == "zz"
    assert sorted(ground.regions["region"]) == ["A", "B"]
    # demand: every toy point kept (all inside), people as written
    assert ground.demand.demand.sum() == pytest.approx(1_000_000.0)
    (corridor,) = ground.corridors
    assert corridor.corridor_id == "Z1"
    assert corridor.length_m == pytest.approx(_corridor_length_m(), rel=1e-9)

    from planner.app.cli import main

    plan = planner.plan_national("zz", strategy="coverage", seed=0, sites=4, radius_km=30.0)
    scenario = tmp_path / "toy.toml"
    scenario.write_text("sites = 4\nradius_km = 30.0\n")
    out = tmp_path / "out"
    argv = ["national", "--country", "zz", "--strategy", "coverage", "--scenario", str(scenario)]
    assert main([*argv, "--out", str(out), "-q"]) == 0
    sites = json.loads((out / "sites.geojson").read_text())["features"]
    assert len(sites) == len(plan.sites) > 0
    assert (out / "map.html").is_file()
    # every exported site stands in one of the two toy regions (recomputed with shapely)
    land = shapely.box(10.0, 50.0, 12.0, 51.0)
    for f in sites:
        lon, lat = f["geometry"]["coordinates"][:2]
        assert shapely.contains_xy(land, lon, lat)
    summary = json.loads((out / "summary.json").read_text())
    assert "toy boundaries: planner test suite" in json.dumps(summary)


def test_unregistered_toy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="country: expected one of"):
        planner.plan_national("zz")
