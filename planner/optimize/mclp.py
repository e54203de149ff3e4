"""Maximum coverage (MCLP): open ``p`` sites covering the most demand weight.

Model: maximise ``sum_i w_i y_i`` s.t. ``y_i <= sum_j C_ij x_j``, ``sum_j x_j = p``,
``x`` binary, ``0 <= y <= 1`` (Church and ReVelle, 1974).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.optimize._cover_bounds import grouped_lp_bound
from planner.optimize._cover_model import (
    coverage_model,
    coverage_result,
    picked,
    remaining,
)
from planner.optimize._cover_search import (
    coverage_counts,
    iterated_swaps,
    lagrangian_bound,
    lazy_greedy,
    reduce_rows,
    swap_search,
)
from planner.optimize._cover_tabu import START_SHARE, population_search
from planner.optimize._highs import HighsOutcome
from planner.optimize._result import CoverageResult, Method
from planner.optimize._validate import Problems, as_count, as_coverage, as_weights, check_options

logger = logging.getLogger(__name__)

#: ``method="auto"`` escalates to HiGHS branch-and-bound when the heuristic is not proven
#: optimal and the reduced model has at most this many coverage pairs.
AUTO_EXACT_MAX_NNZ = 100_000
#: Budget of that exact attempt when no ``time_limit_s`` is given.
AUTO_TIME_BUDGET_S = 30.0
#: Heuristic answers are certified by the LP relaxation solved by HiGHS up to this many pairs;
#: above it by the Lagrangian relaxation (whose minimum is the same LP bound, approached by
#: subgradient steps: always valid, possibly a little above the LP value).
LP_BOUND_MAX_NNZ = 400_000
#: Without a move table (see ``TABLE_MAX_CELLS``), an iterated local search runs instead: it
#: stops after ``clip(ILS_PATIENCE_WORK / pairs, 20, 150)`` kicks without improvement, or
#: ``clip(ILS_KICK_WORK / pairs, 50, 600)`` kicks in all.
ILS_PATIENCE_WORK = 3e6
ILS_KICK_WORK = 3e7
#: Share of a time limit the improvement phases may use when the bound is the Lagrangian one
#: (computed after them); the rest is left to the bound.
SEARCH_TIME_SHARE = 0.7
#: Share of the columns outside the LP support added to the core.
CORE_EXTRA_SHARE = 0.1
#: Share of ``SEARCH_WORK`` spent on a population search over the core columns alone; its best
#: answer then joins the starts of the search over all columns (which gets the rest). Uniform
#: metro optima were found this way that the all-column search missed.
CORE_SHARE = 0.1
#: Above this many pairs the iterated local search is skipped (greedy + swaps only).
ILS_MAX_NNZ = 5_000_000
#: The population search (tabu from several starts, then merge-and-drop children) makes
#: ``clip(W / c, 1000, 200000)`` swaps in all, ``c = candidates * p + 2 * column degree * row
#: degree`` being the work of one swap and ``W = SEARCH_WORK_PER_PAIR * pairs`` clipped to
#: ``[SEARCH_WORK, SEARCH_WORK_MAX]`` (about 60,000 swaps, 1.2 s, on a 2,000 x 500 metro
#: instance with p = 30; 9,000 swaps, 2.5 s, on 10,000 x 2,000 with p = 100). It keeps a dense
#: ``candidates x p`` move table, so it is replaced by the iterated local search above
#: ``TABLE_MAX_CELLS`` cells.
SEARCH_WORK = 1e9
SEARCH_WORK_PER_PAIR = 1e4
SEARCH_WORK_MAX = 2e9
TABLE_MAX_CELLS = 2_000_000
#: Starts of the population search: the incumbent, the core's greedy + swaps answer when there
#: is an LP core, and samples drawn with probabilities following the LP solution (or, without
#: one, the incumbent with a third of its sites replaced greedily).
POPULATION = 8
#: ... but fewer starts when each would get fewer than this many swaps (large instances, where
#: a swap scans a big table: one long tabu search beats several short ones there).
MIN_START_MOVES = 2_000
#: Work caps (matrix entries visited) of the swap search and of the Lagrangian bound, so that
#: huge instances finish in bounded time without a ``time_limit_s``: rounds (iterations) are
#: capped at ``WORK / pairs``, within [3, 1000] rounds and [10, 2000] iterations.
SWAP_WORK = 1e9
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
        ``"time_limit"`` when it runs out.
    seed
        Seed of HiGHS and of the row-merging hash.

    Returns
    -------
    CoverageResult
        ``objective`` is the covered weight; ``bound`` an upper bound on the optimum.

    Raises
    ------
    planner.errors.InputError
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
    problems.raise_if_any()
    deadline = started + limit if limit is not None else math.inf
    reduced = reduce_rows(matrix, w, seed=seed)
    selected, bound, engine, status = _solve(
        reduced.matrix, reduced.weights, p, method=method, deadline=deadline, seed=seed
    )
    result = coverage_result(
        matrix,
        w,
        selected,
        bound=bound,
        maximize=True,
        method=engine,
        status=status,
        started=started,
    )
    logger.info(
        "max coverage p=%d on %s: %.6g (bound %.6g, gap %.3g%%, %s/%s) in %.2fs",
        p,
        matrix.shape,
        result.objective,
        result.bound,
        100 * result.gap,
        result.method,
        result.status,
        result.seconds,
    )
    return result


def _solve(
    csr: sp.csr_array, w: np.ndarray, p: int, *, method: str, deadline: float, seed: int
) -> tuple[np.ndarray, float, Method, str]:
    """Solve the reduced instance; return selection, bound, engine and status."""
    if csr.shape[0] == 0:  # nothing coverable: any p sites are optimal
        return np.arange(p), 0.0, "heuristic", "optimal"
    csc = sp.csc_array(csr)
    rng = np.random.default_rng(seed)
    selected = heuristic_selection(csr, csc, w, p, deadline=deadline)
    integral = bool(np.all(w == np.round(w)))
    if method == "exact":
        return _exact(csr, w, p, selected, budget=remaining(deadline), seed=seed, integral=integral)
    lp = _lp_relaxation(csr, w, p, deadline=deadline, seed=seed)
    # the LP bound, rounded down for integer weights: a search reaching it has a proven optimum
    target = math.inf if lp is None else _floor(lp.bound, integral)
    core = None if lp is None or lp.x is None else lp_core(lp, csr.shape[1], p)
    proven = math.isfinite(target) and _value(csr, w, selected) >= target - 1e-9 * max(1.0, target)
    if proven:  # greedy + swaps already meet the bound
        logger.debug("greedy + swaps reach the LP bound %.6g", target)
    elif lp is not None:
        found = _lp_seeded_search(
            csr, csc, w, selected, lp, core, rng=rng, deadline=deadline, target=target
        )
        selected = _better(csr, w, found, selected)
    else:  # no LP: leave part of a time limit to the Lagrangian bound that follows
        search_until = _share_of(deadline, SEARCH_TIME_SHARE)
        selected = _improve(csr, csc, w, selected, rng=rng, deadline=search_until, target=target)
    value = _value(csr, w, selected)
    if lp is not None:
        bound = lp.bound
    else:
        bound = _large_bound(csr, csc, w, selected, value, deadline=deadline, seed=seed)
    bound = _floor(bound, integral)
    if value >= bound - 1e-9 * max(1.0, bound):
        return selected, bound, "heuristic", "optimal"
    if method == "auto" and csr.nnz <= AUTO_EXACT_MAX_NNZ:
        budget = remaining(deadline)
        sites, mip_bound, engine, status = _exact(
            csr,
            w,
            p,
            selected,
            budget=AUTO_TIME_BUDGET_S if budget is None else budget,
            seed=seed,
            integral=integral,
        )
        return sites, min(bound, mip_bound), engine, status
    return selected, bound, "heuristic", "heuristic"


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
    """Bound of an instance above :data:`LP_BOUND_MAX_NNZ` pairs: the smaller of the grouped
    instance's LP bound and the Lagrangian bound (which gets the time the LP leaves, and at most
    :data:`LAGRANGE_AFTER_GROUPED` steps when the grouped LP gave a bound)."""
    p = selected.shape[0]
    grouped = grouped_lp_bound(csr, w, p, max_pairs=LP_BOUND_MAX_NNZ, deadline=deadline, seed=seed)
    covered = coverage_counts_any(csr, selected)
    iterations = _work_cap(LAGRANGE_WORK, csr.nnz, low=10, high=2000)
    if grouped is not None:  # the subgradient's late steps rarely beat the grouped LP
        iterations = min(iterations, LAGRANGE_AFTER_GROUPED)
    lagrangian = lagrangian_bound(
        csc, w, p, covered, value, iterations=iterations, deadline=deadline
    )
    logger.debug("bounds: grouped LP %s, Lagrangian %.6g", grouped, lagrangian)
    return lagrangian if grouped is None else min(grouped, lagrangian)


def _share_of(deadline: float, share: float) -> float:
    """The instant ``share`` of the way from now to ``deadline`` (``inf`` stays ``inf``)."""
    if not math.isfinite(deadline):
        return deadline
    now = time.perf_counter()
    return now + share * max(deadline - now, 0.0)


def _improve(
    csr: sp.csr_array,
    csc: sp.csc_array,
    w: np.ndarray,
    selected: np.ndarray,
    *,
    rng: np.random.Generator,
    deadline: float,
    target: float = math.inf,
    starts: list[np.ndarray] | None = None,
    work: float = 1.0,
) -> np.ndarray:
    """Population search from ``selected`` and ``starts`` (default: perturbed copies of
    ``selected``) with the ``work`` share of its budget; iterated local search where the move
    table would be too large."""
    p = selected.shape[0]
    cells = csr.shape[1] * p
    if cells > TABLE_MAX_CELLS:
        if csr.nnz > ILS_MAX_NNZ:
            return selected
        return iterated_swaps(
            csr,
            csc,
            w,
            selected,
            rng=rng,
            patience=_work_cap(ILS_PATIENCE_WORK, csr.nnz, low=20, high=150),
            max_kicks=_work_cap(ILS_KICK_WORK, csr.nnz, low=50, high=600),
            deadline=deadline,
            target=target,
        )
    # a move prices the whole table and updates the rows of two columns and their entries
    per_move = cells + 2 * (csr.nnz / csr.shape[1]) * (csr.nnz / max(csr.shape[0], 1))
    budget = work * min(max(SEARCH_WORK, SEARCH_WORK_PER_PAIR * csr.nnz), SEARCH_WORK_MAX)
    moves = _work_cap(budget, int(per_move), low=1_000, high=200_000)
    room = int(min(POPULATION, max(1, START_SHARE * moves // MIN_START_MOVES)))
    if starts is None:
        starts = [_perturbed(csr, csc, w, selected, rng=rng) for _ in range(room - 1)]
    return population_search(
        csr,
        csc,
        w,
        [selected, *starts[: room - 1]],
        rng=rng,
        moves=moves,
        deadline=deadline,
        target=target,
    )


def _perturbed(
    csr: sp.csr_array,
    csc: sp.csc_array,
    w: np.ndarray,
    selected: np.ndarray,
    *,
    rng: np.random.Generator,
) -> np.ndarray:
    """``selected`` with a random third of its sites replaced by lazy greedy."""
    p = selected.shape[0]
    keep = np.delete(selected, rng.choice(p, size=max(1, p // 3), replace=False))
    refill, _ = lazy_greedy(csc, w, p - keep.shape[0], covered=coverage_counts(csr, keep) > 0)
    return _pad(np.concatenate([keep, refill]), p, csr.shape[1])


def _lp_samples(
    x: np.ndarray | None, p: int, count: int, *, rng: np.random.Generator
) -> list[np.ndarray] | None:
    """``count`` selections of ``p`` columns drawn with probabilities following the LP values
    ``x`` of the columns (``None`` without an LP solution)."""
    if x is None:
        return None
    weight = np.clip(x, 0.0, None) + 1e-3
    prob = weight / weight.sum()
    return [np.sort(rng.choice(x.shape[0], size=p, replace=False, p=prob)) for _ in range(count)]


def lp_core(lp: HighsOutcome, n: int, p: int) -> np.ndarray | None:
    """Columns worth searching first: the LP support plus the best of the rest by reduced cost.

    ``None`` when the LP carries no reduced costs or the core would be every column. The
    optimal sites of MCLP instances lie almost all in the LP support (28 and 30 of 30 on two
    clustered 2,000 x 500 instances), and the others have small reduced costs.
    """
    if lp.x is None or lp.reduced_costs is None:
        return None
    x, reduced = lp.x[:n], lp.reduced_costs[:n]
    support = np.flatnonzero(x > 1e-6)
    rest = np.flatnonzero(x <= 1e-6)
    extra = max(p, int(CORE_EXTRA_SHARE * n), 2 * p - support.shape[0])
    # maximisation: a closed column's reduced cost is <= 0, the closer to 0 the more promising
    best_rest = rest[np.argsort(-reduced[rest], kind="stable")[:extra]]
    core = np.union1d(support, best_rest)
    return core if core.shape[0] < n else None


def _lp_seeded_search(
    csr: sp.csr_array,
    csc: sp.csc_array,
    w: np.ndarray,
    selected: np.ndarray,
    lp: HighsOutcome,
    core: np.ndarray | None,
    *,
    rng: np.random.Generator,
    deadline: float,
    target: float,
) -> np.ndarray:
    """Population search from ``selected``, the core's best answer and LP samples; then swaps."""
    p = selected.shape[0]
    starts = []
    if core is not None:
        starts.append(_core_best(csr, w, core, p, rng=rng, deadline=deadline, target=target))
    if lp.x is not None:
        starts += _lp_samples(lp.x[: csr.shape[1]], p, POPULATION - 1 - len(starts), rng=rng) or []
    found = _improve(
        csr,
        csc,
        w,
        selected,
        rng=rng,
        deadline=deadline,
        target=target,
        starts=starts or None,
        work=1 - CORE_SHARE,
    )
    rounds = _work_cap(SWAP_WORK, csr.nnz, low=3, high=1000)
    return swap_search(csr, csc, w, found, deadline=deadline, max_rounds=rounds)


