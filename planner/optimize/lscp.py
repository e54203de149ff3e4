"""Set cover (LSCP): the fewest sites covering at least ``min_share`` of the demand weight.

Model: minimise ``sum_j x_j`` s.t. ``y_i <= sum_j C_ij x_j``, ``sum_i w_i y_i >= s * W``,
``x`` binary, ``0 <= y <= 1`` (Toregas et al., 1971, with a partial-cover share). With
``min_share = 1`` every row of positive weight must be covered; rows of zero weight never need
to be (drop them or give them a weight if they must).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.core.errors import InputError
from planner.optimize._cover_bounds import grouped_lp_bound
from planner.optimize._cover_model import (
    SHARE_SLACK,
    coverage_model,
    coverage_result,
    meets_share,
    picked,
    remaining,
)
from planner.optimize._cover_search import coverage_counts, lazy_greedy, reduce_rows
from planner.optimize._result import LIMIT_STATUSES, CoverageResult, Method, in_units, weight_unit
from planner.optimize._validate import Problems, as_coverage, as_weights, check_options, check_share

logger = logging.getLogger(__name__)

#: ``method="auto"`` runs HiGHS when the reduced model has at most this many pairs.
AUTO_EXACT_MAX_NNZ = 400_000
#: The LP relaxation certifies heuristic answers up to this many pairs; above, the LP of a
#: grouped instance (:mod:`planner.optimize._cover_bounds`) within this many pairs does (a
#: town-scale 3 km set cover of 1.7 M pairs: 7.9 s for the full LP).
LP_BOUND_MAX_NNZ = 400_000


def solve_set_cover(
    coverage: Any,
    weights: Any,
    *,
    min_share: float = 1.0,
    method: str = "auto",
    time_limit_s: float | None = None,
    seed: int = 0,
) -> CoverageResult:
    """Choose the fewest candidates that cover at least ``min_share`` of the total weight.

    Parameters
    ----------
    coverage
        Boolean ``(demand x candidates)`` matrix (scipy.sparse CSR or dense).
    weights
        Non-negative weight per row (``None`` counts rows).
    min_share
        Share of the total weight to cover, in ``(0, 1]``.
    method
        ``"exact"`` (HiGHS), ``"heuristic"`` (greedy + redundant-site removal, certified by the
        LP bound) or ``"auto"`` (exact when the reduced model is small).
    time_limit_s
        Wall-clock budget (``None``: none; every budget then counts work, so a seeded call
        gives the same answer on any machine load). With a limit the answer may depend on the
        load (``summary()["load_dependent"]``).
    seed
        Seed of HiGHS and of the row-merging hash.

    Returns
    -------
    CoverageResult
        ``objective`` is the number of sites; ``bound`` a lower bound on the fewest possible.

    Raises
    ------
    planner.core.errors.InputError
        On bad input, or when ``min_share`` cannot be reached even with every candidate open
        (the message gives the reachable share).
    """
    started = time.perf_counter()
    problems = Problems()
    matrix = as_coverage(coverage, problems)
    w = as_weights(weights, matrix.shape[0], problems)
    share = check_share(min_share, problems)
    method, limit, seed = check_options(
        problems, method=method, time_limit_s=time_limit_s, seed=seed
    )
    problems.raise_if_any()
    total = float(w.sum())
    reachable = float(w[np.diff(matrix.indptr) > 0].sum()) / total if total > 0 else 1.0
    if reachable < share - 1e-12:
        raise InputError(
            f"min_share: expected a share reachable with all {matrix.shape[1]} candidates open "
            f"(at most {reachable:.6f}), got {share}; lower min_share to <= {reachable:.6f} "
            "or add candidates / a larger radius"
        )
    deadline = started + limit if limit is not None else math.inf
    # weights in a unit of their total, so every tolerance is relative to the instance's scale
    ws = w / weight_unit(total)
    reduced = reduce_rows(matrix, ws, seed=seed)
    # shares are kept on the original total (dropped rows have no weight or no cover)
    need = share * float(ws.sum())
    selected, bound, engine, status = _solve(
        reduced.matrix, reduced.weights, need, method=method, deadline=deadline, seed=seed
    )
    selected = _meet_share(matrix, ws, selected, share)
    result = coverage_result(
        matrix,
        ws,
        selected,
        bound=bound,
        maximize=False,
        method=engine,
        status=status,
        started=started,
    )
    return in_units(result, weight_unit(total), objective_in_weights=False, time_limit_s=limit)


def _meet_share(
    matrix: sp.csr_array, w: np.ndarray, selected: np.ndarray, share: float
) -> np.ndarray:
    """``selected``, with sites added greedily when it covers less than ``share`` (an engine's
    answer within its tolerances, say); the result is then no longer proven optimal unless the
    bound proves it."""
    covered = coverage_counts(matrix, selected) > 0
    if meets_share(covered, w, share):
        return selected
    csc = sp.csc_array(matrix)
    target = float(w[w > 0].sum()) if share >= 1.0 else share * float(w.sum())
    extra, covered = lazy_greedy(csc, w, csc.shape[1], covered=covered, target=target)
    logger.info("set cover: %d site(s) added to meet the share", extra.shape[0])
    return np.union1d(selected, extra)


def _solve(
    csr: sp.csr_array, w: np.ndarray, need: float, *, method: str, deadline: float, seed: int
) -> tuple[np.ndarray, float, Method, str]:
    """Greedy + pruning, then HiGHS (exact) or the LP bound (heuristic)."""
    if need <= 0 or csr.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), 0.0, "heuristic", "optimal"
    csc = sp.csc_array(csr)
    selected = greedy_cover(csr, csc, w, need)
    share = min(need / float(w.sum()), 1.0)
    exact = method == "exact" or (method == "auto" and csr.nnz <= AUTO_EXACT_MAX_NNZ)
    lower = _cheap_bound(csc, w, need)
    if exact:
        outcome = coverage_model(
            csr,
            w,
            p=None,
            share=share,
            integer=True,
            time_limit_s=remaining(deadline),
            seed=seed,
        )
        mip_bound = math.ceil(outcome.bound - 1e-6) if math.isfinite(outcome.bound) else lower
        if outcome.status not in ("optimal", *LIMIT_STATUSES) or mip_bound > selected.shape[0]:
            # an engine failure, or a bound greedy's answer disproves: keep greedy's answer and
            # the bound proven without HiGHS
            logger.info("set cover: HiGHS %s, bound %g; greedy kept", outcome.status, mip_bound)
            return selected, lower, "heuristic", "heuristic"
        if outcome.x is not None and outcome.objective <= selected.shape[0] + 0.5:
            found = picked(outcome, csr.shape[1])
            if meets_share(coverage_counts(csr, found) > 0, w, share):
                selected = found
        return selected, float(max(lower, mip_bound)), "exact", outcome.status
    if csr.nnz <= LP_BOUND_MAX_NNZ:
        lp = coverage_model(
            csr, w, p=None, share=share, integer=False, time_limit_s=remaining(deadline), seed=seed
        )
        relaxed = lp.bound if lp.status == "optimal" else None
    else:
        relaxed = grouped_lp_bound(
            csr, w, None, share=share, max_pairs=LP_BOUND_MAX_NNZ, deadline=deadline, seed=seed
        )
    if relaxed is not None and math.isfinite(relaxed):
        lower = max(lower, math.ceil(relaxed - 1e-6))
    return selected, float(lower), "heuristic", "heuristic"


def greedy_cover(csr: sp.csr_array, csc: sp.csc_array, w: np.ndarray, need: float) -> np.ndarray:
    """Greedy by uncovered weight until ``need`` is covered, then drop redundant sites."""
    selected, _ = lazy_greedy(csc, w, csc.shape[1], target=need * (1 - SHARE_SLACK))
    # drop sites whose removal keeps the target, the least useful first
    keep = list(selected[::-1])
    counts = coverage_counts(csr, np.asarray(keep, dtype=np.int64))
    covered_w = float(w[counts > 0].sum())
    for j in list(keep):
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        lost = float(w[rows[counts[rows] == 1]].sum())
        if covered_w - lost >= need * (1 - SHARE_SLACK):
            counts[rows] -= 1
            covered_w -= lost
            keep.remove(j)
    return np.sort(np.asarray(keep, dtype=np.int64))


def _cheap_bound(csc: sp.csc_array, w: np.ndarray, need: float) -> float:
    """Sites needed if each covered as much as the best one: ``ceil(need / max column weight)``."""
    colw = np.zeros(csc.shape[1])
    nonempty = np.flatnonzero(np.diff(csc.indptr))
    if nonempty.size:
        colw[nonempty] = np.add.reduceat(w[csc.indices], csc.indptr[nonempty])
    best = float(colw.max()) if colw.size else 0.0
    return float(math.ceil(need / best - 1e-9)) if best > 0 else 0.0
