"""The capacitated MCLP pool search and its max-flow kernel against independent references.

Served weights are recomputed by scipy's integer ``maximum_flow`` (not the kernel under test,
not the LP the solver uses); the best open sets of small geometric instances by enumerating
every set of ``p`` sites.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from planner.optimize import solve_capacitated_max_coverage
from planner.optimize._capacitated_mclp import FlowPricer, certify, pool_search
from planner.optimize._capacitated_model import Model
from planner.optimize._cover_search import reduce_rows
from planner.optimize.capacitated import greedy_sites, swap_improve
from tests.test_optimize import _max_flow

M, N, P = 80, 18, 5
#: Seeds of :func:`_instance` on which greedy + the swap search (8 sites each way) stops short
#: of the best set (found by enumeration when the test was written: 1.5 %, 2.2 %, 1.7 %).
SWAPS_MISS = (11, 15, 17)
SEEDS = (0, 3, *SWAPS_MISS)


@functools.cache
def _instance(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Uniform points in a unit square, coverage within 0.3, integer weights, capacities that
    bind (about 60 % of what a site covers), and the most ``P`` sites can serve (enumerated)."""
    rng = np.random.default_rng(seed)
    demand, sites = rng.random((M, 2)), rng.random((N, 2))
    cover = np.linalg.norm(demand[:, None] - sites[None], axis=2) < 0.3
    weights = rng.integers(1, 100, size=M).astype(float)
    cap = np.floor(0.6 * (cover.T @ weights).mean() * rng.uniform(0.5, 1.5, N))
    best = max(_max_flow(cover, weights, cap, s) for s in itertools.combinations(range(N), P))
    return cover, weights, cap, best


def _model(cover: np.ndarray, weights: np.ndarray, cap: np.ndarray) -> Model:
    return Model.build(reduce_rows(sp.csr_array(cover), weights, seed=0), cap)