def _core_best(
    csr: sp.csr_array,
    w: np.ndarray,
    core: np.ndarray,
    p: int,
    *,
    rng: np.random.Generator,
    deadline: float,
    target: float,
) -> np.ndarray:
    """Greedy, swaps and a short population search on the core columns (original indices)."""
    sub = reduce_rows(sp.csr_array(csr[:, core]), w)
    sub_csc = sp.csc_array(sub.matrix)
    start = heuristic_selection(sub.matrix, sub_csc, sub.weights, p, deadline=deadline)
    found = _improve(
        sub.matrix,
        sub_csc,
        sub.weights,
        start,
        rng=rng,
        deadline=deadline,
        target=target,
        work=CORE_SHARE,
    )
    return np.asarray(core[found], dtype=np.int64)


def _value(csr: sp.csr_array, w: np.ndarray, selected: np.ndarray) -> float:
    """Weight covered by ``selected``."""
    return float(w[coverage_counts_any(csr, selected)].sum())


def _better(csr: sp.csr_array, w: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The selection covering more weight (``a`` on a tie)."""
    return a if _value(csr, w, a) >= _value(csr, w, b) else b


def _lp_relaxation(
    csr: sp.csr_array, w: np.ndarray, p: int, *, deadline: float, seed: int
) -> HighsOutcome | None:
    """The LP relaxation by HiGHS when the model is small enough and it solves to optimality."""
    if csr.nnz > LP_BOUND_MAX_NNZ:
        return None
    lp = coverage_model(
        csr, w, p=p, share=None, integer=False, time_limit_s=remaining(deadline), seed=seed
    )
    return lp if lp.status == "optimal" and math.isfinite(lp.bound) else None


def _exact(
    csr: sp.csr_array,
    w: np.ndarray,
    p: int,
    selected: np.ndarray,
    *,
    budget: float | None,
    seed: int,
    integral: bool,
) -> tuple[np.ndarray, float, Method, str]:
    """HiGHS branch-and-bound started from ``selected``."""
    value = float(w[coverage_counts_any(csr, selected)].sum())
    outcome = coverage_model(
        csr,
        w,
        p=p,
        share=None,
        integer=True,
        time_limit_s=budget,
        seed=seed,
    )
    if outcome.x is not None and outcome.objective >= value - 1e-9 * max(1.0, value):
        selected = picked(outcome, csr.shape[1])
    bound = _floor(outcome.bound, integral) if math.isfinite(outcome.bound) else math.inf
    return _pad(selected, p, csr.shape[1]), bound, "exact", outcome.status


def heuristic_selection(
    csr: sp.csr_array, csc: sp.csc_array, w: np.ndarray, p: int, *, deadline: float
) -> np.ndarray:
    """Lazy greedy, then swap search until no single swap improves."""
    greedy, _ = lazy_greedy(csc, w, p)
    selected = _pad(greedy, p, csr.shape[1])
    rounds = _work_cap(SWAP_WORK, csr.nnz, low=3, high=1000)
    return swap_search(csr, csc, w, selected, deadline=deadline, max_rounds=rounds)


def _work_cap(work: float, nnz: int, *, low: int, high: int) -> int:
    """Number of O(nnz) passes allowed by a work budget, clipped to ``[low, high]``."""
    return int(min(high, max(low, work // max(nnz, 1))))


def coverage_counts_any(csr: sp.csr_array, selected: np.ndarray) -> np.ndarray:
    """Boolean per row: covered by ``selected``."""
    return coverage_counts(csr, selected) > 0


def _floor(bound: float, integral: bool) -> float:
    """With integer weights the optimum is an integer: round a bound down to one."""
    return float(math.floor(bound + 1e-6)) if integral and math.isfinite(bound) else bound


def _pad(selected: np.ndarray, p: int, n: int) -> np.ndarray:
    """Fill a selection up to ``p`` sites with the lowest unused indices (zero-gain sites)."""
    selected = np.unique(selected)
    if selected.shape[0] >= p:
        return selected[:p] if selected.shape[0] > p else selected
    unused = np.setdiff1d(np.arange(n), selected)[: p - selected.shape[0]]
    return np.sort(np.concatenate([selected, unused]))
