"""Capacitated coverage: sites serve at most their capacity, demand may be split between sites.

Variables: ``x_j`` (site open, binary) and ``z_ij >= 0`` (amount of row ``i`` served by site
``j``, only where ``j`` covers ``i``). Constraints: ``sum_j z_ij <= w_i`` (a row is served at
most its weight), ``sum_i z_ij <= cap_j x_j`` (capacity), and the strong link
``z_ij <= min(w_i, cap_j) x_j``. Maximum coverage maximises ``sum z`` with ``sum x = p``; set
cover minimises ``sum x`` subject to ``sum z >= min_share * W`` (and ``sum x <= max_sites``).

Used for battery-swap stations (capacity in swaps/day within a radius) and port sizing.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Literal, overload

import numpy as np
import scipy.sparse as sp

from planner.core.errors import InputError, PlannerError
from planner.optimize._capacitated_cover import improve_served, reduce_sites
from planner.optimize._capacitated_cover_bound import cover_relaxation, raise_bound
from planner.optimize._capacitated_mclp import better_of, certify, pool_search, single_site_bound
from planner.optimize._capacitated_model import Model, spread, within_limits
from planner.optimize._cover_model import remaining
from planner.optimize._cover_search import Reduced, reduce_rows
from planner.optimize._highs import HighsOutcome
from planner.optimize._result import (
    LIMIT_STATUSES,
    RTOL,
    CapacitatedResult,
    Method,
    capacitated_result,
    in_units,
    settle_bound,
    weight_unit,
)
from planner.optimize._slack_capacity import as_capacitated, capacity_is_slack
from planner.optimize._validate import (
    Problems,
    as_capacity,
    as_count,
    as_coverage,
    as_weights,
    check_options,
    check_share,
)
from planner.optimize.lscp import solve_set_cover
from planner.optimize.mclp import solve_max_coverage

logger = logging.getLogger(__name__)

#: ``method="auto"`` runs HiGHS branch-and-bound up to this many coverage pairs (after merging
#: identical rows); above it, greedy + optimal assignment with the LP bound.
AUTO_EXACT_MAX_NNZ = 200_000
#: Largest model (pairs) for which the heuristic's LP bound is computed; above it a cheap bound.
LP_BOUND_MAX_NNZ = 2_000_000
#: Work budget of that LP: ``LP_ITERATION_WORK / (rows + columns)`` simplex iterations, within
#: ``[LP_MIN_ITERATIONS, LP_MAX_ITERATIONS]`` (a count, not seconds: the same answer on any
#: load). A city swap model of 875 cells x 900 sites (34,468 pairs) needs about 50,000
#: iterations (95 s on a loaded 2-core machine): it gets 2,700 and falls back on the cheap bound,
#: as it did within the 30 s limit of earlier versions.
LP_ITERATION_WORK = 2e8
LP_MIN_ITERATIONS = 1_000
LP_MAX_ITERATIONS = 200_000
#: Swap search after greedy (maximum coverage): exact reassignments (one LP each) within
#: ``SWAP_WORK / pairs`` (at most ``SWAP_MAX_EVALUATIONS``), ``SWAP_WIDTH`` sites each way.
#: Random 1,000 x 250, p = 20: greedy 581,130 served, the swaps 584,812 in 40 LPs.
SWAP_WORK = 2e7
SWAP_MAX_EVALUATIONS = 40
SWAP_WIDTH = 8


def solve_capacitated_max_coverage(
    coverage: Any,
    weights: Any,
    capacity: Any,
    p: int,
    *,
    method: str = "auto",
    time_limit_s: float | None = None,
    seed: int = 0,
) -> CapacitatedResult:
    """Open ``p`` sites and assign demand within coverage and capacity to serve the most weight.

    Parameters
    ----------
    coverage
        Boolean ``(demand x candidates)`` matrix.
    weights
        Demand per row (e.g. swaps/day), non-negative.
    capacity
        Capacity per candidate in the unit of ``weights`` (a scalar applies to all).
    p
        Number of sites to open.
    method, time_limit_s, seed
        As in :func:`~planner.optimize.solve_max_coverage`.

    Returns
    -------
    CapacitatedResult
        ``objective`` is the served weight; ``assignment`` the amounts per (row, site).
    """
    started = time.perf_counter()
    problems = Problems()
    matrix = as_coverage(coverage, problems)
    w = as_weights(weights, matrix.shape[0], problems)
    cap = as_capacity(capacity, matrix.shape[1], problems)
    p = as_count(p, problems, name="p", low=1, high=max(matrix.shape[1], 1), what="number of sites")
    method, limit, seed = check_options(
        problems, method=method, time_limit_s=time_limit_s, seed=seed
    )
    problems.raise_if_any()
    if capacity_is_slack(matrix, w, cap):
        coverage_only = solve_max_coverage(
            matrix, w, p, method=method, time_limit_s=limit, seed=seed
        )
        return as_capacitated(matrix, w, coverage_only)
    deadline = started + limit if limit is not None else math.inf
    # weights and capacities in a unit of the total weight: tolerances follow the scale
    unit = weight_unit(float(w.sum()))
    w, cap = w / unit, cap / unit
    reduced = reduce_rows(matrix, w, seed=seed)
    model = Model.build(reduced, cap)
    selected = greedy_sites(reduced.matrix, reduced.weights, cap, p)
    selected = swap_improve(model, selected, seed=seed, deadline=deadline)
    selected = improve_served(model, selected, seed=seed, deadline=deadline)
    bound, lp = _max_bound(model, p, deadline=deadline, seed=seed)
    selected = pool_search(model, selected, p, lp=lp, seed=seed, deadline=deadline)
    bound, selected = certify(model, selected, p, bound, seed=seed, deadline=deadline)
    engine: Method = "heuristic"
    status = "heuristic"
    if method == "exact" or (method == "auto" and model.nnz <= AUTO_EXACT_MAX_NNZ and lp):
        outcome = _engine(model, integer=True, p=p, deadline=deadline, seed=seed)
        if outcome.status in ("optimal", *LIMIT_STATUSES) and math.isfinite(outcome.bound):
            engine, status, bound = "exact", outcome.status, min(bound, outcome.bound)
            found = model.sites(outcome) if outcome.x is not None else selected
            selected = better_of(model, selected, found, seed=seed)
    result = _result(
        matrix,
        w,
        reduced,
        model,
        selected,
        bound=bound,
        maximize=True,
        method=engine,
        status=status,
        started=started,
        seed=seed,
    )
    return in_units(result, unit, objective_in_weights=True, time_limit_s=limit)


def solve_capacitated_set_cover(
    coverage: Any,
    weights: Any,
    capacity: Any,
    *,
    min_share: float = 1.0,
    max_sites: int | None = None,
    method: str = "auto",
    time_limit_s: float | None = None,
    seed: int = 0,
) -> CapacitatedResult:
    """Open the fewest sites whose capacity, within coverage, serves ``min_share`` of the weight.

    Parameters
    ----------
    coverage, weights, capacity
        As in :func:`solve_capacitated_max_coverage`.
    min_share
        Share of the total weight that must be served, in ``(0, 1]``.
    max_sites
        Optional cap on the number of sites.
    method, time_limit_s, seed
        As in :func:`~planner.optimize.solve_set_cover`.

    Returns
    -------
    CapacitatedResult
        ``objective`` is the number of sites.

    Raises
    ------
    planner.core.errors.InputError
        On bad input, or when ``min_share`` cannot be served (the message gives the share that
        can be: with every candidate open, or with ``max_sites`` sites).
    """
    started = time.perf_counter()
    matrix, w, cap, share, max_sites, method, limit, seed = _cover_inputs(
        coverage, weights, capacity, min_share, max_sites, method, time_limit_s, seed
    )
    if capacity_is_slack(matrix, w, cap):
        cover = solve_set_cover(
            matrix, w, min_share=share, method=method, time_limit_s=limit, seed=seed
        )
        if max_sites is None or cover.selected.shape[0] <= max_sites:
            return as_capacitated(matrix, w, cover)
    deadline = started + limit if limit is not None else math.inf
    unit = weight_unit(float(w.sum()))
    w, cap = w / unit, cap / unit
    reduced = reduce_rows(matrix, w, seed=seed)
    model = Model.build(reduced, cap)
    need = share * float(w.sum())
    _check_reachable(
        model, reduced, cap, need, float(w.sum()), max_sites, deadline=deadline, seed=seed
    )
    selected = _cover_search(model, need, max_sites, seed=seed, deadline=deadline)
    selected, bound, engine, status = _cover_engine(
        model, selected, need, max_sites, method=method, deadline=deadline, seed=seed
    )
    selected = _complete(model, selected, need, seed=seed)
    if max_sites is not None and selected.shape[0] > max_sites:
        raise PlannerError(
            f"capacitated set cover: no answer within max_sites={max_sites} was found "
            f"(best: {selected.shape[0]} sites); pass method='exact' or raise max_sites"
        )
    result = _result(
        matrix,
        w,
        reduced,
        model,
        selected,
        bound=float(bound),
        maximize=False,
        method=engine,
        status=status,
        started=started,
        seed=seed,
    )
    return in_units(result, unit, objective_in_weights=False, time_limit_s=limit)


def _cover_inputs(
    coverage: Any,
    weights: Any,
    capacity: Any,
    min_share: float,
    max_sites: int | None,
    method: str,
    time_limit_s: float | None,
    seed: int,
) -> tuple[sp.csr_array, np.ndarray, np.ndarray, float, int | None, str, float | None, int]:
    """The checked inputs of :func:`solve_capacitated_set_cover` (InputError listing all)."""
    problems = Problems()
    matrix = as_coverage(coverage, problems)
    w = as_weights(weights, matrix.shape[0], problems)
    cap = as_capacity(capacity, matrix.shape[1], problems)
    share = check_share(min_share, problems)
    n = matrix.shape[1]
    if max_sites is not None:
        max_sites = as_count(
            max_sites, problems, name="max_sites", low=1, high=max(n, 1), what="number of sites"
        )
    method, limit, seed = check_options(
        problems, method=method, time_limit_s=time_limit_s, seed=seed
    )
    problems.raise_if_any()
    return matrix, w, cap, share, max_sites, method, limit, seed


def _cover_search(
    model: Model, need: float, max_sites: int | None, *, seed: int, deadline: float
) -> np.ndarray:
    """Greedy, completed and pruned, then the drop-and-repair search (:func:`reduce_sites`);
    the ``max_sites`` best sites by greedy when that leaves more than ``max_sites``."""
    selected = greedy_sites(model.csr, model.w, model.cap, model.n, need=need)
    selected = _complete(model, selected, need, seed=seed)
    selected = _prune(model, selected, need, seed=seed, deadline=deadline)
    selected = reduce_sites(model, selected, need, seed=seed, deadline=deadline)
    if max_sites is not None and selected.shape[0] > max_sites:
        selected = greedy_sites(model.csr, model.w, model.cap, max_sites)
    return selected


def _cover_engine(
    model: Model,
    selected: np.ndarray,
    need: float,
    max_sites: int | None,
    *,
    method: str,
    deadline: float,
    seed: int,
) -> tuple[np.ndarray, float, Method, str]:
    """HiGHS (exact; the greedy answer is kept unless HiGHS returns one), or greedy with a bound."""
    # cheap bound: fewest sites whose best single-site servings could add up to ``need``
    colw = np.bincount(model.col, weights=model.w[model.row], minlength=model.n)
    servings = np.cumsum(np.sort(np.minimum(colw, model.cap))[::-1])
    lower = float(np.searchsorted(servings, need * (1 - RTOL)) + 1)
    lp = _engine(model, integer=False, need=need, max_sites=max_sites, deadline=deadline, seed=seed)
    solved = lp is not None and lp.status == "optimal"
    if lp is not None and not solved:  # the bound only: HiGHS's branch-and-bound stays off
        lp = cover_relaxation(model, need, max_sites, seed=seed, deadline=deadline)
    if lp is not None and lp.status == "optimal":
        lower = max(lower, float(math.ceil(lp.bound - 1e-6)))
    if method != "exact":
        rung, selected = raise_bound(
            model, int(lower), selected, need, seed=seed, deadline=deadline
        )
        lower = max(lower, float(rung))
    if lower >= selected.shape[0]:  # the bound proves the search's answer
        return selected, lower, "heuristic", "heuristic"
    if method == "exact" or (method == "auto" and model.nnz <= AUTO_EXACT_MAX_NNZ and solved):
        outcome = _engine(
            model, integer=True, need=need, max_sites=max_sites, deadline=deadline, seed=seed
        )
        # HiGHS's bound is trusted unless the greedy answer in hand disproves it (seen with a
        # share of 1e-6: "optimal" at 2 sites where 1 serves it)
        bound = math.ceil(outcome.bound - 1e-6) if math.isfinite(outcome.bound) else 0.0
        if outcome.status in ("optimal", *LIMIT_STATUSES) and bound <= selected.shape[0]:
            found = model.sites(outcome) if outcome.x is not None else selected
            # a time-limited incumbent can be worse than greedy's answer: keep the fewer sites
            if found.shape[0] < selected.shape[0] and _serves(model, found, need, seed=seed):
                selected = found
            return selected, float(max(bound, lower)), "exact", outcome.status
        logger.info("capacitated cover: HiGHS %s, bound %g; greedy kept", outcome.status, bound)
    return selected, lower, "heuristic", "heuristic"


@overload
def _engine(
    model: Model,
    *,
    integer: Literal[True],
    p: int | None = None,
    need: float | None = None,
    max_sites: int | None = None,
    deadline: float,
    seed: int,
) -> HighsOutcome: ...
@overload
def _engine(
    model: Model,
    *,
    integer: Literal[False],
    p: int | None = None,
    need: float | None = None,
    max_sites: int | None = None,
    deadline: float,
    seed: int,
) -> HighsOutcome | None: ...
def _engine(
    model: Model,
    *,
    integer: bool,
    p: int | None = None,
    need: float | None = None,
    max_sites: int | None = None,
    deadline: float,
    seed: int,
) -> HighsOutcome | None:
    """HiGHS on the model within what is left of the caller's time limit: branch-and-bound, or
    the LP relaxation within :data:`LP_ITERATION_WORK` (``None`` above
    :data:`LP_BOUND_MAX_NNZ`). ``method="auto"`` runs branch-and-bound only when that LP solves:
    HiGHS's branch-and-bound does not heed an iteration limit, and its root is this LP."""
    iterations = None
    if not integer:
        if model.nnz > LP_BOUND_MAX_NNZ:
            return None
        lines = model.m + 2 * model.n + 2 * model.nnz
        iterations = int(min(LP_MAX_ITERATIONS, max(LP_MIN_ITERATIONS, LP_ITERATION_WORK // lines)))
    return model.solve(
        p=p,
        need=need,
        max_sites=max_sites,
        integer=integer,
        time_limit_s=remaining(deadline),
        seed=seed,
        iterations=iterations,
    )


def _serves(model: Model, sites: np.ndarray, need: float, *, seed: int) -> bool:
    """Whether the best assignment to ``sites`` serves ``need`` (within a relative RTOL)."""
    z = model.assign(sites, seed=seed) if sites.size else np.zeros(model.nnz)
    return z is not None and float(z.sum()) >= need * (1 - RTOL)


def _complete(model: Model, selected: np.ndarray, need: float, *, seed: int) -> np.ndarray:
    """``selected`` plus, while its best assignment serves less than ``need``, the closed site
    that can serve the most of the demand left unserved (greedy's own filling can strand demand
    that a re-optimised assignment would serve, or leave ``need`` out of reach)."""
    sites = np.unique(np.asarray(selected, dtype=np.int64))
    while True:
        z = model.assign(sites, seed=seed) if sites.size else np.zeros(model.nnz)
        if z is None or float(z.sum()) >= need * (1 - RTOL):
            return sites
        left = np.clip(model.w - np.bincount(model.row, weights=z, minlength=model.m), 0, None)
        offer = np.bincount(model.col, weights=left[model.row], minlength=model.n)
        offer = np.minimum(offer, model.cap)
        offer[sites] = -1.0
        if offer.max() <= 0:
            # no closed site reaches unserved demand, but one may take served demand over and
            # free capacity elsewhere: the one that could serve the most
            colw = np.bincount(model.col, weights=model.w[model.row], minlength=model.n)
            offer = np.minimum(colw, model.cap)
            offer[sites] = -1.0
        j = int(np.argmax(offer))
        if offer[j] <= 0:  # every useful site is open
            return sites
        sites = np.union1d(sites, [j])


def swap_improve(
    model: Model, selected: np.ndarray, *, seed: int, deadline: float = math.inf
) -> np.ndarray:
    """Swap search with exact reassignment: close an open site, open a closed one, keep the swap
    when the best assignment (an LP) serves more; first improvement, pairs ranked by what the
    closed site could serve from unserved demand less the open site's load, over the
    :data:`SWAP_WIDTH` best of each; stops at a local optimum or the work budget."""
    sites = np.unique(np.asarray(selected, dtype=np.int64))
    budget = int(min(SWAP_MAX_EVALUATIONS, SWAP_WORK // max(model.nnz, 1)))
    z = model.assign(sites, seed=seed) if sites.size and budget > 0 else None
    if z is None or sites.size == model.n:
        return sites
    served, spent, improved = float(z.sum()), 0, True
    while improved and spent < budget and time.perf_counter() < deadline:
        load = np.bincount(model.col, weights=z, minlength=model.n)
        left = np.clip(model.w - np.bincount(model.row, weights=z, minlength=model.m), 0, None)
        offer = np.bincount(model.col, weights=left[model.row], minlength=model.n)
        offer = np.minimum(offer, model.cap)
        offer[sites] = -np.inf
        ins = np.argsort(-offer, kind="stable")[:SWAP_WIDTH]
        ins = ins[np.isfinite(offer[ins])]
        outs = sites[np.argsort(load[sites], kind="stable")[:SWAP_WIDTH]]
        score = offer[ins][None, :] - load[outs][:, None]
        improved = False
        for flat in np.argsort(-score, axis=None, kind="stable"):
            if spent >= budget or time.perf_counter() > deadline:
                break
            a, b = np.unravel_index(int(flat), score.shape)
            trial = np.sort(np.concatenate([sites[sites != outs[a]], [ins[b]]]))
            zt = model.assign(trial, seed=seed)
            spent += 1
            if zt is not None and float(zt.sum()) > served * (1 + 1e-9):
                sites, z, served, improved = trial, zt, float(zt.sum()), True
                break
    return sites


def greedy_sites(
    csr: sp.csr_array, w: np.ndarray, cap: np.ndarray, p: int, *, need: float = math.inf
) -> np.ndarray:
    """Greedy: open the site that can serve the most residual demand, fill it, repeat.

    A site serves its residual covered rows in order of fewest covering candidates first (rows
    with fewer alternatives are served while they can be), up to its capacity.
    """
    csc = sp.csc_array(csr)
    residual = w.astype(np.float64).copy()
    degree = np.diff(csr.indptr)
    is_open = np.zeros(csr.shape[1], dtype=bool)
    served = 0.0
    chosen: list[int] = []
    indptr, indices = csc.indptr, csc.indices
    while len(chosen) < p and served < need * (1 - 1e-12):
        colres = np.zeros(csr.shape[1])
        nz = np.flatnonzero(np.diff(indptr))
        if nz.size:
            colres[nz] = np.add.reduceat(residual[indices], indptr[nz])
        gain = np.where(is_open, -1.0, np.minimum(colres, cap))
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        rows = indices[indptr[j] : indptr[j + 1]]
        rows = rows[np.argsort(degree[rows], kind="stable")]
        take = np.minimum(
            residual[rows],
            np.clip(cap[j] - np.concatenate([[0.0], np.cumsum(residual[rows])[:-1]]), 0.0, None),
        )
        residual[rows] -= take
        served += float(take.sum())
        is_open[j] = True
        chosen.append(j)
    if len(chosen) < p and need == math.inf:  # pad to exactly p sites
        extra = np.flatnonzero(~is_open)[: p - len(chosen)]
        chosen.extend(extra.tolist())
    return np.sort(np.asarray(chosen, dtype=np.int64))


def _prune(
    model: Model, selected: np.ndarray, need: float, *, seed: int, deadline: float
) -> np.ndarray:
    """Drop sites (least loaded first) while the optimal assignment still serves ``need``.

    Stops early, keeping every site not yet tried, when ``deadline`` passes.
    """
    sites = list(selected)
    z = model.assign(np.asarray(sites), seed=seed)
    if z is None:
        return selected
    load = np.bincount(model.col, weights=z, minlength=model.n)
    for j in sorted(sites, key=lambda s: load[s]):
        if time.perf_counter() > deadline:
            logger.info("capacitated cover: pruning stopped at the time limit")
            break
        trial = [s for s in sites if s != j]
        if not trial:
            break
        zt = model.assign(np.asarray(trial), seed=seed)
        if zt is not None and zt.sum() >= need * (1 - RTOL):
            sites = trial
    return np.sort(np.asarray(sites, dtype=np.int64))


def _max_bound(
    model: Model, p: int, *, deadline: float, seed: int
) -> tuple[float, HighsOutcome | None]:
    """Upper bound: the LP relaxation when it solves (see :func:`_engine`), else the best
    ``p`` single-site servings; and the LP's solution (``None`` when it did not solve)."""
    cheap = single_site_bound(model, p)
    lp = _engine(model, integer=False, p=p, deadline=deadline, seed=seed)
    if lp is None or lp.status != "optimal":
        return cheap, None
    return min(cheap, lp.bound), lp


def _check_reachable(
    model: Model,
    reduced: Reduced,
    cap: np.ndarray,
    need: float,
    total: float,
    max_sites: int | None,
    *,
    deadline: float,
    seed: int,
) -> None:
    """Raise InputError when ``need`` cannot be served (all sites open, or ``max_sites``)."""
    z = model.assign(np.arange(model.n), seed=seed)
    reachable = float(z.sum()) if z is not None else 0.0
    limit_text = f"with all {model.n} candidates open"
    if reachable >= need * (1 - RTOL) and max_sites is not None and max_sites < model.n:
        best = solve_capacitated_max_coverage(
            model.csr,
            model.w,
            cap,
            max_sites,
            method="auto",
            time_limit_s=remaining(deadline),
            seed=seed,
        )
        if best.bound < need * (1 - RTOL):
            reachable, limit_text = best.objective, f"with max_sites={max_sites}"
    if reachable < need * (1 - RTOL):
        share = reachable / total if total > 0 else 0.0
        raise InputError(
            f"min_share: expected a share that capacity and coverage can serve {limit_text} "
            f"(at most {share:.6f}), got {need / total if total > 0 else 0.0:.6f}; lower min_share "
            "or add candidates, capacity or sites"
        )


def _result(
    matrix: sp.csr_array,
    w: np.ndarray,
    reduced: Reduced,
    model: Model,
    selected: np.ndarray,
    *,
    bound: float,
    maximize: bool,
    method: Method,
    status: str,
    started: float,
    seed: int,
) -> CapacitatedResult:
    """Re-optimise the assignment of ``selected`` and spread merged rows back to the originals."""
    selected = np.unique(np.asarray(selected, dtype=np.int64))
    z = model.assign(selected, seed=seed) if selected.size and model.nnz else None
    if z is None:
        z = np.zeros(model.nnz)
    assignment = spread(matrix, w, reduced, model, within_limits(model, z))
    objective = float(assignment.sum()) if maximize else float(selected.shape[0])
    bound, gap, status = settle_bound(objective, bound, status, maximize=maximize)
    return capacitated_result(
        selected,
        assignment,
        w,
        objective=objective,
        bound=bound,
        gap=gap,
        method=method,
        status=status,
        seconds=time.perf_counter() - started,
    )
