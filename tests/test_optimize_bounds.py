"""The grouped-LP bound for large MCLPs: a valid upper bound, never below the plain LP."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp

from planner.optimize._cover_bounds import grouped_instance, grouped_lp_bound
from planner.optimize._cover_model import (
    coverage_model,
    dual_lp_solver,
    max_coverage_lp,
    reach_columns,
)


def _instance(seed: int) -> tuple[sp.csr_array, np.ndarray]:
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(20, 80)), int(rng.integers(6, 12))
    dense = rng.random((m, n)) < 0.25
    dense[np.arange(m), rng.integers(n, size=m)] = True
    return sp.csr_array(dense), np.round(rng.lognormal(3.0, 1.0, size=m))


def test_grouped_instance_unions_the_members_sets() -> None:
    csr = sp.csr_array(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1]], dtype=bool))
    union, weights = grouped_instance(
        csr, np.array([1.0, 2.0, 3.0, 4.0]), np.array([[0], [0], [1], [1]])
    )
    np.testing.assert_array_equal(union.toarray(), [[True, True, False], [True, False, True]])
    np.testing.assert_allclose(weights, [3.0, 7.0])


@pytest.mark.parametrize("seed", range(10))
def test_grouped_lp_bound_is_above_the_lp_and_the_optimum(seed: int) -> None:
    csr, w = _instance(seed)
    n = csr.shape[1]
    p = 3
    dense = csr.toarray()
    best = max(w[dense[:, list(c)].any(axis=1)].sum() for c in itertools.combinations(range(n), p))
    lp = coverage_model(csr, w, p=p, share=None, integer=False, time_limit_s=None, seed=0)
    bound = grouped_lp_bound(csr, w, p, max_pairs=csr.nnz // 2, deadline=math.inf, seed=seed)
    assert lp.bound >= best - 1e-6
    if bound is not None:  # a grouping fitted the pair budget
        assert bound >= lp.bound - 1e-6 * max(1.0, lp.bound)
    # with room for every row on its own, the grouped LP is the plain LP
    exact = grouped_lp_bound(csr, w, p, max_pairs=10**9, deadline=math.inf, seed=seed)
    assert exact is not None
    assert exact >= lp.bound - 1e-6 * max(1.0, lp.bound)


@pytest.mark.parametrize("seed", range(12))
def test_dual_form_lp_is_the_lp_relaxation(seed: int) -> None:
    """The dual-form LP has the primal LP's optimum, a primal optimum in ``x`` (its covered
    weight ``w @ min(1, C x)`` is the bound), complementary reduced costs, and bounds the
    brute-force optimum."""
    csr, w = _instance(100 + seed)
    n = csr.shape[1]
    p = 1 + seed % 4
    dense = csr.toarray()
    best = max(w[dense[:, list(c)].any(axis=1)].sum() for c in itertools.combinations(range(n), p))
    primal = coverage_model(csr, w, p=p, share=None, integer=False, time_limit_s=None, seed=0)
    lp = max_coverage_lp(csr, w, p, time_limit_s=None, seed=0)
    assert lp.status == "optimal" and lp.x is not None and lp.reduced_costs is not None
    tol = 1e-7 * max(1.0, primal.bound)
    assert lp.bound == pytest.approx(primal.bound, abs=tol)
    assert lp.objective == pytest.approx(primal.bound, abs=tol)
    assert lp.bound >= best - tol
    assert lp.x.shape == (n,) and lp.x.min() >= 0 and lp.x.max() <= 1
    assert lp.x.sum() == pytest.approx(p)
    covered = w @ np.minimum(1.0, dense.astype(float) @ lp.x)
    assert covered == pytest.approx(lp.bound, abs=tol)
    # complementary slackness: an open column is not worse than the threshold, a closed one not
    # better, in the primal's sign (maximisation: reduced cost <= 0 for a column at zero)
    rc = lp.reduced_costs
    assert np.all(rc[lp.x > 1e-6] >= -tol)
    assert np.all(rc[lp.x < 1 - 1e-6] <= tol)


def test_reach_columns_keep_every_column_of_every_selection_reaching_the_value() -> None:
    """Reduced-cost fixing is exact: for values from the optimum down, every column of every
    selection covering at least the value is kept; and it does fix columns (at the optimum it
    kept fewer than all columns on some of these instances)."""
    fixed = 0
    for seed in range(30):
        csr, w = _instance(300 + seed)
        n = csr.shape[1]
        p = 1 + seed % 4
        dense = csr.toarray()
        subsets = list(itertools.combinations(range(n), p))
        values = np.array([w[dense[:, list(c)].any(axis=1)].sum() for c in subsets])
        lp = max_coverage_lp(csr, w, p, time_limit_s=None, seed=0)
        for value in np.unique(values)[::-1][:4]:
            keep = reach_columns(lp, p, float(value))
            assert keep is not None
            needed = {j for c, v in zip(subsets, values, strict=True) if v >= value for j in c}
            assert needed <= set(keep.tolist())
            fixed += value == values.max() and keep.shape[0] < n
    assert fixed >= 5


def test_reach_columns_slack_follows_the_size_of_the_bound() -> None:
    """A value eleven orders of magnitude below the bound: rounding in the dual objective
    (about 3e-9 here) must not drop the column of the selection that covers it (found by an
    independent review: the slack once followed the value only)."""
    csr = sp.csr_array(np.array([[1, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 1, 0, 0]], bool))
    w = np.array([4.926665846126998e-05, 53615870.63725187])
    lp = max_coverage_lp(csr, w, 1, time_limit_s=None, seed=212, solver="simplex")
    keep = reach_columns(lp, 1, float(w[0]))
    assert keep is not None and 0 in keep


def test_reach_columns_need_reduced_costs() -> None:
    csr, w = _instance(1)
    lp = max_coverage_lp(csr, w, 2, time_limit_s=None, seed=0)
    assert reach_columns(dataclasses.replace(lp, reduced_costs=None), 2, 0.0) is None


def test_dual_form_lp_with_every_column_open_covers_every_coverable_row() -> None:
    csr, w = _instance(7)
    csr = sp.csr_array(csr.toarray() & (np.arange(csr.shape[0]) % 5 != 0)[:, None])
    n = csr.shape[1]
    lp = max_coverage_lp(csr, w, n, time_limit_s=None, seed=0)
    coverable = np.diff(csr.indptr) > 0
    assert lp.bound == pytest.approx(w[coverable].sum())
    assert lp.x is not None
    np.testing.assert_allclose(lp.x, 1.0)


@pytest.mark.parametrize("solver", ["simplex", "ipm"])
def test_dual_form_lp_solvers_agree(solver: str) -> None:
    csr, w = _instance(3)
    primal = coverage_model(csr, w, p=3, share=None, integer=False, time_limit_s=None, seed=0)
    lp = max_coverage_lp(csr, w, 3, time_limit_s=None, seed=0, solver=solver)
    assert lp.bound == pytest.approx(primal.bound, rel=1e-9)


def _skewed(m: int, n: int, per_row: float, *, skew: float) -> sp.csr_array:
    """Rows covering about ``per_row`` columns, column ``j`` drawn with weight ``(j+1)**skew``."""
    rng = np.random.default_rng(0)
    prob = np.arange(1, n + 1, dtype=float) ** skew
    prob *= per_row / prob.sum()
    return sp.csr_array(rng.random((m, n)) < np.minimum(prob, 1.0))


def test_dual_lp_solver_picks_interior_point_for_uneven_sparse_instances() -> None:
    even_sparse = _skewed(2_000, 500, 4.0, skew=0.0)
    uneven_sparse = _skewed(2_000, 500, 4.0, skew=1.5)
    uneven_dense = _skewed(400, 40, 12.0, skew=1.5)  # every pair of columns shares many rows
    assert dual_lp_solver(even_sparse) == "simplex"
    assert dual_lp_solver(uneven_sparse) == "ipm"
    assert dual_lp_solver(uneven_dense) == "simplex"
    assert dual_lp_solver(sp.csr_array((4, 3), dtype=bool)) == "simplex"


def test_lp_is_planned_by_its_size_and_the_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a deadline the LP has no time limit (HiGHS's iteration limit bounds it); with
    one, half of the time left on a frozen clock."""
    from types import SimpleNamespace

    from planner.optimize import _cover_model, mclp

    monkeypatch.setattr(_cover_model, "time", SimpleNamespace(perf_counter=lambda: 100.0))
    csr, _ = _instance(3)
    work = csr.shape[1] * csr.nnz
    assert mclp._lp_plan(csr, math.inf) == (True, None)
    monkeypatch.setattr(mclp, "LP_BOUND_MAX_WORK", work - 1)
    assert mclp._lp_plan(csr, math.inf) == (False, None)
    monkeypatch.setattr(mclp, "LP_BOUND_MAX_WORK", work)
    monkeypatch.setattr(mclp, "LP_SECONDS_PER_WORK", 1.0 / work)  # expected: 1 s
    assert mclp._lp_plan(csr, 110.0) == (True, 5.0)  # half of the time left
    assert mclp._lp_plan(csr, math.inf) == (True, None)
    assert mclp._lp_plan(csr, 101.5) == (False, None)


