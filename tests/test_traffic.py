"""Tests of planner.ground.traffic: gravity-model flows routed on shortest paths."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse import csgraph

from planner.core.errors import InputError
from planner.ground.traffic import (
    default_mean_flow_veh_day,
    gravity_flows,
    gravity_model,
    mean_segment_flow,
)
from planner.io.facts import load_policy_facts


def _undirected(n: int, edges: list[tuple[int, int, float]]) -> sp.csr_array:
    """Symmetric length matrix (metres) from (u, v, length_m) edges."""
    u, v, w = (np.array(x) for x in zip(*edges, strict=True))
    return sp.csr_array((np.r_[w, w], (np.r_[u, v], np.r_[v, u])), shape=(n, n))


def _path_abc() -> sp.csr_array:
    return _undirected(3, [(0, 1, 1000.0), (1, 2, 1000.0)])


def _random_graph(n: int, seed: int, *, directed: bool) -> sp.csr_array:
    """A connected random graph with distinct random lengths (unique shortest paths)."""
    rng = np.random.default_rng(seed)
    ring = [(i, (i + 1) % n) for i in range(n)]
    extra = [tuple(rng.choice(n, 2, replace=False)) for _ in range(2 * n)]
    pairs = sorted({(int(a), int(b)) for a, b in ring + extra if a != b})
    length = rng.uniform(2_000, 50_000, len(pairs))
    if not directed:
        return _undirected(n, [(a, b, w) for (a, b), w in zip(pairs, length, strict=True)])
    back = rng.uniform(2_000, 50_000, len(pairs))  # different length each way
    rows = [a for a, _ in pairs] + [b for _, b in pairs]
    cols = [b for _, b in pairs] + [a for a, _ in pairs]
    return sp.csr_array((np.r_[length, back], (rows, cols)), shape=(n, n))


def _brute_force(
    length: sp.csr_array, nodes: np.ndarray, mass: np.ndarray, beta: float, min_km: float
) -> np.ndarray:
    """Dense edge flows (k = 1) from networkx shortest paths, pair by pair."""
    graph = nx.DiGraph()
    coo = length.tocoo()
    graph.add_weighted_edges_from(
        zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
    )
    flows = np.zeros(length.shape)
    for (a, ma), (b, mb) in itertools.permutations(zip(nodes, mass, strict=True), 2):
        path = nx.dijkstra_path(graph, int(a), int(b))
        d_km = nx.path_weight(graph, path, "weight") / 1000
        if d_km < min_km:
            continue
        for u, v in itertools.pairwise(path):
            flows[u, v] += ma * mb / d_km**beta
    return flows


def test_path_graph_by_hand() -> None:
    # A-B-C, 1 km edges, masses 1, 2, 3, beta 2, k 1:
    # T_AB = 2, T_AC = 3 / 2**2 = 0.75, T_BC = 6 (each direction).
    result = gravity_model(_path_abc(), [0, 1, 2], [1.0, 2.0, 3.0], k=1.0, min_distance_km=0)
    expected = np.array([[0, 2.75, 0], [2.75, 0, 6.75], [0, 6.75, 0]])
    assert np.allclose(result.flows_veh_day.toarray(), expected)
    assert result.n_pairs == 6
    assert result.trips_veh_day == pytest.approx(2 * (2 + 0.75 + 6))
    assert result.vehicle_km_day == pytest.approx(2 * (2.75 + 6.75))
    assert result.mean_flow_veh_day == pytest.approx(19.0 / 2)  # 19 veh-km over 2 km


def test_min_distance_and_beta() -> None:
    flows = gravity_flows(_path_abc(), [0, 1, 2], [1.0, 2.0, 3.0], k=1.0, min_distance_km=1.5)
    # Only A <-> C (2 km) is far enough: 3 / 2**1 trips with beta = 1.
    ac = gravity_flows(
        _path_abc(), [0, 1, 2], [1.0, 2.0, 3.0], k=1.0, beta=1.0, min_distance_km=1.5
    ).toarray()
    assert np.allclose(flows.toarray(), np.array([[0, 0.75, 0], [0.75, 0, 0.75], [0, 0.75, 0]]))
    assert np.allclose(ac[ac > 0], 1.5)


def test_bridge_carries_every_crossing_trip() -> None:
    # Two triangles joined by the bridge 2-3.
    edges = [(0, 1, 3e3), (1, 2, 4e3), (0, 2, 6e3), (2, 3, 20e3), (3, 4, 5e3), (4, 5, 2e3)]
    edges += [(3, 5, 6e3)]
    length = _undirected(6, edges)
    nodes, mass = np.arange(6), np.array([5.0, 1.0, 2.0, 3.0, 7.0, 4.0])
    flows = gravity_flows(length, nodes, mass, k=1.0, beta=1.5, min_distance_km=0).toarray()
    dist = csgraph.dijkstra(length) / 1000
    left, right = [0, 1, 2], [3, 4, 5]
    crossing = sum(mass[i] * mass[j] / dist[i, j] ** 1.5 for i in left for j in right)
    assert flows[2, 3] == pytest.approx(crossing)
    assert flows[3, 2] == pytest.approx(crossing)


def test_symmetric_graph_gives_symmetric_flows() -> None:
    length = _random_graph(60, seed=1, directed=False)
    rng = np.random.default_rng(2)
    nodes = rng.choice(60, 25, replace=False)
    flows = gravity_flows(length, nodes, rng.uniform(1, 100, 25), k=1.0).toarray()
    assert np.allclose(flows, flows.T, rtol=1e-9)
    assert flows.sum() > 0


@pytest.mark.parametrize("directed", [False, True])
def test_matches_brute_force_networkx(directed: bool) -> None:
    length = _random_graph(40, seed=5, directed=directed)
    rng = np.random.default_rng(6)
    nodes = rng.choice(40, 15, replace=False)
    mass = rng.uniform(1, 50, 15)
    got = gravity_flows(length, nodes, mass, k=1.0, beta=2.0, min_distance_km=20.0).toarray()
    want = _brute_force(length, nodes, mass, beta=2.0, min_km=20.0)
    assert np.allclose(got, want, rtol=1e-9, atol=1e-12)


def test_vehicle_km_equals_trips_times_distance() -> None:
    length = _random_graph(300, seed=7, directed=True)
    rng = np.random.default_rng(8)
    nodes = rng.choice(300, 120, replace=False)
    mass = rng.pareto(1.5, 120) + 1
    result = gravity_model(length, nodes, mass, k=1.0, beta=1.0, min_distance_km=0)
    dist_km = csgraph.dijkstra(length, indices=nodes)[:, nodes] / 1000
    np.fill_diagonal(dist_km, np.inf)
    trips = np.outer(mass, mass) / dist_km
    off_diagonal = ~np.eye(120, dtype=bool)
    assert result.trips_veh_day == pytest.approx(trips.sum(), rel=1e-9)
    veh_km = (trips * np.where(off_diagonal, dist_km, 0.0)).sum()
    assert result.vehicle_km_day == pytest.approx(veh_km, rel=1e-9)


def test_calibration_to_target_and_default() -> None:
    length = _random_graph(50, seed=9, directed=False)
    nodes, mass = np.arange(0, 50, 3), np.linspace(1, 10, 17)
    result = gravity_model(length, nodes, mass, target_mean_flow_veh_day=30_000.0)
    assert mean_segment_flow(result.flows_veh_day, length) == pytest.approx(30_000.0)
    unit = gravity_model(length, nodes, mass, k=1.0)
    assert np.allclose(result.flows_veh_day.toarray(), result.k * unit.flows_veh_day.toarray())
    facts = load_policy_facts()
    us = gravity_model(length, nodes, mass)
    assert us.mean_flow_veh_day == pytest.approx(facts["us_mean_corridor_aadt_veh_day"].value)
    cn = gravity_model(length, nodes, mass, country="cn")
    assert cn.mean_flow_veh_day == pytest.approx(default_mean_flow_veh_day("cn"))


def test_sampled_pairs_are_symmetric_and_bounded() -> None:
    length = _random_graph(80, seed=11, directed=False)
    rng = np.random.default_rng(12)
    nodes = rng.choice(80, 40, replace=False)
    mass = rng.uniform(1, 100, 40)
    full = gravity_model(length, nodes, mass, k=1.0, min_distance_km=0)
    sampled = gravity_model(length, nodes, mass, k=1.0, max_pairs=200, nearest_k=3)
    assert full.n_pairs == 40 * 39
    # 10 hubs (10 * 9 = 90 <= 100 ordered pairs) plus 3 nearest each way.
    assert 90 <= sampled.n_pairs <= 90 + 2 * 40 * 3
    flows = sampled.flows_veh_day.toarray()
    assert np.allclose(flows, flows.T, rtol=1e-9)
    assert 0 < flows.sum() < full.flows_veh_day.sum()


def test_duplicate_origins_merge_and_disconnected_pairs_are_skipped() -> None:
    length = sp.block_diag([_path_abc(), _path_abc()], format="csr")
    merged = gravity_flows(
        length, [0, 0, 2, 3, 5], [1.0, 1.0, 3.0, 1.0, 1.0], k=1.0, min_distance_km=0.0
    )
    single = gravity_flows(length, [0, 2, 3, 5], [2.0, 3.0, 1.0, 1.0], k=1.0, min_distance_km=0.0)
    assert np.allclose(merged.toarray(), single.toarray())
    # No edge joins the two components, and each carries only its own pair (2 km apart).
    dense = merged.toarray()
    assert dense[0, 1] == pytest.approx(2 * 3 / 2**2) and dense[3, 4] == pytest.approx(1 / 4)


def test_flows_keep_the_length_pattern() -> None:
    length = _path_abc()
    flows = gravity_flows(length, [0, 2], [1.0, 1.0], k=1.0, min_distance_km=0)
    assert isinstance(flows, sp.csr_array)
    assert np.array_equal(flows.indptr, length.indptr)
    assert np.array_equal(flows.indices, length.indices)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.eye(3), [0], [1.0]), {}, "length_m"),
        ((sp.csr_array((2, 3)), [0], [1.0]), {}, "square"),
        ((sp.csr_array(-np.eye(3)), [0], [1.0]), {}, "length_m"),
        ((_path_abc(), [0, 1], [1.0]), {}, "one mass per origin"),
        ((_path_abc(), [0, 7], [1.0, 1.0]), {}, "origin_nodes"),
        ((_path_abc(), [0.5, 1.0], [1.0, 1.0]), {}, "origin_nodes"),
        ((_path_abc(), [0, 1], [1.0, -1.0]), {}, "mass"),
        ((_path_abc(), [0, 1], [1.0, 1.0]), {"beta": -1.0}, "beta"),
        ((_path_abc(), [0, 1], [1.0, 1.0]), {"k": float("nan")}, "k"),
        ((_path_abc(), [0, 1], [1.0, 1.0]), {"max_pairs": 0}, "max_pairs"),
        ((_path_abc(), [0, 1], [1.0, 1.0]), {"min_distance_km": -1}, "min_distance_km"),
        ((_path_abc(), [0, 1], [1.0, 1.0]), {"country": "fr"}, "country"),
    ],
)
def test_validation(args: tuple[object, ...], kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        gravity_flows(*args, **kwargs)  # type: ignore[arg-type]


def test_parallel_entries_take_the_shortest() -> None:
    # Two entries for edge 0 -> 1 (COO duplicates): 5 km and 1 km; the 1 km one is used.
    length = sp.coo_array(([5000.0, 1000.0, 1000.0], ([0, 0, 1], [1, 1, 0])), shape=(2, 2))
    result = gravity_model(length, [0, 1], [1.0, 1.0], k=1.0, min_distance_km=0)
    assert result.flows_veh_day.toarray()[0, 1] == pytest.approx(1.0)
    assert result.mean_flow_veh_day == pytest.approx(2.0)


def test_contracted_routing_gives_the_same_flows() -> None:
    """Flows routed on the chain-contracted graph and expanded equal flows on the full graph."""
    import scipy.sparse as sp

    from planner.ground._chains import contract, expand
    from planner.ground.traffic import gravity_flows

    rng = np.random.default_rng(3)
    # a ladder: two long chains joined by rungs every 5 nodes, random edge lengths
    n_side = 40
    rows, cols, w = [], [], []
    for side in (0, n_side):
        for i in range(n_side - 1):
            rows.append(side + i)
            cols.append(side + i + 1)
            w.append(rng.uniform(1_000, 5_000))
    for i in range(0, n_side, 5):
        rows.append(i)
        cols.append(n_side + i)
        w.append(rng.uniform(1_000, 5_000))
    n = 2 * n_side
    half = sp.csr_array((w, (rows, cols)), shape=(n, n))
    graph = sp.csr_array(half + half.T)
    origins = np.array([0, 7, 23, 39, 41, 66, 79])
    mass = rng.uniform(1e4, 1e6, origins.size)
    full = gravity_flows(graph, origins, mass, k=1e-3, min_distance_km=0.0)
    small = contract(graph, np.isin(np.arange(n), origins))
    assert small.kept.size < n / 2
    local = np.searchsorted(small.kept, origins)
    part = gravity_flows(small.length_m, local, mass, k=1e-3, min_distance_km=0.0)
    back = expand(part, small, n)
    coo = graph.tocoo()
    a = np.asarray(full[coo.row, coo.col]).ravel()
    b = np.asarray(back[coo.row, coo.col]).ravel()
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9)
    assert a.max() > 0
