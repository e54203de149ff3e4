"""The volume bound, reduced-cost fixing and auto's routing of p-median, against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from planner.optimize import solve_p_median
from planner.optimize._median_bound import (
    CostSorted,
    closed_by_reduced_cost,
    restrict,
    volume_bound,
)
from planner.optimize._median_search import Entries
from planner.optimize.pmedian import AUTO_DIRECT_MAX_PAIRS, routes_to_exact


def _instance(seed: int, m: int = 9, n: int = 6, k: int = 3) -> tuple[sp.csr_array, np.ndarray]:
    """Random points; each row allowed its ``k`` nearest candidates; integer weights."""
    rng = np.random.default_rng(seed)
    demand, cand = rng.uniform(0, 10, (m, 2)), rng.uniform(0, 10, (n, 2))
    dist = np.sqrt(((demand[:, None, :] - cand[None, :, :]) ** 2).sum(axis=2))
    nearest = np.argsort(dist, axis=1)[:, :k]
    rows = np.repeat(np.arange(m), k)
    cost = sp.csr_array((dist[rows, nearest.ravel()], (rows, nearest.ravel())), shape=(m, n))
    cost.sort_indices()
    return cost, rng.integers(1, 5, m).astype(float)


def _total(cost: sp.csr_array, weights: np.ndarray, sites: tuple[int, ...]) -> float:
    """Weighted cost of serving each row by its cheapest allowed site in ``sites`` (inf if none)."""
    dense = np.full(cost.shape, np.inf)
    coo = cost.tocoo()
    dense[coo.row, coo.col] = coo.data
    best = dense[:, list(sites)].min(axis=1)
    return float((weights * best).sum()) if np.isfinite(best).all() else np.inf


def _entries(cost: sp.csr_array, weights: np.ndarray) -> Entries:
    rows = np.repeat(np.arange(cost.shape[0]), np.diff(cost.indptr))
    return Entries.from_csr(
        sp.csr_array((cost.data * weights[rows], cost.indices, cost.indptr), shape=cost.shape)
    )


@pytest.mark.parametrize("seed", range(12))
def test_volume_bound_is_below_the_enumerated_optimum(seed: int) -> None:
    cost, weights = _instance(seed)
    p = 2 + seed % 3
    totals = {s: _total(cost, weights, s) for s in itertools.combinations(range(6), p)}
    optimum = min(totals.values())
    entries = _entries(cost, weights)
    start = np.minimum.reduceat(entries.cost, entries.indptr[:-1])
    upper = optimum if np.isfinite(optimum) else 1e6
    dual = volume_bound(
        CostSorted.of(entries), p, upper * 1.2, start=start, iterations=300, stop=np.inf
    )
    assert dual.value <= optimum * (1 + 1e-12)
    assert dual.chosen.size == p
    # the value is what its multipliers give, recomputed here: sum u + p smallest reduced sums
    dense = np.full(cost.shape, np.inf)
    dense[entries.row, entries.col] = entries.cost
    rho = np.minimum(0.0, dense - dual.u[:, None]).sum(axis=0)
    assert dual.value == pytest.approx(dual.u.sum() + np.sort(rho)[:p].sum(), rel=1e-9)


@pytest.mark.parametrize("seed", range(12))
def test_reduced_cost_fixing_only_closes_sites_of_worse_answers(seed: int) -> None:
    cost, weights = _instance(seed, m=10, n=7, k=4)
    p = 2 + seed % 2
    totals = {s: _total(cost, weights, s) for s in itertools.combinations(range(7), p)}
    optimum = min(totals.values())
    entries = _entries(cost, weights)
    start = np.minimum.reduceat(entries.cost, entries.indptr[:-1])
    dual = volume_bound(
        CostSorted.of(entries), p, optimum, start=start, iterations=400, stop=np.inf
    )
    closed = closed_by_reduced_cost(dual, optimum, n=7)
    for j in np.flatnonzero(closed):
        with_j = min(t for s, t in totals.items() if j in s)
        assert with_j > optimum
    keep = ~closed
    sub, columns = restrict(entries, keep)
    assert sub.shape == (10, int(keep.sum()))
    assert np.array_equal(columns, np.flatnonzero(keep))
    assert sub.cost.sum() == pytest.approx(entries.cost[keep[entries.col]].sum())


@pytest.mark.parametrize("seed", range(4))
def test_heuristic_bound_and_gap_on_a_k_nearest_instance(seed: int) -> None:
    cost, weights = _instance(100 + seed, m=300, n=60, k=10)
    heuristic = solve_p_median(cost, weights, 8, method="heuristic", seed=seed)
    exact = solve_p_median(cost, weights, 8, method="exact", seed=seed)
    assert exact.status == "optimal"
    assert heuristic.bound <= exact.objective * (1 + 1e-9)
    assert heuristic.objective >= exact.objective * (1 - 1e-9)
    gap = (heuristic.objective - heuristic.bound) / heuristic.objective
    assert heuristic.gap == pytest.approx(max(gap, 0.0), abs=1e-12)
    assert _total(cost, weights, tuple(heuristic.selected)) == pytest.approx(heuristic.objective)


def test_auto_routes_by_size_alone() -> None:
    assert routes_to_exact(AUTO_DIRECT_MAX_PAIRS)
    assert not routes_to_exact(AUTO_DIRECT_MAX_PAIRS + 1)
    small, weights = _instance(7, m=40, n=12, k=5)
    assert small.nnz <= AUTO_DIRECT_MAX_PAIRS
    first = solve_p_median(small, weights, 3)
    again = solve_p_median(small, weights, 3)
    assert first.method == again.method == "exact"
    assert np.array_equal(first.selected, again.selected)
    best = min(_total(small, weights, s) for s in itertools.combinations(range(12), 3))
    assert first.objective == pytest.approx(best)
