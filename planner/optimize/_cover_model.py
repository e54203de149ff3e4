"""HiGHS models of the coverage problems, built from sparse blocks, and result assembly."""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from planner.optimize import _highs
from planner.optimize._cover_search import coverage_counts
from planner.optimize._highs import HighsOutcome
from planner.optimize._result import CoverageResult, Method, settle_bound


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
        last = sp.hstack([sp.csr_array((1, n)), sp.csr_array(weights[None, :])])
        need = share * float(weights.sum())
        row_lower = np.concatenate([np.full(m, -np.inf), [need * (1 - 1e-12)]])
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


#: LP relaxations of coverage models whose rows have at most this many candidates on average go
#: to interior point (+ crossover), denser ones to dual simplex. Measured: 2,000 x 500 metro
#: MCLPs (about 15 per row) 2.5-4x and a 10,000 x 2,000 one (about 36) 3-3.7x faster by
#: interior point; a town-scale set cover with a 3 km radius (292 per row, 1.7 M pairs)
#: 3.4x faster by dual simplex (7.9 s instead of 26.5 s).
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