@pytest.mark.parametrize("seed", range(4))
def test_flow_kernel_matches_scipy_max_flow(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    cover = rng.random((60, 15)) < 0.3
    weights = rng.integers(1, 60, size=60).astype(float)
    cap = rng.integers(20, 150, size=15).astype(float)
    model = Model(sp.csr_array(cover), weights, cap)  # rows kept as they are
    pricer = FlowPricer(model, np.inf)
    for _ in range(10):
        sites = np.sort(rng.choice(15, size=5, replace=False))
        state = pricer.start(sites)
        assert state.value / pricer.scale == pytest.approx(
            _max_flow(cover, weights, cap, sites), rel=1e-9
        )
        out, into = rng.choice(sites), rng.choice(np.setdiff1d(np.arange(15), sites))
        swapped = pricer.swap(state, int(out), int(into))
        expected = np.sort(np.append(sites[sites != out], into))
        assert np.array_equal(swapped.sites, expected)
        assert swapped.value / pricer.scale == pytest.approx(
            _max_flow(cover, weights, cap, expected), rel=1e-9
        )
        # a flow: amounts within weights and capacities, only at open sites
        served = np.bincount(model.row, weights=swapped.flow, minlength=60)
        assert np.array_equal(served, swapped.served)
        assert (swapped.flow >= 0).all() and (swapped.served <= pricer.w).all()
        assert (swapped.load <= pricer.cap).all()
        assert not swapped.flow[~np.isin(model.col, expected)].any()


def test_swap_search_alone_misses_where_the_pool_search_does_not() -> None:
    for seed in SWAPS_MISS:
        cover, weights, cap, best = _instance(seed)
        model = _model(cover, weights, cap)
        start = swap_improve(model, greedy_sites(model.csr, model.w, model.cap, P), seed=0)
        assert _max_flow(cover, weights, cap, start) < best


@pytest.mark.parametrize("seed", SEEDS)
def test_pool_search_reaches_the_enumerated_optimum(seed: int) -> None:
    cover, weights, cap, best = _instance(seed)
    model = _model(cover, weights, cap)
    start = swap_improve(model, greedy_sites(model.csr, model.w, model.cap, P), seed=0)
    lp = model.solve(p=P, need=None, max_sites=None, integer=False, time_limit_s=None, seed=0)
    assert lp.bound >= best * (1 - 1e-9)  # the LP relaxation bounds the optimum
    found = pool_search(model, start, P, lp=lp, seed=0)
    assert found.shape == (P,)
    assert _max_flow(cover, weights, cap, found) == best


@pytest.mark.parametrize("seed", SEEDS)
def test_heuristic_method_reaches_the_optimum_with_a_valid_bound(seed: int) -> None:
    cover, weights, cap, best = _instance(seed)
    runs = [
        solve_capacitated_max_coverage(sp.csr_array(cover), weights, cap, P, method="heuristic")
        for _ in range(2)
    ]
    result = runs[0]
    assert result.objective == pytest.approx(best, rel=1e-9)
    assert result.objective == pytest.approx(_max_flow(cover, weights, cap, result.selected))
    assert result.bound >= best * (1 - 1e-9)
    assert result.status in ("optimal", "heuristic")
    # deterministic: the same sites and amounts on a second run
    assert np.array_equal(runs[1].selected, result.selected)
    assert runs[1].objective == result.objective


def test_pool_search_without_an_lp_keeps_or_improves_its_start() -> None:
    cover, weights, cap, best = _instance(SWAPS_MISS[0])
    model = _model(cover, weights, cap)
    start = greedy_sites(model.csr, model.w, model.cap, P)
    found = pool_search(model, start, P, lp=None, seed=0)
    served = _max_flow(cover, weights, cap, found)
    assert found.shape == (P,)
    assert _max_flow(cover, weights, cap, start) <= served <= best


def _certified(seed: int) -> tuple[float, float, float, float, float]:
    """Optimum, LP bound, and :func:`certify`'s bound from the optimum and from greedy's start
    (with the served weight of what it returns from greedy's start)."""
    cover, weights, cap, best = _instance(seed)
    model = _model(cover, weights, cap)
    lp = model.solve(p=P, need=None, max_sites=None, integer=False, time_limit_s=None, seed=0)
    start = greedy_sites(model.csr, model.w, model.cap, P)
    found = pool_search(model, swap_improve(model, start, seed=0), P, lp=lp, seed=0)
    assert _max_flow(cover, weights, cap, found) == best
    bound_opt, _ = certify(model, found, P, lp.bound, seed=0)
    bound_greedy, sites = certify(model, start, P, lp.bound, seed=0)
    return best, lp.bound, bound_opt, bound_greedy, _max_flow(cover, weights, cap, sites)


@pytest.mark.parametrize("seed", (*SEEDS, 1, 2, 4, 5))
def test_certify_proves_one_percent_and_never_cuts_the_optimum(seed: int) -> None:
    """From the optimum, the certificate brings the bound within 1 % of it (the LP alone may
    leave more); from greedy's start (possibly more than 1 % short) it never claims a bound
    below the enumerated optimum, and what it returns serves at least what greedy served."""
    best, lp_bound, bound_opt, bound_greedy, served = _certified(seed)
    assert best * (1 - 1e-9) <= bound_opt <= min(lp_bound, best * 1.01) * (1 + 1e-9)
    assert bound_greedy >= best * (1 - 1e-9)
    assert served <= best


def test_certify_tightens_where_the_lp_leaves_more_than_one_percent() -> None:
    """The seeds above include instances whose LP relaxation is more than 1 % above the
    optimum, so the certificate is exercised, not skipped."""
    gaps = [(lp / best - 1.0, opt / best - 1.0) for best, lp, opt, _, _ in map(_certified, SEEDS)]
    assert any(lp_gap > 0.01 for lp_gap, _ in gaps)
    assert all(opt_gap <= 0.01 + 1e-9 for _, opt_gap in gaps)
