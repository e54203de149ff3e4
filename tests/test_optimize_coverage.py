"""Coverage and distance matrix builders, checked against brute force."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse import csgraph
from scipy.spatial.distance import cdist

from planner.core.errors import InputError
from planner.optimize import (
    coverage_from_network,
    coverage_from_points,
    distances_from_network,
    distances_from_points,
)


def _points(seed: int, m: int = 300, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 10_000, size=(m, 2))
    cand = rng.uniform(0, 10_000, size=(n, 2))
    cand[0] = demand[5]  # a candidate on a demand point: distance exactly 0
    return demand, cand


@pytest.mark.parametrize("chunk_rows", [1, 37, 100_000])
def test_points_coverage_matches_all_pairs(chunk_rows: int) -> None:
    demand, cand = _points(0)
    full = cdist(demand, cand)
    cover = coverage_from_points(demand, cand, 2_000.0, chunk_rows=chunk_rows)
    assert isinstance(cover, sp.csr_array)
    assert cover.dtype == bool
    assert cover.shape == (300, 40)
    assert np.array_equal(cover.toarray(), full <= 2_000.0)
    assert cover.has_sorted_indices


def test_points_distances_keep_zero_and_boundary() -> None:
    demand = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    cand = np.array([[0.0, 0.0]])
    dist = distances_from_points(demand, cand, 5.0)
    assert dist.nnz == 2  # the zero distance is stored, the pair at exactly 5 m is covered
    assert dist[[0], [0]][0] == 0.0
    assert dist[[1], [0]][0] == pytest.approx(5.0)
    demand, cand = _points(1)
    full = cdist(demand, cand)
    dist = distances_from_points(demand, cand, 1_500.0)
    stored = sp.coo_array(dist)
    assert np.allclose(stored.data, full[stored.row, stored.col])
    assert dist.nnz == int((full <= 1_500.0).sum())


def _grid_graph(side: int) -> tuple[sp.csr_array, np.ndarray]:
    """A directed grid: eastward and northward edges of 100 m, westward of 300 m (uneven)."""
    idx = np.arange(side * side).reshape(side, side)
    heads, tails, lengths = [], [], []
    for r in range(side):
        for c in range(side - 1):
            heads += [idx[r, c], idx[r, c + 1]]
            tails += [idx[r, c + 1], idx[r, c]]
            lengths += [100.0, 300.0]
    for r in range(side - 1):
        for c in range(side):
            heads += [idx[r, c], idx[r + 1, c]]
            tails += [idx[r + 1, c], idx[r, c]]
            lengths += [100.0, 100.0]
    graph = sp.csr_array((lengths, (heads, tails)), shape=(side * side, side * side))
    return graph, idx


@pytest.mark.parametrize("batch_bytes", [1, 10**9])
def test_network_distances_are_demand_to_candidate(batch_bytes: int) -> None:
    graph, _ = _grid_graph(6)
    demand = np.arange(36)
    cand = np.array([0, 7, 35, 20])
    full = csgraph.dijkstra(graph, directed=True)  # full[u, v]: shortest u -> v
    want = full[np.ix_(demand, cand)]
    dist = distances_from_network(graph, demand, cand, 700.0, batch_bytes=batch_bytes)
    got = np.full(want.shape, np.inf)
    coo = sp.coo_array(dist)
    got[coo.row, coo.col] = coo.data
    assert np.allclose(np.where(want <= 700.0, want, np.inf), got)
    cover = coverage_from_network(graph, demand, cand, 700.0, batch_bytes=batch_bytes)
    assert np.array_equal(cover.toarray(), want <= 700.0)
    # a demand on a candidate's node is stored with distance 0
    assert dist[[0], [0]][0] == 0.0
    assert sp.coo_array(dist).nnz == int((want <= 700.0).sum())


def test_network_direction_one_way_street() -> None:
    # 0 -> 1 is a one-way street of 100 m; going back 1 -> 0 takes 900 m
    graph = sp.csr_array(([100.0, 900.0], ([0, 1], [1, 0])), shape=(2, 2))
    cover = coverage_from_network(graph, np.array([0]), np.array([1]), 500.0)
    assert cover.toarray()[0, 0]  # demand at 0 reaches the candidate at 1 in 100 m
    cover = coverage_from_network(graph, np.array([1]), np.array([0]), 500.0)
    assert not cover.toarray()[0, 0]  # demand at 1 needs 900 m to reach the candidate at 0


def test_network_all_reachable_pairs_with_infinite_radius() -> None:
    graph, _ = _grid_graph(4)
    dist = distances_from_network(graph, np.arange(16), np.array([3, 12]), np.inf)
    assert dist.nnz == 32


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"radius_m": -1.0}, "radius_m"),
        ({"radius_m": float("nan")}, "radius_m"),
        ({"demand_xy": np.zeros((3, 3))}, "demand_xy"),
        ({"cand_xy": np.zeros((0, 2))}, "cand_xy"),
        ({"demand_xy": np.array([[np.nan, 0.0]])}, "demand_xy"),
        ({"chunk_rows": 0}, "chunk_rows"),
    ],
)
def test_points_bad_input(kwargs: dict[str, Any], needle: str) -> None:
    args: dict[str, Any] = {
        "demand_xy": np.zeros((2, 2)),
        "cand_xy": np.zeros((2, 2)),
        "radius_m": 10.0,
    }
    args.update(kwargs)
    with pytest.raises(InputError, match=needle):
        coverage_from_points(**args)


def test_network_bad_input() -> None:
    graph, _ = _grid_graph(3)
    with pytest.raises(InputError, match="cand_nodes"):
        coverage_from_network(graph, np.arange(3), np.array([99]), 100.0)
    with pytest.raises(InputError, match="graph_length_m"):
        coverage_from_network(np.ones((3, 3)), np.arange(3), np.arange(3), 100.0)
    with pytest.raises(InputError, match="demand_nodes"):
        coverage_from_network(graph, np.array([0.5]), np.arange(3), 100.0)
    negative = sp.csr_array(([-1.0], ([0], [1])), shape=(2, 2))
    with pytest.raises(InputError, match="graph_length_m"):
        distances_from_network(negative, np.arange(2), np.arange(2), 100.0)


@pytest.mark.parametrize("layout", ["shuffled", "shared_nodes", "few_nodes"])
def test_network_distances_do_not_depend_on_how_demand_sits_on_nodes(layout: str) -> None:
    # one demand point per node in any order, several points on a node, or demand on a few nodes
    graph, _ = _grid_graph(6)
    rng = np.random.default_rng(3)
    demand = {
        "shuffled": rng.permutation(36),
        "shared_nodes": rng.integers(0, 36, size=50),
        "few_nodes": np.array([5, 30, 5, 17]),
    }[layout]
    cand = np.array([35, 0, 14])
    full = csgraph.dijkstra(graph, directed=True)
    want = full[np.ix_(demand, cand)]
    dist = distances_from_network(graph, demand, cand, 650.0, batch_bytes=8 * 36 * 2)
    got = np.full(want.shape, np.inf)
    coo = sp.coo_array(dist)
    got[coo.row, coo.col] = coo.data
    assert np.array_equal(np.where(want <= 650.0, want, np.inf), got)
    assert dist.has_sorted_indices and dist.nnz == int((want <= 650.0).sum())
