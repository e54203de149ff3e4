"""HiGHS models of the coverage problems, built from sparse blocks, and result assembly."""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from planner.optimize import _highs
from planner.optimize._cover_search import coverage_counts, lagrangian_value
from planner.optimize._highs import HighsOutcome
from planner.optimize._result import RTOL, CoverageResult, Method, settle_bound

#: Slack of a share target inside the engines (a hundredth of the :data:`RTOL` accepted when
#: the answer is checked, so that an engine's answer is rarely short of the check).
SHARE_SLACK = RTOL / 100


def meets_share(covered: np.ndarray, weights: np.ndarray, share: float) -> bool:
    """Whether rows ``covered`` hold ``share`` of the weight: every row of positive weight
    when ``share`` is 1, else ``share * total`` within a relative :data:`RTOL`."""
    if share >= 1.0:
        return bool(np.all(covered[weights > 0]))
    return float(weights[covered].sum()) >= share * float(weights.sum()) * (1 - RTOL)


def coverage_model(
    csr: sp.csr_array,
    weights: np.ndarray,
    *,
    p: int | None,
    share: float | None,
    integer: bool,
    time_limit_s: float | None,
    seed: int,
) -> HighsOutcome:
    """Solve maximum coverage (``p`` given) or set cover (``share`` given) with HiGHS.

    Columns are ``x_j`` (site open, binary) then ``y_i`` (row covered, continuous in [0, 1]).
    Rows: ``y_i - sum_j C_ij x_j <= 0`` for every row, then either ``sum_j x_j = p`` (objective
    ``max w @ y``) or ``w @ y >= share * sum(w)`` (objective ``min sum_j x_j``). With
    ``share == 1`` every row must be covered, so ``y`` is fixed to 1.
    """
    m, n = csr.shape
    link = sp.hstack([-sp.csr_array(csr, dtype=np.float64), sp.eye_array(m, format="csr")])
    if p is not None:
        last = sp.hstack([sp.csr_array(np.ones((1, n))), sp.csr_array((1, m))])
        row_lower = np.concatenate([np.full(m, -np.inf), [float(p)]])
        row_upper = np.concatenate([np.zeros(m), [float(p)]])
        cost = np.concatenate([np.zeros(n), weights])
        y_lower = np.zeros(m)
    else:
        assert share is not None
        need = share * float(weights.sum())
        # stated per unit of the target, so HiGHS's absolute tolerances are relative to it
        per_need = weights / need if need > 0 else weights
        last = sp.hstack([sp.csr_array((1, n)), sp.csr_array(per_need[None, :])])
        row_lower = np.concatenate([np.full(m, -np.inf), [1.0 - SHARE_SLACK if need > 0 else 0.0]])
        row_upper = np.concatenate([np.zeros(m), [np.inf]])
        cost = np.concatenate([np.ones(n), np.zeros(m)])
        y_lower = np.ones(m) if share >= 1.0 else np.zeros(m)
    a = sp.csc_array(sp.vstack([link, last], format="csc"))
    integrality = np.concatenate([np.ones(n, dtype=bool), np.zeros(m, dtype=bool)])
    return _highs.solve(
        a,
        cost=cost,
        col_lower=np.concatenate([np.zeros(n), y_lower]),
        col_upper=np.ones(n + m),
        row_lower=row_lower,
        row_upper=row_upper,
        integer=integrality if integer else None,
        maximize=p is not None,
        time_limit_s=time_limit_s,
        seed=seed,
        lp_solver="choose" if integer else _lp_solver(csr),
    )


