"""Tests of planner.ground.candidates: suitable nodes, weighted clustering, parking/fuel sites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.core.errors import InputError
from planner.ground.candidates import build_candidates, suitable_nodes
from planner.ground.demand import DemandPoints
from planner.ground.network import RoadNetwork, load_network

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def grid() -> RoadNetwork:
    return load_network(FIXTURES / "grid.osm")


def _demand(net: RoadNetwork, nodes: np.ndarray, weights: np.ndarray) -> DemandPoints:
    nodes = np.asarray(nodes, dtype=np.int64)
    return DemandPoints(
        node_idx=nodes,
        x_m=net.x_m[nodes],
        y_m=net.y_m[nodes],
        lon=net.lon[nodes],
        lat=net.lat[nodes],
        demand=np.asarray(weights, dtype=float),
        region=np.full(nodes.size, "", dtype=object),
    )


def _idx(net: RoadNetwork, osm_ids: list[int]) -> np.ndarray:
    return np.array([int(np.flatnonzero(net.node_id == i)[0]) for i in osm_ids])


def test_suitable_nodes_exclude_motorway_mainline(grid: RoadNetwork) -> None:
    mask = suitable_nodes(grid)
    assert set(grid.node_id[mask].tolist()) == set(range(100, 125))  # grid streets only


def test_parking_and_fuel_candidates(grid: RoadNetwork) -> None:
    everywhere = _demand(grid, np.arange(grid.n_nodes), np.ones(grid.n_nodes))
    cands = build_candidates(grid, everywhere, n_candidates=4, seed=0)
    sources = dict(zip(grid.node_id[cands.node_idx].tolist(), cands.source.tolist(), strict=True))
    # Lot A is 30 m from node (1, 1) = 106, the fuel square 60 m from node (3, 1) = 116;
    # the far lot is 1 km away and is not a candidate
    assert sources[106] == "parking" and sources[116] == "fuel"
    assert list(cands.source).count("parking") == 1 and list(cands.source).count("fuel") == 1
    assert 1 <= list(cands.source).count("node") <= 4
    assert np.all(suitable_nodes(grid)[cands.node_idx])
    assert np.all(np.diff(cands.node_idx) > 0)  # unique, sorted
    assert np.allclose(cands.x_m, grid.x_m[cands.node_idx])
    without = build_candidates(grid, everywhere, n_candidates=4, seed=0, include_pois=False)
    assert set(without.source) == {"node"}


def test_weighted_centre_snaps_to_nearest_street_node(grid: RoadNetwork) -> None:
    # weights 3 : 1 on nodes (0, 0) and (0, 4): centroid at x = 200 m -> node (0, 1) = 101
    demand = _demand(grid, _idx(grid, [100, 104]), np.array([3.0, 1.0]))
    # two points but one cluster: k-means puts the centre at the weighted mean
    cands = build_candidates(grid, demand, n_candidates=1, include_pois=False)
    assert grid.node_id[cands.node_idx].tolist() == [101]


def test_few_demand_nodes_are_all_taken(grid: RoadNetwork) -> None:
    nodes = _idx(grid, [100, 112, 124])
    cands = build_candidates(
        grid, _demand(grid, nodes, np.ones(3)), n_candidates=10, include_pois=False
    )
    assert cands.node_idx.tolist() == sorted(nodes.tolist())


def test_deterministic_for_a_seed(grid: RoadNetwork) -> None:
    rng = np.random.default_rng(7)
    demand = _demand(grid, np.arange(grid.n_nodes), rng.gamma(0.5, 10.0, grid.n_nodes))
    first = build_candidates(grid, demand, n_candidates=6, seed=3)
    again = build_candidates(grid, demand, n_candidates=6, seed=3)
    assert np.array_equal(first.node_idx, again.node_idx)
    assert np.array_equal(first.source, again.source)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_n_candidates(grid: RoadNetwork, bad: object) -> None:
    demand = _demand(grid, np.arange(3), np.ones(3))
    with pytest.raises(InputError, match="n_candidates"):
        build_candidates(grid, demand, n_candidates=bad)  # type: ignore[arg-type]


def test_columbus_candidates(shared_data: Path) -> None:
    net = load_network(shared_data / "osm" / "us_columbus_oh.osm.pbf")
    rng = np.random.default_rng(0)
    demand = _demand(net, np.arange(net.n_nodes), rng.gamma(0.5, 10.0, net.n_nodes))
    cands = build_candidates(net, demand, n_candidates=300, seed=0)
    nodes = int((cands.source == "node").sum())
    assert 250 <= nodes <= 300  # centres that snap to the same node count once
    assert np.all(suitable_nodes(net)[cands.node_idx])
    again = build_candidates(net, demand, n_candidates=300, seed=0)
    assert np.array_equal(cands.node_idx, again.node_idx)
