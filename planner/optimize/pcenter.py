"""p-center: open ``p`` sites minimising the largest cost from any demand row to its nearest site.

Solved as a sequence of set-cover decisions (Minieka, 1970): the optimal radius is one of the
allowed costs, and radius ``r`` is achievable iff the rows can be covered by ``p`` sites within
``r``. A binary search over the sorted distinct costs answers each decision with HiGHS (exact)
or with the greedy cover (heuristic: an achievable radius) and the LP relaxation (a proof that a
radius is not achievable, giving the lower bound).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.optimize._cover_model import coverage_model, picked, remaining
from planner.optimize._mclp_search import pad
from planner.optimize._result import AssignmentResult, Method, in_units
from planner.optimize._validate import Problems, as_cost, as_count, check_options
from planner.optimize.lscp import greedy_cover
from planner.optimize.pmedian import _check_rows, allowed_pairs, assignment_result

logger = logging.getLogger(__name__)

#: ``method="auto"`` decides radii exactly (HiGHS) up to this many allowed pairs.
AUTO_EXACT_MAX_PAIRS = 400_000


def solve_p_center(
    cost: Any,
    p: int,
    *,
    method: str = "auto",
    time_limit_s: float | None = None,
    seed: int = 0,
) -> AssignmentResult:
    """Choose ``p`` candidates minimising the largest row-to-nearest-site cost.

    Parameters
    ----------
    cost
        ``(demand x candidates)`` costs: dense (``np.inf`` forbids a pair) or sparse (stored
        entries are the allowed pairs).
    p
        Number of sites, ``1 <= p <= candidates``.
    method
        ``"exact"``, ``"heuristic"`` or ``"auto"`` (exact up to
        :data:`AUTO_EXACT_MAX_PAIRS` allowed pairs).
    time_limit_s
        Wall-clock budget; when it runs out the best radius found so far is returned with status
        ``"time_limit"``.
    seed
        Seed of HiGHS.

    Returns
    -------
    AssignmentResult
        ``objective`` is the largest assigned cost; ``bound`` a lower bound on the optimum.
    """
    started = time.perf_counter()
    problems = Problems()
    matrix = as_cost(cost, problems)
    n = matrix.shape[1]
    p = as_count(p, problems, name="p", low=1, high=max(n, 1), what="number of sites")
    method, limit, seed = check_options(
        problems, method=method, time_limit_s=time_limit_s, seed=seed
    )
    problems.raise_if_any()
    raw = allowed_pairs(matrix)
    _check_rows(raw)
    deadline = started + limit if limit is not None else math.inf
    exact = method == "exact" or (method == "auto" and raw.nnz <= AUTO_EXACT_MAX_PAIRS)
    selected, bound, status = _search(raw, p, exact=exact, deadline=deadline, seed=seed)
    engine: Method = "exact" if exact else "heuristic"
    result = assignment_result(
        raw,
        np.ones(raw.shape[0]),
        pad(selected, p, n),
        bound=bound,
        method=engine,
        status=status,
        started=started,
        objective_kind="max",
    )
    return in_units(result, 1.0, objective_in_weights=False, time_limit_s=limit)


def _search(
    raw: sp.csr_array, p: int, *, exact: bool, deadline: float, seed: int
) -> tuple[np.ndarray, float, str]:
    """Binary search over the distinct costs; return sites, lower bound and status."""
    values = np.unique(raw.data)
    row_min = np.minimum.reduceat(raw.data, raw.indptr[:-1])
    lo = int(np.searchsorted(values, row_min.max()))  # no radius below this serves every row
    hi = len(values) - 1
    best = _decide(raw, values[hi], p, exact=False, deadline=deadline, seed=seed)[1]
    status = "optimal" if exact else "heuristic"
    while lo < hi:
        if time.perf_counter() > deadline:
            status = "time_limit"
            break
        mid = (lo + hi) // 2
        feasible, sites, proven = _decide(
            raw, values[mid], p, exact=exact, deadline=deadline, seed=seed
        )
        if feasible:
            hi, best = mid, sites
        elif proven:
            lo = mid + 1
        else:  # heuristic could not decide: the radius is unproven, search above it
            lo = mid + 1
            status = "heuristic"
    bound = (
        float(values[lo])
        if exact and status == "optimal"
        else _lp_bound(raw, values, p, int(np.searchsorted(values, row_min.max())), deadline, seed)
    )
    return best, bound, status


def _decide(
    raw: sp.csr_array, radius: float, p: int, *, exact: bool, deadline: float, seed: int
) -> tuple[bool, np.ndarray, bool]:
    """Can ``p`` sites cover every row within ``radius``? Return (yes, sites, answer proven)."""
    within = _within(raw, radius)
    csc = sp.csc_array(within)
    ones = np.ones(within.shape[0])
    sites = greedy_cover(within, csc, ones, float(within.shape[0]))
    if sites.shape[0] <= p:
        return True, sites, True
    if not exact:
        return False, sites, False
    outcome = coverage_model(
        within,
        ones,
        p=None,
        share=1.0,
        integer=True,
        time_limit_s=remaining(deadline),
        seed=seed,
    )
    if outcome.x is not None and outcome.status == "optimal":
        chosen = picked(outcome, within.shape[1])
        return chosen.shape[0] <= p, chosen, True
    if outcome.status == "infeasible":
        return False, sites, True
    if math.isfinite(outcome.bound) and math.ceil(outcome.bound - 1e-6) > p:
        return False, sites, True
    if outcome.x is not None and np.count_nonzero(outcome.x[: within.shape[1]] > 0.5) <= p:
        return True, picked(outcome, within.shape[1]), True
    return False, sites, False


def _lp_bound(
    raw: sp.csr_array, values: np.ndarray, p: int, lo: int, deadline: float, seed: int
) -> float:
    """Smallest radius whose set-cover LP relaxation does not prove that ``p`` sites are too few."""
    hi = len(values) - 1
    while lo < hi and time.perf_counter() < deadline:
        mid = (lo + hi) // 2
        within = _within(raw, float(values[mid]))
        lp = coverage_model(
            within,
            np.ones(within.shape[0]),
            p=None,
            share=1.0,
            integer=False,
            time_limit_s=remaining(deadline),
            seed=seed,
        )
        if lp.status == "optimal" and math.ceil(lp.bound - 1e-6) > p:
            lo = mid + 1
        else:
            hi = mid
    return float(values[lo])


def _within(raw: sp.csr_array, radius: float) -> sp.csr_array:
    """Boolean CSR of the allowed pairs with cost at most ``radius`` (``raw`` is not modified)."""
    keep = raw.data <= radius
    rows = np.repeat(np.arange(raw.shape[0]), np.diff(raw.indptr))[keep]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=raw.shape[0]))])
    return sp.csr_array(
        (np.ones(rows.shape[0], dtype=bool), raw.indices[keep], indptr), shape=raw.shape
    )