def max_coverage_lp(
    csr: sp.csr_array,
    weights: np.ndarray,
    p: int,
    *,
    time_limit_s: float | None,
    seed: int,
    solver: str | None = None,
    iterations: int | None = None,
) -> HighsOutcome:
    """The LP relaxation of maximum coverage, solved by HiGHS in its dual form (at most
    ``iterations`` simplex iterations when given).

    The dual, ``min sum_i (w_i - u_i) + p lam + sum_j t_j`` s.t. ``t_j + lam >= (C.T u)_j``,
    ``0 <= u <= w``, ``t >= 0``, has one row per candidate instead of one per demand row, and
    HiGHS solves it 1.5-6x faster than the primal form (see :func:`dual_lp_solver`).
    The outcome is stated for the primal:
    ``x`` holds the candidates' LP values (the duals of the dual's rows), ``reduced_costs``
    their reduced costs ``(C.T u)_j - lam``, and ``bound`` the Lagrangian value of ``u``,
    ``sum_i (w_i - u_i) + (sum of the p largest (C.T u)_j)``: an upper bound on the optimum for
    any ``u`` in ``[0, w]``, equal to the LP optimum at the dual solution, and recomputed here
    so that it does not rest on the solver's tolerances.
    """
    m, n = csr.shape
    a = sp.hstack(
        [-sp.csc_array(csr.T, dtype=np.float64), sp.eye_array(n), sp.csc_array(np.ones((n, 1)))],
        format="csc",
    )
    outcome = _highs.solve(
        a,
        cost=np.concatenate([-np.ones(m), np.ones(n), [float(p)]]),
        col_lower=np.concatenate([np.zeros(m + n), [-np.inf]]),
        col_upper=np.concatenate([weights, np.full(n + 1, np.inf)]),
        row_lower=np.zeros(n),
        row_upper=np.full(n, np.inf),
        integer=None,
        maximize=False,
        time_limit_s=time_limit_s,
        seed=seed,
        lp_solver=solver or dual_lp_solver(csr),
        iterations=iterations,
    )
    if outcome.x is None or outcome.row_duals is None:
        return HighsOutcome(None, math.nan, math.nan, outcome.status, outcome.seconds, 0)
    u = np.clip(outcome.x[:m], 0.0, weights)
    lam = float(outcome.x[-1])
    bound, _, column_value = lagrangian_value(sp.csc_array(csr), weights, p, u)
    return HighsOutcome(
        x=np.clip(np.abs(outcome.row_duals), 0.0, 1.0),
        objective=outcome.objective + float(weights.sum()),
        bound=bound,
        status=outcome.status,
        seconds=outcome.seconds,
        nodes=0,
        reduced_costs=column_value - lam,
    )


def reach_columns(lp: HighsOutcome, p: int, value: float) -> np.ndarray | None:
    """Columns that may belong to a selection of ``p`` columns covering at least ``value``, by
    the dual of the LP relaxation (:func:`max_coverage_lp`); ``None`` without reduced costs.

    For multipliers ``0 <= u <= w``, ``lam`` and ``V = C.T u``, every selection ``S`` covers at
    most ``sum_i (w_i - u_i) + sum_{j in S} V_j <= D + min(V_j - lam, 0)`` for each ``j`` in
    ``S``, where ``D = sum_i (w_i - u_i) + p lam + sum_j max(V_j - lam, 0)`` is the dual
    objective. A column whose reduced cost ``V_j - lam`` takes ``D`` below ``value`` is in no
    selection covering ``value`` (reduced-cost fixing); the columns of any such selection are
    all returned. ``D`` is stated from the outcome's Lagrangian bound ``sum_i (w_i - u_i) +
    (sum of the p largest V_j)``.
    """
    if lp.reduced_costs is None or not math.isfinite(lp.bound):
        return None
    reduced = lp.reduced_costs
    largest = np.sort(reduced)[::-1][:p]
    dual = lp.bound + float(np.clip(reduced, 0.0, None).sum()) - float(largest.sum())
    # rounding in ``dual`` follows the size of the bound, not of ``value``
    slack = 1e-9 * max(1.0, abs(value), abs(dual))
    return np.flatnonzero(dual + np.minimum(reduced, 0.0) >= value - slack)


#: :func:`max_coverage_lp` goes to interior point (+ crossover) when the candidates' degrees vary
#: (coefficient of variation at least this, as around towns) ...
DUAL_IPM_MIN_DEGREE_CV = 0.4
#: ... and the rows' squared degrees sum to at most this many times ``candidates ** 2`` (each pair
#: of candidates shares few rows: the interior point's normal matrix stays sparse); otherwise
#: to dual simplex.
DUAL_IPM_MAX_PAIR_LOAD = 10.0


