"""Maximum coverage (MCLP): open ``p`` sites covering the most demand weight.

Model: maximise ``sum_i w_i y_i`` s.t. ``y_i <= sum_j C_ij x_j``, ``sum_j x_j = p``,
``x`` binary, ``0 <= y <= 1`` (Church and ReVelle, 1974).
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.optimize._cover_bounds import grouped_lp_bound
from planner.optimize._cover_model import (
    coverage_model,
    coverage_result,
    max_coverage_lp,
    picked,
    reach_columns,
    remaining,
)
from planner.optimize._cover_search import (
    coverage_counts,
    lagrangian_bound,
    reduce_rows,
    restrict_columns,
)
from planner.optimize._cover_tabu import new_seed, stop_flag
from planner.optimize._highs import HighsOutcome
from planner.optimize._mclp_search import (
    better,
    head_run,
    heuristic_selection,
    improve,
    lp_search,
    pad,
    reaches,
    selection_value,
    with_head,
    work_cap,
)
from planner.optimize._result import RTOL, CoverageResult, Method, in_units, weight_unit
from planner.optimize._validate import (
    Problems,
    as_count,
    as_coverage,
    as_threads,
    as_weights,
    check_options,
)

logger = logging.getLogger(__name__)

#: ``method="auto"`` escalates to HiGHS branch-and-bound when the heuristic is not proven
#: optimal and the model left by reduced-cost fixing (rows merged) has at most this many
#: coverage pairs.
AUTO_EXACT_MAX_NNZ = 100_000
#: Heuristic answers are certified by the LP relaxation (solved by HiGHS in its dual form, which
#: also guides the search) when candidates x pairs is at most this; above it by the grouped LP and
#: the Lagrangian relaxation (see :func:`_large_bound`). Measured LP times near the cap: the
#: Columbus city MCLP (1,490 candidates x 2.3 M pairs = 3.5e9) 2.5 s, a uniform 37,155 x 5,000
#: one (3.2e9) 11.5 s; above it, a clustered 32,215 x 4,000 one (5.3e9) took 16 s.
LP_BOUND_MAX_WORK = 4e9
#: Under a time limit the LP is solved only when its expected seconds, this many per candidate x
#: pair (measured 0.7e-9 on the Columbus city MCLP, 2.3e-9 on ``regional``, up to 3.6e-9), fit
#: ``LP_TIME_SHARE`` of the time left, which is then its HiGHS time limit.
LP_SECONDS_PER_WORK = 1e-9
LP_TIME_SHARE = 0.5
#: Without a time limit the LP stops after ``LP_ITERATIONS_PER_CANDIDATE`` simplex iterations
#: per candidate (the dual form has one row per candidate), at least ``LP_MIN_ITERATIONS`` (the
#: large-instance bounds are used instead): a count of work, so the answer does not depend on
#: the machine's load. Random matrices without geography took 13-18x the time estimate above
#: (200,000 x 200 at 5 %: 7.2 s; 200,000 x 1,000 at 1.9 %: more than 50 s).
LP_ITERATIONS_PER_CANDIDATE = 20
LP_MIN_ITERATIONS = 20_000
#: Pair budget of the grouped instance whose LP bounds the larger instances.
GROUPED_LP_MAX_PAIRS = 400_000
#: Share of a time limit the improvement phases may use when the bound is the Lagrangian one
#: (computed after them); the rest is left to the bound.
SEARCH_TIME_SHARE = 0.7
#: Work cap (matrix entries visited) of the Lagrangian bound, so that huge instances finish in
#: bounded time without a ``time_limit_s``: iterations are capped at ``WORK / pairs``, within
#: [10, 2000].
LAGRANGE_WORK = 1e9
#: Subgradient steps still taken when the grouped LP already bounds a large instance: enough for
#: the fast early descent (Columbus city MCLP: 2.2 % after 100 steps, 1.1 % after 400, against
#: 0.58 % from the grouped LP).
LAGRANGE_AFTER_GROUPED = 100


def solve_max_coverage(
    coverage: Any,
    weights: Any,
    p: int,
    *,
    method: str = "auto",
    time_limit_s: float | None = None,
    seed: int = 0,
    threads: int | None = None,
) -> CoverageResult:
    """Choose ``p`` candidates that cover the largest total demand weight.

    Parameters
    ----------
    coverage
        Boolean ``(demand x candidates)`` matrix, scipy.sparse CSR (a dense array is accepted):
        entry ``(i, j)`` is true when candidate ``j`` covers demand row ``i``.
    weights
        Non-negative weight per demand row (``None`` counts rows).
    p
        Number of sites to open, ``1 <= p <= candidates``.
    method
        ``"exact"`` (HiGHS branch-and-bound), ``"heuristic"`` (lazy greedy, swap search, then
        a population search of tabu runs, certified by a relaxation bound) or ``"auto"``
        (the heuristic, then HiGHS within the time budget when the reduced model is small, see
        :data:`AUTO_EXACT_MAX_NNZ`).
    time_limit_s
        Wall-clock budget; the exact engine returns its best solution and status
        ``"time_limit"`` when it runs out. ``None`` (the default): every budget counts work
        (swaps, simplex iterations, branch-and-bound nodes), so a seeded call gives the same
        answer on an idle and on a loaded machine; with a limit it may not
        (``summary()["load_dependent"]``).
    seed
        Seed of HiGHS, of the row-merging hash and of the heuristic's random choices.
    threads
        Tabu runs of the heuristic made at once (``None``: one per core this process may
        use). The answer does not depend on it, except through ``time_limit_s``.

    Returns
    -------
    CoverageResult
        ``objective`` is the covered weight; ``bound`` an upper bound on the optimum.

    Raises
    ------
    planner.core.errors.InputError
        On a malformed matrix, bad weights, ``p`` out of range or a bad option.
    """
    started = time.perf_counter()
    problems = Problems()
    matrix = as_coverage(coverage, problems)
    w = as_weights(weights, matrix.shape[0], problems)
    n_cand = matrix.shape[1]
    p = as_count(p, problems, name="p", low=1, high=max(n_cand, 1), what="number of sites")
    method, limit, seed = check_options(
        problems, method=method, time_limit_s=time_limit_s, seed=seed
    )
    workers = as_threads(threads, problems)
    problems.raise_if_any()
    deadline = started + limit if limit is not None else math.inf
    # weights in a unit of their total, so every tolerance is relative to the instance's scale
    unit = weight_unit(float(w.sum()))
    ws = w / unit
    reduced = reduce_rows(matrix, ws, seed=seed)
    # with integer weights the optimum is a whole number of original units
    grain = 1.0 / unit if bool(np.all(w == np.round(w))) else 0.0
    selected, bound, engine, status = _solve(
        reduced.matrix,
        reduced.weights,
        p,
        method=method,
        deadline=deadline,
        seed=seed,
        threads=workers,
        grain=grain,
    )
    result = coverage_result(
        matrix,
        ws,
        pad(selected, p, n_cand),
        bound=bound,
        maximize=True,
        method=engine,
        status=status,
        started=started,
    )
    result = in_units(result, unit, objective_in_weights=True, time_limit_s=limit)
    _log_result(p, matrix.shape, result)
    return result


def _log_result(p: int, shape: tuple[int, ...], result: CoverageResult) -> None:
    """Log the answer of :func:`solve_max_coverage` at INFO."""
    logger.info(
        "max coverage p=%d on %s: %.6g (bound %.6g, gap %.3g%%, %s/%s) in %.2fs",
        p,
        shape,
        result.objective,
        result.bound,
        100 * result.gap,
        result.method,
        result.status,
        result.seconds,
    )


def _solve(
    csr: sp.csr_array,
    w: np.ndarray,
    p: int,
    *,
    method: str,
    deadline: float,
    seed: int,
    threads: int = 1,
    grain: float = 0.0,
) -> tuple[np.ndarray, float, Method, str]:
    """Solve the reduced instance; return selection, bound, engine and status (``grain``: the
    optimum is a multiple of it, 0 when unknown)."""
    if csr.shape[0] == 0:  # nothing coverable: any p sites are optimal
        return np.arange(p), 0.0, "heuristic", "optimal"
    csc = sp.csc_array(csr)
    rng = np.random.default_rng(seed)
    integral = grain
    if method == "exact":
        selected = heuristic_selection(csr, csc, w, p, deadline=deadline)
        return _exact(csr, w, p, selected, budget=remaining(deadline), seed=seed, integral=integral)
    head_seed = new_seed(rng)  # drawn whatever happens next, for reproducible answers
    with ThreadPoolExecutor(max_workers=2) as pool:
        selected, lp = _search(
            pool,
            csr,
            csc,
            w,
            p,
            rng=rng,
            head_seed=head_seed,
            deadline=deadline,
            seed=seed,
            threads=threads,
            integral=integral,
        )
    return _settle(
        csr,
        csc,
        w,
        selected,
        lp,
        p=p,
        method=method,
        deadline=deadline,
        seed=seed,
        integral=integral,
    )


def _search(
    pool: ThreadPoolExecutor,
    csr: sp.csr_array,
    csc: sp.csc_array,
    w: np.ndarray,
    p: int,
    *,
    rng: np.random.Generator,
    head_seed: int,
    deadline: float,
    seed: int,
    threads: int,
    integral: float,
) -> tuple[np.ndarray, HighsOutcome | None]:
    """Greedy + swaps, the LP relaxation and the search; return the selection and the LP.

    With two threads or more, HiGHS solves the LP on ``pool`` from the start, and the first tabu
    run of the search (from greedy + swaps) follows it there while the core search runs; the
    search collects it when it needs it. That run stops where a search without an LP would
    (leaving time for the bound), and at once when nothing needs it any more.
    """
    solve_lp, lp_limit = _lp_plan(csr, deadline)
    lp_job = None
    if threads >= 2 and solve_lp:
        lp_job = pool.submit(_lp_relaxation, csr, w, p, time_limit_s=lp_limit, seed=seed)
    selected = heuristic_selection(csr, csc, w, p, deadline=deadline)
    stop = stop_flag()
    head = None
    if lp_job is not None and with_head(csr, p):
        until = _share_of(deadline, SEARCH_TIME_SHARE)
        head = pool.submit(
            head_run, csr, csc, w, selected, seed=head_seed, deadline=until, stop=stop
        )
    try:
        lp = lp_job.result() if lp_job is not None else _planned_lp(csr, w, p, deadline, seed)
        # the LP bound, rounded down for integer weights: reaching it proves an optimum
        target = math.inf if lp is None else _floor(lp.bound, integral)
        if reaches(selection_value(csr, w, selected), target):
            logger.debug("greedy + swaps reach the LP bound %.6g", target)
            return selected, lp
        if lp is not None:
            found = lp_search(
                csr,
                csc,
                w,
                selected,
                lp,
                head,
                rng=rng,
                head_seed=head_seed,
                deadline=deadline,
                target=target,
                threads=threads,
            )
            return better(csr, w, found, selected), lp
        # no LP: leave part of a time limit to the Lagrangian bound that follows
        search_until = _share_of(deadline, SEARCH_TIME_SHARE)
        found = improve(
            csr, csc, w, selected, rng=rng, deadline=search_until, target=target, threads=threads
        )
        if head is not None:  # made while the LP was tried: its answer counts too
            found = better(csr, w, found, head.result().found[0])
        return found, None
    finally:
        stop[0] = 1  # a head run still going is not needed any more


def _settle(
    csr: sp.csr_array,
    csc: sp.csc_array,
    w: np.ndarray,
    selected: np.ndarray,
    lp: HighsOutcome | None,
    *,
    p: int,
    method: str,
    deadline: float,
    seed: int,
    integral: float,
) -> tuple[np.ndarray, float, Method, str]:
    """Certify the heuristic answer ``selected`` by the LP bound (or, without an LP, by the
    large-instance bound); with ``method="auto"``, escalate to HiGHS branch-and-bound when it
    is not proven optimal and the model is small (see :func:`_auto_exact`)."""
    value = selection_value(csr, w, selected)
    if lp is not None:
        bound = lp.bound
    else:
        bound = _large_bound(csr, csc, w, selected, value, deadline=deadline, seed=seed)
    bound = _floor(bound, integral)
    if reaches(value, bound):
        return selected, bound, "heuristic", "optimal"
    if method == "auto":
        escalated = _auto_exact(
            csr, w, selected, lp, deadline=deadline, seed=seed, integral=integral
        )
        if escalated is not None:
            sites, mip_bound, engine, status = escalated
            return sites, min(bound, mip_bound), engine, status
    return selected, bound, "heuristic", "heuristic"


def _auto_exact(
    csr: sp.csr_array,
    w: np.ndarray,
    selected: np.ndarray,
    lp: HighsOutcome | None,
    *,
    deadline: float,
    seed: int,
    integral: float,
) -> tuple[np.ndarray, float, Method, str] | None:
    """HiGHS branch-and-bound on the columns that may still be in an answer as good as
    ``selected`` (:func:`reach_columns`, all columns without an LP), when that model has at
    most :data:`AUTO_EXACT_MAX_NNZ` pairs; ``None`` when it is larger.

    Every answer at least as good as ``selected`` lies in that model, so its optimum, if better,
    is the optimum, and ``max(its bound, value of selected)`` bounds every answer. On uniform
    2,000 x 500 metro instances the fixing leaves 161-359 columns and HiGHS proves them 1.3-9x
    faster (0.11-4.2 s instead of 1.0-5.3 s).
    """
    n, p = csr.shape[1], selected.shape[0]
    value = selection_value(csr, w, selected)
    keep = None if lp is None else reach_columns(lp, p, value)
    if keep is not None and keep.shape[0] <= p and np.isin(selected, keep).all():
        # no other selection reaches its value: ``selected`` is optimal
        return selected, _floor(value, integral), "heuristic", "optimal"
    if keep is None or keep.shape[0] <= p:
        keep = np.arange(n)
    cut = restrict_columns(csr, w, keep, seed=seed) if keep.shape[0] < n else None
    model, weights = (csr, w) if cut is None else (cut.reduced.matrix, cut.reduced.weights)
    if model.nnz > AUTO_EXACT_MAX_NNZ:
        return None
    start = selected if cut is None else cut.local(selected)
    if start is None:
        start = pad(np.empty(0, np.int64), p, keep.shape[0])
    budget = remaining(deadline)
    sites, mip_bound, engine, status = _exact(
        model,
        weights,
        p,
        start,
        budget=budget,
        seed=seed,
        integral=integral,
    )
    sites = better(csr, w, keep[sites], selected)
    return sites, max(mip_bound, _floor(value, integral)), engine, status


def _large_bound(
    csr: sp.csr_array,
    csc: sp.csc_array,
    w: np.ndarray,
    selected: np.ndarray,
    value: float,
    *,
    deadline: float,
    seed: int,
) -> float:
    """Bound of an instance above :data:`LP_BOUND_MAX_WORK`: the smaller of the grouped
    instance's LP bound and the Lagrangian bound (which gets the time the LP leaves, and at most
    :data:`LAGRANGE_AFTER_GROUPED` steps when the grouped LP gave a bound)."""
    p = selected.shape[0]
    grouped = grouped_lp_bound(
        csr, w, p, max_pairs=GROUPED_LP_MAX_PAIRS, deadline=deadline, seed=seed
    )
    covered = coverage_counts(csr, selected) > 0
    iterations = work_cap(LAGRANGE_WORK, csr.nnz, low=10, high=2000)
    if grouped is not None:  # the subgradient's late steps rarely beat the grouped LP
        iterations = min(iterations, LAGRANGE_AFTER_GROUPED)
    lagrangian = lagrangian_bound(
        csc, w, p, covered, value, iterations=iterations, deadline=deadline
    )
    logger.debug("bounds: grouped LP %s, Lagrangian %.6g", grouped, lagrangian)
    return lagrangian if grouped is None else min(grouped, lagrangian)


def _planned_lp(
    csr: sp.csr_array, w: np.ndarray, p: int, deadline: float, seed: int
) -> HighsOutcome | None:
    """The LP relaxation when :func:`_lp_plan` (planned again once greedy + swaps took part of
    a time limit) says to solve it."""
    solve_lp, lp_limit = _lp_plan(csr, deadline)
    return _lp_relaxation(csr, w, p, time_limit_s=lp_limit, seed=seed) if solve_lp else None


def _share_of(deadline: float, share: float) -> float:
    """The instant ``share`` of the way from now to ``deadline`` (``inf`` stays ``inf``)."""
    if not math.isfinite(deadline):
        return deadline
    now = time.perf_counter()
    return now + share * max(deadline - now, 0.0)


def _lp_relaxation(
    csr: sp.csr_array, w: np.ndarray, p: int, *, time_limit_s: float | None, seed: int
) -> HighsOutcome | None:
    """The LP relaxation by HiGHS, when it solves to optimality."""
    iterations = max(LP_MIN_ITERATIONS, LP_ITERATIONS_PER_CANDIDATE * csr.shape[1])
    lp = max_coverage_lp(csr, w, p, time_limit_s=time_limit_s, seed=seed, iterations=iterations)
    return lp if lp.status == "optimal" and math.isfinite(lp.bound) else None


def _lp_plan(csr: sp.csr_array, deadline: float) -> tuple[bool, float | None]:
    """Whether to solve the LP relaxation of ``csr``, and HiGHS's time limit for it.

    Not above :data:`LP_BOUND_MAX_WORK`; under a time limit, only when its expected time
    (:data:`LP_SECONDS_PER_WORK`) fits :data:`LP_TIME_SHARE` of the time left, which is then its
    limit: the search keeps the rest whether or not the LP finishes. Without a time limit it
    is bounded by :data:`LP_ITERATIONS_PER_CANDIDATE` instead.
    """
    work = float(csr.shape[1]) * float(csr.nnz)
    if work > LP_BOUND_MAX_WORK:
        return False, None
    left = remaining(deadline)
    if left is None:  # bounded by simplex iterations instead (see :func:`_lp_relaxation`)
        return True, None
    budget = LP_TIME_SHARE * left
    if LP_SECONDS_PER_WORK * work > budget:
        logger.debug(
            "LP relaxation skipped: expected %.2gs, %.2gs left", LP_SECONDS_PER_WORK * work, left
        )
        return False, None
    return True, budget


def _exact(
    csr: sp.csr_array,
    w: np.ndarray,
    p: int,
    selected: np.ndarray,
    *,
    budget: float | None,
    seed: int,
    integral: float,
) -> tuple[np.ndarray, float, Method, str]:
    """HiGHS branch-and-bound started from ``selected``."""
    value = selection_value(csr, w, selected)
    outcome = coverage_model(
        csr,
        w,
        p=p,
        share=None,
        integer=True,
        time_limit_s=budget,
        seed=seed,
    )
    if outcome.x is not None and outcome.objective >= value - RTOL * max(1.0, value):
        selected = picked(outcome, csr.shape[1])
    bound = _floor(outcome.bound, integral) if math.isfinite(outcome.bound) else math.inf
    return pad(selected, p, csr.shape[1]), bound, "exact", outcome.status


def _floor(bound: float, grain: float) -> float:
    """When the optimum is a multiple of ``grain`` (integer weights), round a bound down to one."""
    if grain <= 0 or not math.isfinite(bound):
        return bound
    return float(math.floor(bound / grain + 1e-6)) * grain