def test_lp_without_a_time_limit_stops_at_its_iteration_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The LP relaxation is bounded by simplex iterations, not seconds: with a limit of one
    iteration it stops (status work_limit) and the search goes on without it."""
    from planner.optimize import mclp

    csr, w = _instance(3)
    assert mclp._lp_relaxation(csr, w, 2, time_limit_s=None, seed=0) is not None
    monkeypatch.setattr(mclp, "LP_MIN_ITERATIONS", 1)
    monkeypatch.setattr(mclp, "LP_ITERATIONS_PER_CANDIDATE", 0)
    outcome = max_coverage_lp(csr, w, 2, time_limit_s=None, seed=0, solver="simplex", iterations=1)
    assert outcome.status == "work_limit"
    assert mclp._lp_relaxation(csr, w, 2, time_limit_s=None, seed=0) is None


def test_grouped_lp_bound_is_skipped_past_the_deadline() -> None:
    csr, w = _instance(3)
    assert grouped_lp_bound(csr, w, 2, max_pairs=10**9, deadline=0.0, seed=0) is None
    assert grouped_lp_bound(csr, w, 2, max_pairs=10**9, deadline=math.inf, seed=0) is not None


def test_grouped_lp_bound_gives_up_when_nothing_fits() -> None:
    csr, w = _instance(3)
    assert grouped_lp_bound(csr, w, 2, max_pairs=1, deadline=math.inf, seed=0) is None


@pytest.mark.parametrize("seed", range(8))
def test_grouped_set_cover_lp_is_a_lower_bound(seed: int) -> None:
    csr, w = _instance(40 + seed)
    n = csr.shape[1]
    dense = csr.toarray()
    share = 0.8
    need = share * w.sum()
    fewest = min(
        k
        for k in range(1, n + 1)
        for c in itertools.combinations(range(n), k)
        if w[dense[:, list(c)].any(axis=1)].sum() >= need - 1e-9
    )
    bound = grouped_lp_bound(
        csr, w, None, share=share, max_pairs=csr.nnz // 2, deadline=math.inf, seed=seed
    )
    if bound is not None:
        assert bound <= fewest + 1e-6


@pytest.mark.parametrize("grouped_max_pairs", [0, 10**9])
def test_large_mclp_bound_with_and_without_a_grouping(
    monkeypatch: pytest.MonkeyPatch, grouped_max_pairs: int
) -> None:
    """Above the LP size the bound is valid whether or not a grouped LP is available."""
    from planner.optimize import _cover_bounds, mclp, solve_max_coverage

    csr, w = _instance(7)
    monkeypatch.setattr(mclp, "LP_BOUND_MAX_WORK", csr.shape[1] * csr.nnz // 2)
    monkeypatch.setattr(mclp, "GROUPED_LP_MAX_PAIRS", csr.nnz // 2)
    monkeypatch.setattr(_cover_bounds, "GROUPED_MAX_PAIRS", grouped_max_pairs)
    dense = csr.toarray()
    n = csr.shape[1]
    best = max(w[dense[:, list(c)].any(axis=1)].sum() for c in itertools.combinations(range(n), 3))
    result = solve_max_coverage(csr, w, 3, method="heuristic")
    assert math.isfinite(result.bound)
    assert result.bound >= best - 1e-6
    assert result.objective <= result.bound
