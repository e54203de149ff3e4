"""The MCLP tabu search: its incremental move table, and its answers on enumerable instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from planner.optimize._cover_tabu import _build, _close, _open, tabu_search

FIELDS = ("counts", "owner", "slot_of", "add", "loss", "extra")


def _random(seed: int, m: int, n: int, density: float) -> tuple[sp.csr_array, np.ndarray]:
    rng = np.random.default_rng(seed)
    return sp.csr_array(rng.random((m, n)) < density), rng.random(m) * 10


def _value(csr: sp.csr_array, w: np.ndarray, sites: np.ndarray) -> float:
    return float(w[csr.toarray()[:, sites].any(axis=1)].sum())


@pytest.mark.parametrize("seed", range(12))
def test_incremental_moves_match_a_rebuild(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(4, 30))
    p = int(rng.integers(1, n))
    csr, w = _random(seed, int(rng.integers(5, 60)), n, 0.2)
    csc = sp.csc_array(csr)
    state = _build(csr, csc, w, rng.choice(n, p, replace=False))
    for _ in range(25):
        j = int(state.slots[rng.integers(p)])
        k = int(rng.choice(np.flatnonzero(state.slot_of < 0)))
        _open(csr, csc, w, state, k, _close(csr, csc, w, state, j))
        fresh = _build(csr, csc, w, state.slots)
        for name in FIELDS:
            np.testing.assert_allclose(getattr(state, name), getattr(fresh, name), atol=1e-9)
        # the move table prices every swap exactly
        delta = state.extra + state.add[:, None] - state.loss[None, :]
        base = _value(csr, w, state.slots)
        k2 = int(rng.choice(np.flatnonzero(state.slot_of < 0)))
        s2 = int(rng.integers(p))
        swapped = state.slots.copy()
        swapped[s2] = k2
        assert base + delta[k2, s2] == pytest.approx(_value(csr, w, swapped))


@pytest.mark.parametrize("seed", range(8))
def test_tabu_reaches_the_enumerated_optimum(seed: int) -> None:
    csr, w = _random(seed, 30, 10, 0.25)
    p = 3
    best = max(_value(csr, w, np.array(c)) for c in itertools.combinations(range(10), p))
    start = np.arange(p)
    found = tabu_search(
        csr,
        sp.csc_array(csr),
        w,
        start,
        rng=np.random.default_rng(seed),
        max_moves=300,
        patience=60,
    )
    assert found.shape == (p,)
    assert np.unique(found).shape == (p,)
    assert _value(csr, w, found) == pytest.approx(best)


def test_tabu_never_returns_worse_than_its_start() -> None:
    csr, w = _random(5, 200, 60, 0.05)
    start = np.arange(0, 60, 6)
    found = tabu_search(
        csr, sp.csc_array(csr), w, start, rng=np.random.default_rng(0), max_moves=50, patience=10
    )
    assert _value(csr, w, found) >= _value(csr, w, start) - 1e-9


def test_tabu_with_every_column_open_is_a_no_op() -> None:
    csr, w = _random(1, 10, 4, 0.5)
    found = tabu_search(
        csr,
        sp.csc_array(csr),
        w,
        np.array([3, 1, 0, 2]),
        rng=np.random.default_rng(0),
        max_moves=10,
        patience=5,
    )
    np.testing.assert_array_equal(found, [0, 1, 2, 3])


def test_lp_core_holds_the_lp_support_and_leaves_columns_out() -> None:
    from planner.optimize._cover_model import coverage_model
    from planner.optimize.mclp import lp_core

    csr, w = _random(3, 400, 120, 0.03)
    p = 8
    lp = coverage_model(csr, w, p=p, share=None, integer=False, time_limit_s=None, seed=0)
    assert lp.reduced_costs is not None and lp.x is not None
    core = lp_core(lp, 120, p)
    assert core is not None
    support = np.flatnonzero(lp.x[:120] > 1e-6)
    assert np.isin(support, core).all()
    assert p < core.shape[0] < 120
    # closed columns kept are those with the reduced costs nearest zero
    closed_in = np.setdiff1d(core, support)
    closed_out = np.setdiff1d(np.arange(120), core)
    reduced = lp.reduced_costs[:120]
    assert reduced[closed_in].min() >= reduced[closed_out].max() - 1e-9


def test_heuristic_beats_or_matches_lazy_greedy_on_a_clustered_instance() -> None:
    from planner.optimize import coverage_from_points, solve_max_coverage
    from planner.optimize._cover_search import lazy_greedy
    from planner.optimize.instances import clustered_layout

    lay = clustered_layout(600, 150, side_m=30_000.0, n_clusters=5, seed=2)
    cover = coverage_from_points(lay.demand_xy, lay.cand_xy, 3_000.0)
    result = solve_max_coverage(cover, lay.weights, 10, method="heuristic")
    _, greedy_covered = lazy_greedy(sp.csc_array(cover), lay.weights, 10)
    assert result.objective >= float(lay.weights[greedy_covered].sum())
    assert result.bound >= result.objective
    recomputed = lay.weights[cover.toarray()[:, result.selected].any(axis=1)].sum()
    assert result.objective == pytest.approx(recomputed)


def test_searches_stop_at_a_reached_target() -> None:
    from planner.optimize._cover_search import iterated_swaps

    csr, w = _random(4, 60, 20, 0.15)
    csc = sp.csc_array(csr)
    start = np.arange(4)
    value = _value(csr, w, start)
    # a target already met: both searches return their start untouched
    same = tabu_search(
        csr, csc, w, start, rng=np.random.default_rng(0), max_moves=100, patience=10, target=value
    )
    np.testing.assert_array_equal(same, start)
    kept = iterated_swaps(
        csr,
        csc,
        w,
        start,
        rng=np.random.default_rng(0),
        patience=10,
        max_kicks=10,
        deadline=np.inf,
        target=value,
    )
    np.testing.assert_array_equal(kept, start)
