"""Optimizer models against brute-force enumeration on tiny instances, plus invariants."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from planner.optimize import (
    AssignmentResult,
    CapacitatedResult,
    CoverageResult,
    relative_gap,
    solve_capacitated_max_coverage,
    solve_capacitated_set_cover,
    solve_max_coverage,
    solve_p_center,
    solve_p_median,
    solve_set_cover,
)

METHODS = ("exact", "heuristic", "auto")
STATUSES = {"optimal", "time_limit", "heuristic", "infeasible"}


def _instance(
    seed: int, m: int = 24, n: int = 9, density: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cover = rng.random((m, n)) < density
    weights = rng.integers(1, 50, size=m).astype(float)
    cost = rng.integers(1, 100, size=(m, n)).astype(float)
    return cover, weights, cost


def _covered(cover: np.ndarray, sites: Iterable[int]) -> np.ndarray:
    return np.asarray(cover[:, list(sites)].any(axis=1))


def _check_common(result: Any, *, maximize: bool) -> None:
    assert result.method in ("exact", "heuristic")
    assert result.status in STATUSES
    assert result.gap >= 0
    assert result.seconds >= 0
    assert result.selected.dtype == np.int64
    assert np.all(np.diff(result.selected) > 0)  # sorted, unique
    if maximize:
        assert result.bound >= result.objective - 1e-9
    else:
        assert result.bound <= result.objective + 1e-9
    assert result.gap == pytest.approx(
        relative_gap(result.objective, result.bound, maximize=maximize)
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("method", METHODS)
def test_max_coverage_matches_enumeration(seed: int, method: str) -> None:
    cover, weights, _ = _instance(seed)
    n = cover.shape[1]
    for p in (1, 2, 3):
        best = max(weights[_covered(cover, s)].sum() for s in itertools.combinations(range(n), p))
        result = solve_max_coverage(sp.csr_array(cover), weights, p, method=method)
        assert isinstance(result, CoverageResult)
        _check_common(result, maximize=True)
        assert result.selected.shape == (p,)
        recomputed = weights[_covered(cover, result.selected)].sum()
        assert result.objective == pytest.approx(recomputed)
        assert result.covered_weight == pytest.approx(recomputed)
        assert np.array_equal(result.covered, _covered(cover, result.selected))
        assert result.bound >= best - 1e-9  # a valid bound on the true optimum
        if method != "heuristic" or result.status == "optimal":
            assert result.objective == pytest.approx(best)
        else:
            assert result.objective <= best + 1e-9


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("method", METHODS)
def test_set_cover_matches_enumeration(seed: int, method: str) -> None:
    cover, weights, _ = _instance(seed, density=0.35)
    cover[:, 0] |= ~cover.any(axis=1)  # make full cover reachable
    n = cover.shape[1]
    total = weights.sum()
    for share in (1.0, 0.8, 0.5):
        fewest = min(
            k
            for k in range(1, n + 1)
            if any(
                weights[_covered(cover, s)].sum() >= share * total - 1e-9
                for s in itertools.combinations(range(n), k)
            )
        )
        result = solve_set_cover(sp.csr_array(cover), weights, min_share=share, method=method)
        _check_common(result, maximize=False)
        assert result.covered_share >= share - 1e-9
        assert result.objective == result.selected.shape[0]
        assert result.bound <= fewest
        if method != "heuristic" or result.status == "optimal":
            assert result.objective == fewest


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("method", METHODS)
def test_p_median_matches_enumeration(seed: int, method: str) -> None:
    _, weights, cost = _instance(seed)
    n = cost.shape[1]
    for p in (1, 2, 4):
        best = min(
            (weights * cost[:, list(s)].min(axis=1)).sum()
            for s in itertools.combinations(range(n), p)
        )
        result = solve_p_median(cost, weights, p, method=method, seed=seed)
        assert isinstance(result, AssignmentResult)
        _check_common(result, maximize=False)
        assert result.selected.shape == (p,)
        nearest = cost[:, result.selected].min(axis=1)
        assert result.objective == pytest.approx((weights * nearest).sum())
        assert np.allclose(result.assigned_cost, nearest)
        assert np.isin(result.assignment, result.selected).all()
        assert result.bound <= best + 1e-6
        if method != "heuristic" or result.status == "optimal":
            assert result.objective == pytest.approx(best)


def test_p_median_sparse_matrix_respects_forbidden_pairs() -> None:
    _, weights, cost = _instance(7, m=20, n=8)
    rng = np.random.default_rng(7)
    allowed = rng.random(cost.shape) < 0.5
    allowed[np.arange(20), rng.integers(0, 8, 20)] = True
    allowed[:, 0] = True  # every row can use site 0, so p = 1 is feasible
    dense = np.where(allowed, cost, np.inf)
    dense[3, 0] = 0.0  # an explicit zero cost must stay allowed
    rows, cols = np.nonzero(np.isfinite(dense))
    sparse = sp.csr_array((dense[rows, cols], (rows, cols)), shape=dense.shape)
    for p in (1, 3):
        best = min(
            (weights * dense[:, list(s)].min(axis=1)).sum()
            for s in itertools.combinations(range(8), p)
        )
        for matrix in (dense, sparse):
            result = solve_p_median(matrix, weights, p, method="exact")
            assert result.objective == pytest.approx(best)
            assert np.isfinite(dense[np.arange(20), result.assignment]).all()


@pytest.mark.parametrize("method", METHODS)
def test_p_center_matches_enumeration(method: str) -> None:
    _, _, cost = _instance(11, m=18, n=8)
    for p in (1, 2, 3):
        best = min(cost[:, list(s)].min(axis=1).max() for s in itertools.combinations(range(8), p))
        result = solve_p_center(cost, p, method=method)
        _check_common(result, maximize=False)
        assert result.selected.shape == (p,)
        assert result.objective == cost[:, result.selected].min(axis=1).max()
        assert result.bound <= best
        if method != "heuristic" or result.status == "optimal":
            assert result.objective == best


def _max_flow(cover: np.ndarray, weights: np.ndarray, cap: np.ndarray, sites: Iterable[int]) -> int:
    """Best servable amount for open ``sites`` by an independent integer max-flow."""
    m, n = cover.shape
    source, sink = m + n, m + n + 1
    rows, cols = np.nonzero(cover[:, list(sites)])
    cols = np.asarray(list(sites))[cols]
    big = int(weights.sum()) + 1
    heads = np.concatenate([np.full(m, source), rows, m + np.arange(n)])
    tails = np.concatenate([np.arange(m), m + cols, np.full(n, sink)])
    caps = np.concatenate([weights.astype(np.int64), np.full(rows.size, big), cap.astype(np.int64)])
    graph = sp.csr_array((caps.astype(np.int32), (heads, tails)), shape=(m + n + 2, m + n + 2))
    return int(maximum_flow(graph, source, sink).flow_value)


def _check_assignment(
    result: CapacitatedResult, cover: np.ndarray, weights: np.ndarray, cap: np.ndarray
) -> None:
    amounts = result.assignment.toarray()
    assert (amounts >= -1e-9).all()
    assert (amounts.sum(axis=1) <= weights + 1e-6).all()
    assert (amounts.sum(axis=0) <= cap + 1e-6).all()
    assert not (amounts > 1e-9)[~cover].any()  # only within coverage
    used = np.flatnonzero(amounts.sum(axis=0) > 1e-9)
    assert np.isin(used, result.selected).all()
    assert result.served_weight == pytest.approx(amounts.sum())
    assert result.unmet == pytest.approx(weights.sum() - amounts.sum())
    assert np.allclose(result.load, amounts.sum(axis=0))


def _capacity(seed: int, low: int, high: int, *, slack: bool) -> np.ndarray:
    """Random capacities, or capacities no site can fill (the models reduce to plain cover)."""
    if slack:
        return np.full(7, 10_000.0)
    return np.random.default_rng(seed).integers(low, high, size=7).astype(float)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("slack", [False, True])
def test_capacitated_max_coverage_matches_enumeration(seed: int, method: str, slack: bool) -> None:
    cover, weights, _ = _instance(seed, m=14, n=7, density=0.35)
    cap = _capacity(seed, 10, 80, slack=slack)
    for p in (1, 2, 3):
        best = max(_max_flow(cover, weights, cap, s) for s in itertools.combinations(range(7), p))
        result = solve_capacitated_max_coverage(sp.csr_array(cover), weights, cap, p, method=method)
        _check_common(result, maximize=True)
        _check_assignment(result, cover, weights, cap)
        assert result.selected.shape == (p,)
        assert result.objective == pytest.approx(_max_flow(cover, weights, cap, result.selected))
        assert result.bound >= best - 1e-6
        if method != "heuristic" or result.status == "optimal":
            assert result.objective == pytest.approx(best)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("slack", [False, True])
def test_capacitated_set_cover_matches_enumeration(seed: int, method: str, slack: bool) -> None:
    cover, weights, _ = _instance(seed, m=14, n=7, density=0.35)
    cap = _capacity(seed, 30, 120, slack=slack)
    total = weights.sum()
    reach = _max_flow(cover, weights, cap, range(7)) / total
    for share in (0.4, 0.7 * reach):
        fewest = min(
            k
            for k in range(1, 8)
            if any(
                _max_flow(cover, weights, cap, s) >= share * total - 1e-9
                for s in itertools.combinations(range(7), k)
            )
        )
        result = solve_capacitated_set_cover(
            sp.csr_array(cover), weights, cap, min_share=share, method=method
        )
        _check_common(result, maximize=False)
        _check_assignment(result, cover, weights, cap)
        assert result.served_share >= share - 1e-6
        assert result.bound <= fewest
        if method != "heuristic" or result.status == "optimal":
            assert result.objective == fewest


def test_slack_capacity_gives_the_coverage_answer() -> None:
    cover, weights, _ = _instance(7, m=40, n=12, density=0.2)
    plain = solve_max_coverage(sp.csr_array(cover), weights, 3, method="exact")
    capped = solve_capacitated_max_coverage(
        sp.csr_array(cover), weights, weights.sum(), 3, method="exact"
    )
    assert capped.objective == pytest.approx(plain.objective)
    _check_assignment(capped, cover, weights, np.full(12, weights.sum()))
    # one unit less capacity than a site is offered: the capacitated engine must run
    offered = (cover * weights[:, None]).sum(axis=0)
    tight = solve_capacitated_max_coverage(
        sp.csr_array(cover), weights, offered - 1, 3, method="exact"
    )
    _check_assignment(tight, cover, weights, offered - 1)
    assert tight.objective <= plain.objective + 1e-9
    assert tight.objective == pytest.approx(_max_flow(cover, weights, offered - 1, tight.selected))


def test_capacitated_assignment_splits_demand() -> None:
    # one row of 10 covered by two sites of capacity 6: both must serve it
    cover = sp.csr_array(np.array([[True, True]]))
    result = solve_capacitated_set_cover(cover, [10.0], [6.0, 6.0], method="exact")
    assert result.objective == 2
    assert result.assignment.toarray().sum() == pytest.approx(10.0)
    assert (result.assignment.toarray() <= 6 + 1e-9).all()


def test_merged_rows_keep_their_own_weights() -> None:
    # rows 0 and 1 have the same coverage and are merged inside; results map back per row
    cover = sp.csr_array(np.array([[1, 0], [1, 0], [0, 1]], dtype=bool))
    weights = np.array([3.0, 1.0, 5.0])
    result = solve_capacitated_max_coverage(cover, weights, [2.0, 5.0], 2, method="exact")
    amounts = result.assignment.toarray()
    assert amounts[:, 0].sum() == pytest.approx(2.0)
    assert (amounts.sum(axis=1) <= weights + 1e-9).all()
    coverage = solve_max_coverage(cover, weights, 1)
    assert coverage.objective == 5.0
    assert np.array_equal(coverage.covered, [False, False, True])


def test_same_seed_same_answer() -> None:
    cover, weights, cost = _instance(3, m=60, n=20, density=0.15)
    first = solve_p_median(cost, weights, 5, method="heuristic", seed=4)
    again = solve_p_median(cost, weights, 5, method="heuristic", seed=4)
    assert np.array_equal(first.selected, again.selected)
    one = solve_max_coverage(sp.csr_array(cover), weights, 4, method="heuristic", seed=2)
    two = solve_max_coverage(sp.csr_array(cover), weights, 4, method="heuristic", seed=2)
    assert np.array_equal(one.selected, two.selected)


def test_dense_and_sparse_coverage_agree() -> None:
    cover, weights, _ = _instance(5)
    dense = solve_max_coverage(cover, weights, 3, method="exact")
    sparse = solve_max_coverage(sp.csr_array(cover), weights, 3, method="exact")
    assert dense.objective == sparse.objective


def test_nothing_coverable_gives_zero() -> None:
    cover = sp.csr_array((5, 4), dtype=bool)
    result = solve_max_coverage(cover, np.ones(5), 2)
    assert result.objective == 0.0
    assert result.selected.shape == (2,)
    assert result.covered_share == 0.0


def test_summary_is_json_friendly() -> None:
    cover, weights, _ = _instance(1)
    summary = solve_max_coverage(sp.csr_array(cover), weights, 2).summary()
    assert summary["n_selected"] == 2
    assert summary["method"] in ("exact", "heuristic")
    assert all(not isinstance(v, np.ndarray) for v in summary.values())


def test_relative_gap() -> None:
    assert relative_gap(90.0, 100.0, maximize=True) == pytest.approx(1 / 9)
    assert relative_gap(110.0, 100.0, maximize=False) == pytest.approx(10 / 110)
    assert relative_gap(0.0, 0.0, maximize=True) == 0.0
    assert relative_gap(5.0, 4.0, maximize=True) == 0.0  # never negative
    assert math.isinf(relative_gap(1.0, math.inf, maximize=True))


def test_stored_false_entries_cover_nothing() -> None:
    from planner.core.errors import InputError
    from planner.optimize import solve_max_coverage, solve_set_cover

    # row 1 (weight 5) has only a stored False entry: no candidate covers it
    cover = sp.csr_array(
        (np.array([True, False, True]), (np.array([0, 1, 2]), np.array([0, 1, 1]))), shape=(3, 2)
    )
    weights = np.array([1.0, 5.0, 1.0])
    result = solve_max_coverage(cover, weights, 1)
    assert result.objective == pytest.approx(1.0)
    assert not result.covered[1]
    with pytest.raises(InputError, match="share"):
        solve_set_cover(cover, weights, min_share=0.5)
