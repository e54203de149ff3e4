"""Tests of planner.ground.demand: place kernels, POI/road/user sources, weighting, user files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.core.errors import DataError, InputError
from planner.ground.demand import (
    DEMAND_UNIT,
    DemandConfig,
    build_demand,
    nearby_places,
    poi_at_nodes,
    population_at_nodes,
    read_user_points,
    road_at_nodes,
)
from planner.ground.network import RoadNetwork, load_network

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def grid() -> RoadNetwork:
    return load_network(FIXTURES / "grid.osm")


@pytest.fixture(scope="module")
def grid_places(grid: RoadNetwork) -> pd.DataFrame:
    """GeoNames places around the grid (reading GeoNames takes seconds: once per module).

    The 40 km margin also covers the Columbus extract and its surroundings (same UTM zone).
    """
    return nearby_places(grid, margin_km=40.0, country="US")


def _node(grid: RoadNetwork, osm_id: int) -> int:
    return int(np.flatnonzero(grid.node_id == osm_id)[0])


def _place(grid: RoadNetwork, osm_id: int, population: float) -> pd.DataFrame:
    i = _node(grid, osm_id)
    return pd.DataFrame(
        {"population": [population], "x_m": [grid.x_m[i]], "y_m": [grid.y_m[i]], "admin1": ["ZZ"]}
    )


def test_config_validation_and_scenario_tables() -> None:
    with pytest.raises(InputError, match="poi_weight"):
        DemandConfig(poi_weight=-1.0)
    with pytest.raises(InputError, match="decay_km"):
        DemandConfig(decay_km=0.0)
    with pytest.raises(InputError, match="unknown key"):
        DemandConfig.from_mapping({"population_wieght": 1.0})
    with pytest.raises(InputError, match="'cinema'"):
        DemandConfig.from_mapping({"poi_person_equivalents": {"cinema": 3}})
    config = DemandConfig.from_mapping({"decay_km": 2, "poi_person_equivalents": {"parking": 50}})
    assert config.decay_km == 2.0
    assert config.poi_person_equivalents["parking"] == 50.0
    assert config.poi_person_equivalents["shop"] == 5.0  # the other defaults stay
    assert config == DemandConfig.from_mapping(
        {"decay_km": 2.0, "poi_person_equivalents": {"parking": 50.0}}
    )
    assert hash(config) == hash(DemandConfig(decay_km=2.0, poi_person_equivalents={"parking": 50}))


def test_kernel_inside_the_extract_keeps_the_whole_population(grid: RoadNetwork) -> None:
    # b = max(0.05, sqrt(1000 / (2 pi 1e4))) = 0.126 km, cut at 2 b: the disc lies inside the grid
    config = DemandConfig(decay_km=0.05, cutoff_decay_lengths=2.0, grid_cell_m=10.0)
    residents = population_at_nodes(grid, _place(grid, 112, 1000.0), config=config)
    assert residents.sum() == pytest.approx(1000.0, rel=0.02)
    centre = _node(grid, 112)
    assert residents.argmax() == centre


def test_kernel_at_a_hull_corner_keeps_the_inside_share(grid: RoadNetwork) -> None:
    # hull corner at the south-west grid node: sides go east and to the west motorway end
    # (1.6 km west, 1.2 km north), an interior angle of 180 - atan(1200 / 1600) degrees
    share = (180.0 - math.degrees(math.atan2(1200.0, 1600.0))) / 360.0
    config = DemandConfig(decay_km=0.05, cutoff_decay_lengths=2.0, grid_cell_m=5.0)
    residents = population_at_nodes(grid, _place(grid, 100, 1000.0), config=config)
    assert residents.sum() == pytest.approx(1000.0 * share, rel=0.03)


def test_nested_places_max_versus_sum(grid: RoadNetwork) -> None:
    twice = pd.concat([_place(grid, 112, 1000.0)] * 2, ignore_index=True)
    config = DemandConfig(decay_km=0.05, cutoff_decay_lengths=2.0, grid_cell_m=10.0)
    one = population_at_nodes(grid, twice, config=config).sum()
    two = population_at_nodes(
        grid, twice, config=DemandConfig(**{**vars(config), "combine_places": "sum"})
    ).sum()
    assert two == pytest.approx(2 * one)


def test_poi_and_road_sources(grid: RoadNetwork) -> None:
    # parking 20 + shop 5 + restaurant 5 + office 10 + hotel 5 + fuel 20; the far lot is 1 km out
    assert poi_at_nodes(grid, config=DemandConfig()).sum() == pytest.approx(65.0)
    road = road_at_nodes(grid, config=DemandConfig())
    weights = DemandConfig().road_class_weights
    expected = sum(
        weights[h] * km
        for h, km in (grid.edges.groupby("highway")["length_m"].sum() / 1000).items()
    )
    assert road.sum() == pytest.approx(expected)
    # node (2, 1): a two-way residential row (4 directed edges) and a one-way column (2 edges)
    assert road[_node(grid, 111)] == pytest.approx(6 * 0.2 * 1.0 / 2, rel=1e-3)


def test_build_demand_totals_and_regions(grid: RoadNetwork, grid_places: pd.DataFrame) -> None:
    demand = build_demand(grid, places=grid_places)
    assert demand.unit == DEMAND_UNIT
    assert set(demand.region) == {"OH"}  # nearest GeoNames place: Columbus, Ohio
    assert np.all(demand.demand > 0) and np.all(np.diff(demand.node_idx) > 0)
    population = demand.components["population"].sum()
    assert population > 1000  # the grid lies 1.3 km from downtown Columbus
    assert demand.total == pytest.approx(population)  # total = residents in the extract
    assert np.allclose(demand.x_m, grid.x_m[demand.node_idx])
    only_people = build_demand(
        grid, places=grid_places, config=DemandConfig(poi_weight=0, road_weight=0)
    )
    assert np.allclose(only_people.demand, only_people.components["population"])
    only_poi = build_demand(
        grid, places=grid_places, config=DemandConfig(population_weight=0, road_weight=0)
    )
    assert only_poi.node_idx.size == 6  # six POIs on six distinct nodes
    shares = only_poi.components["poi"] / only_poi.components["poi"].sum()
    assert np.allclose(only_poi.demand, population * shares)


def test_user_points_csv_and_geojson(
    grid: RoadNetwork, grid_places: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    csv_points = read_user_points(FIXTURES / "user_demand.csv")
    geo_points = read_user_points(FIXTURES / "user_demand.geojson")
    pd.testing.assert_frame_equal(csv_points, geo_points)
    config = DemandConfig(population_weight=0, poi_weight=0, road_weight=0)
    demand = build_demand(
        grid, places=grid_places, config=config, user_points=FIXTURES / "user_demand.csv"
    )
    assert demand.components["user"].sum() == pytest.approx(400.0)  # 100 + 250 + 50
    assert demand.node_idx.size == 3
    assert "more than 2000 m from the network" in caplog.text


def test_without_places_the_total_falls_back(grid: RoadNetwork) -> None:
    no_places = pd.DataFrame(columns=["population", "x_m", "y_m", "admin1"])
    demand = build_demand(grid, places=no_places)
    assert demand.total == pytest.approx(65.0)  # POI person-equivalents
    assert set(demand.region) == {""}
    with pytest.raises(InputError, match="weight"):
        build_demand(grid, places=no_places, config=DemandConfig(poi_weight=0, road_weight=0))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("lon,lat\n-83,39.95\n", "lacks column"),
        ("lon,lat,demand\n-83,39.95,-5\n", "row 1"),
        ("lon,lat,demand\n-83,39.95,1\n-83,north,2\n", "row 2"),
        ("lon,lat,demand\n", "no points"),
    ],
)
def test_bad_user_points(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "points.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        read_user_points(path)


def test_missing_user_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_user_points(tmp_path / "nope.csv")


def test_columbus_demand(shared_data: Path, grid_places: pd.DataFrame) -> None:
    net = load_network(shared_data / "osm" / "us_columbus_oh.osm.pbf")
    assert net.crs == "EPSG:32617"  # the CRS of grid_places' x_m, y_m
    demand = build_demand(net, places=grid_places)
    assert set(demand.region) == {"OH"}
    # Columbus has 913,175 residents (GeoNames) but the extract holds only part of the city
    assert 300_000 < demand.total < 913_175 + 200_000
    assert demand.node_idx.size > 0.9 * net.n_nodes