def dual_lp_solver(csr: sp.csr_array) -> str:
    """HiGHS solver for the dual-form LP of :func:`max_coverage_lp` on ``csr``.

    Seconds by dual simplex / interior point on the dual form, and [on the primal form by
    interior point + crossover, the fastest there], with the candidates' degree variation
    ``cv`` and the pair load ``S = sum_i deg_i ** 2 / n ** 2`` (rows x candidates after
    merging; 5 km radius unless said):

    * uniform metro 1,575 x 500 (cv 0.24, S 0.76): **0.020** / 0.05 [0.077];
    * uniform 7,083 x 2,000 (0.25, 0.10): **0.061** / 0.16 [0.50];
    * uniform 27,414 x 5,000, 3 km (0.22, 0.05): **0.36** / 1.08 [2.67];
    * clustered metro 1,670 x 500 (0.55, 2.2): 0.085 / **0.070** [0.147];
    * ``regional`` 8,099 x 2,000 (1.14, 3.7): 1.99 / **1.18** [3.07];
    * clustered 21,126 x 5,000, 2 km (0.86, 0.22): 9.3 / **2.67** [5.85];
    * clustered 32,215 x 4,000, 4 km (0.81, 4.7): 90 / **16.1**;
    * Columbus city 21,162 x 1,490, 3 km (0.58, 149): **2.47** / 13.9 [13.9];
    * Bangor city 4,874 x 1,398, 3 km (0.94, 79): **0.37** / 2.05 [1.06];
    * Shanghai centre 874 x 894, 3 km (0.23, 542): **0.42** / 1.20 [0.45].

    Interior point is used when ``cv >= DUAL_IPM_MIN_DEGREE_CV`` and ``S <=
    DUAL_IPM_MAX_PAIR_LOAD``, dual simplex otherwise.
    """
    n = csr.shape[1]
    if n == 0 or csr.nnz == 0:
        return "simplex"
    column_degree = np.bincount(csr.indices, minlength=n).astype(np.float64)
    cv = float(column_degree.std() / column_degree.mean())
    row_degree = np.diff(csr.indptr).astype(np.float64)
    load = float(row_degree @ row_degree) / (float(n) * float(n))
    if cv >= DUAL_IPM_MIN_DEGREE_CV and load <= DUAL_IPM_MAX_PAIR_LOAD:
        return "ipm"
    return "simplex"


#: LP relaxations of :func:`coverage_model` (set cover; maximum coverage goes to
#: :func:`max_coverage_lp`) whose rows have at most this many candidates on average go to
#: interior point (+ crossover), denser ones to dual simplex. Measured on that primal form:
#: 2,000 x 500 metro MCLPs (about 15 per row) 2.5-4x and a 10,000 x 2,000 one (about 36)
#: 3-3.7x faster by interior point; a town-scale set cover with a 3 km radius (292 per row,
#: 1.7 M pairs) 3.4x faster by dual simplex (7.9 s instead of 26.5 s).
IPM_MAX_ROW_DEGREE = 100.0


def _lp_solver(csr: sp.csr_array) -> str:
    """HiGHS LP solver for a coverage relaxation, by the mean number of candidates per row."""
    degree = csr.nnz / max(csr.shape[0], 1)
    return "ipm" if degree <= IPM_MAX_ROW_DEGREE else "simplex"


def picked(outcome: HighsOutcome, n: int) -> np.ndarray:
    """Columns a HiGHS coverage solution opens."""
    assert outcome.x is not None
    return np.flatnonzero(outcome.x[:n] > 0.5).astype(np.int64)


def remaining(deadline: float) -> float | None:
    """Seconds left before ``deadline`` (``None`` when there is no deadline)."""
    if not math.isfinite(deadline):
        return None
    return max(deadline - time.perf_counter(), 0.01)


def coverage_result(
    matrix: sp.csr_array,
    weights: np.ndarray,
    selected: np.ndarray,
    *,
    bound: float,
    maximize: bool,
    method: Method,
    status: str,
    started: float,
) -> CoverageResult:
    """Recompute coverage of ``selected`` on the original matrix and package the result."""
    selected = np.unique(np.asarray(selected, dtype=np.int64))
    covered = coverage_counts(matrix, selected) > 0
    total = float(weights.sum())
    covered_weight = float(weights[covered].sum())
    objective = covered_weight if maximize else float(selected.shape[0])
    bound, gap, status = settle_bound(objective, bound, status, maximize=maximize)
    return CoverageResult(
        selected=selected,
        objective=objective,
        bound=float(bound),
        gap=gap,
        method=method,
        status=status,
        seconds=time.perf_counter() - started,
        covered_weight=covered_weight,
        covered_share=covered_weight / total if total > 0 else 1.0,
        covered=covered,
    )
