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
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.errors import InputError
from planner.optimize import _highs
from planner.optimize._cover_model import remaining
from planner.optimize._cover_search import Reduced, reduce_rows
from planner.optimize._highs import HighsOutcome
from planner.optimize._result import (
    CapacitatedResult,
    Method,
    capacitated_result,
    settle_bound,
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
#: Budget of the exact attempt under ``method="auto"`` when no ``time_limit_s`` is given.
AUTO_TIME_BUDGET_S = 30.0
#: Largest model (pairs) for which the heuristic's LP bound is computed; above it a cheap bound.
LP_BOUND_MAX_NNZ = 2_000_000


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
    reduced = reduce_rows(matrix, w, seed=seed)
    model = _Model.build(reduced, cap)
    exact = method == "exact" or (method == "auto" and model.nnz <= AUTO_EXACT_MAX_NNZ)
    selected = greedy_sites(reduced.matrix, reduced.weights, cap, p)
    if exact:
        outcome = model.solve(
            p=p,
            need=None,
            max_sites=None,
            integer=True,
            time_limit_s=_budget(method, deadline),
            seed=seed,
        )
        if outcome.x is not None:
            selected = model.sites(outcome)
        bound = outcome.bound
        engine: Method = "exact"
        status = outcome.status
    else:
        bound = _max_bound(model, reduced, cap, p, deadline=deadline, seed=seed)
        engine, status = "heuristic", "heuristic"
    return _result(
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
    planner.errors.InputError
        On bad input, or when ``min_share`` cannot be served (the message gives the share that
        can be: with every candidate open, or with ``max_sites`` sites).
    """
    started = time.perf_counter()
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
    if capacity_is_slack(matrix, w, cap):
        cover = solve_set_cover(
            matrix, w, min_share=share, method=method, time_limit_s=limit, seed=seed
        )
        if max_sites is None or cover.selected.shape[0] <= max_sites:
            return as_capacitated(matrix, w, cover)
    deadline = started + limit if limit is not None else math.inf
    reduced = reduce_rows(matrix, w, seed=seed)
    model = _Model.build(reduced, cap)
    total = float(w.sum())
    need = share * total
    _check_reachable(model, reduced, cap, need, total, max_sites, deadline=deadline, seed=seed)
    selected = greedy_sites(reduced.matrix, reduced.weights, cap, n, need=need)
    selected = _prune(model, selected, need, seed=seed, deadline=deadline)
    if max_sites is not None and selected.shape[0] > max_sites:
        selected = greedy_sites(reduced.matrix, reduced.weights, cap, max_sites)
    selected, bound, engine, status = _cover_engine(
        model, selected, need, max_sites, method=method, deadline=deadline, seed=seed
    )
    return _result(
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


def _cover_engine(
    model: _Model,
    selected: np.ndarray,
    need: float,
    max_sites: int | None,
    *,
    method: str,
    deadline: float,
    seed: int,
) -> tuple[np.ndarray, float, Method, str]:
    """HiGHS (exact; the greedy answer is kept unless HiGHS returns one), or greedy with a bound."""
    if method == "exact" or (method == "auto" and model.nnz <= AUTO_EXACT_MAX_NNZ):
        outcome = model.solve(
            p=None,
            need=need,
            max_sites=max_sites,
            integer=True,
            time_limit_s=_budget(method, deadline),
            seed=seed,
        )
        if outcome.x is not None:
            selected = model.sites(outcome)
        bound = math.ceil(outcome.bound - 1e-6) if math.isfinite(outcome.bound) else 0.0
        return selected, float(bound), "exact", outcome.status
    # cheap bound: fewest sites whose best single-site servings could add up to ``need``
    colw = np.bincount(model.col, weights=model.w[model.row], minlength=model.n)
    servings = np.cumsum(np.sort(np.minimum(colw, model.cap))[::-1])
    lower = float(np.searchsorted(servings, need * (1 - 1e-9)) + 1)
    if model.nnz <= LP_BOUND_MAX_NNZ:
        lp = model.solve(
            p=None,
            need=need,
            max_sites=max_sites,
            integer=False,
            time_limit_s=remaining(deadline),
            seed=seed,
        )
        if lp.status == "optimal":
            lower = max(lower, float(math.ceil(lp.bound - 1e-6)))
    return selected, lower, "heuristic", "heuristic"


def _budget(method: str, deadline: float) -> float | None:
    budget = remaining(deadline)
    return AUTO_TIME_BUDGET_S if method == "auto" and budget is None else budget


class _Model:
    """The capacitated model of a reduced instance, as sparse blocks ready for HiGHS."""

    def __init__(self, csr: sp.csr_array, w: np.ndarray, cap: np.ndarray) -> None:
        self.csr = csr
        self.w = w
        self.cap = cap
        self.m, self.n = csr.shape
        self.nnz = int(csr.nnz)
        self.row = np.repeat(np.arange(self.m), np.diff(csr.indptr))
        self.col = csr.indices.astype(np.int64)

    @classmethod
    def build(cls, reduced: Reduced, cap: np.ndarray) -> _Model:
        """Model of the reduced (merged-row) instance."""
        return cls(reduced.matrix, reduced.weights, cap)

    def solve(
        self,
        *,
        p: int | None,
        need: float | None,
        max_sites: int | None,
        integer: bool,
        time_limit_s: float | None,
        seed: int,
    ) -> HighsOutcome:
        """Solve max coverage (``p``) or set cover (``need``)."""
        m, n, nnz = self.m, self.n, self.nnz
        e = np.arange(nnz)
        demand = sp.csr_array((np.ones(nnz), (self.row, e)), shape=(m, nnz))
        cap_z = sp.csr_array((np.ones(nnz), (self.col, e)), shape=(n, nnz))
        cap_x = sp.diags_array(-self.cap, format="csr")
        link_z = sp.eye_array(nnz, format="csr")
        link_x = sp.csr_array(
            (-np.minimum(self.w[self.row], self.cap[self.col]), (e, self.col)), shape=(nnz, n)
        )
        blocks: list[list[Any]] = [[demand, None], [cap_z, cap_x], [link_z, link_x]]
        lower = [np.full(m, -np.inf), np.full(n, -np.inf), np.full(nnz, -np.inf)]
        upper = [self.w, np.zeros(n), np.zeros(nnz)]
        if p is not None:
            blocks.append([None, sp.csr_array(np.ones((1, n)))])
            lower.append(np.array([float(p)]))
            upper.append(np.array([float(p)]))
            cost = np.concatenate([np.ones(nnz), np.zeros(n)])
        else:
            assert need is not None
            blocks.append([sp.csr_array(np.ones((1, nnz))), None])
            lower.append(np.array([need * (1 - 1e-9)]))
            upper.append(np.array([np.inf]))
            if max_sites is not None:
                blocks.append([None, sp.csr_array(np.ones((1, n)))])
                lower.append(np.array([-np.inf]))
                upper.append(np.array([float(max_sites)]))
            cost = np.concatenate([np.zeros(nnz), np.ones(n)])
        a = sp.csc_array(sp.bmat(blocks, format="csc"))
        x_lower, x_upper = np.zeros(n), np.ones(n)
        return _highs.solve(
            a,
            cost=cost,
            col_lower=np.concatenate([np.zeros(nnz), x_lower]),
            col_upper=np.concatenate([np.full(nnz, np.inf), x_upper]),
            row_lower=np.concatenate(lower),
            row_upper=np.concatenate(upper),
            integer=np.concatenate([np.zeros(nnz, bool), np.ones(n, bool)]) if integer else None,
            maximize=p is not None,
            time_limit_s=time_limit_s,
            seed=seed,
        )

    def assign(
        self, sites: np.ndarray, *, seed: int, time_limit_s: float | None = None
    ) -> np.ndarray | None:
        """Best assignment amounts (per entry) for a fixed set of open sites.

        A max-flow LP over the entries of the open sites only: ``max sum z`` s.t. each row
        serves at most its weight and each site at most its capacity. ``None`` when HiGHS
        returns no solution (time limit).
        """
        is_open = np.zeros(self.n, dtype=bool)
        is_open[sites] = True
        z = np.zeros(self.nnz)
        e = np.flatnonzero(is_open[self.col])
        if e.size == 0:
            return z
        rows, row_of = np.unique(self.row[e], return_inverse=True)
        cols, col_of = np.unique(self.col[e], return_inverse=True)
        k = np.arange(e.size)
        a = sp.vstack(
            [
                sp.csr_array((np.ones(e.size), (row_of, k)), shape=(rows.size, e.size)),
                sp.csr_array((np.ones(e.size), (col_of, k)), shape=(cols.size, e.size)),
            ],
            format="csc",
        )
        outcome = _highs.solve(
            sp.csc_array(a),
            cost=np.ones(e.size),
            col_lower=np.zeros(e.size),
            col_upper=np.minimum(self.w[self.row[e]], self.cap[self.col[e]]),
            row_lower=np.full(rows.size + cols.size, -np.inf),
            row_upper=np.concatenate([self.w[rows], self.cap[cols]]),
            integer=None,
            maximize=True,
            time_limit_s=time_limit_s,
            seed=seed,
        )
        if outcome.x is None:
            return None
        z[e] = np.clip(outcome.x, 0.0, None)
        return z

    def sites(self, outcome: HighsOutcome) -> np.ndarray:
        """Open sites of a solution."""
        assert outcome.x is not None
        return np.flatnonzero(outcome.x[self.nnz :] > 0.5).astype(np.int64)


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
    model: _Model, selected: np.ndarray, need: float, *, seed: int, deadline: float
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
        if zt is not None and zt.sum() >= need * (1 - 1e-9):
            sites = trial
    return np.sort(np.asarray(sites, dtype=np.int64))


def _max_bound(
    model: _Model, reduced: Reduced, cap: np.ndarray, p: int, *, deadline: float, seed: int
) -> float:
    """Upper bound: LP relaxation when affordable, else the best ``p`` single-site servings."""
    colw = np.bincount(model.col, weights=model.w[model.row], minlength=model.n)
    single = np.minimum(colw, cap)
    cheap = min(float(np.sort(single)[::-1][:p].sum()), float(model.w.sum()))
    if model.nnz > LP_BOUND_MAX_NNZ:
        return cheap
    lp = model.solve(
        p=p, need=None, max_sites=None, integer=False, time_limit_s=remaining(deadline), seed=seed
    )
    return min(cheap, lp.bound) if lp.status == "optimal" else cheap


def _check_reachable(
    model: _Model,
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
    if reachable >= need * (1 - 1e-9) and max_sites is not None and max_sites < model.n:
        best = solve_capacitated_max_coverage(
            model.csr,
            model.w,
            cap,
            max_sites,
            method="auto",
            time_limit_s=remaining(deadline),
            seed=seed,
        )
        if best.bound < need * (1 - 1e-9):
            reachable, limit_text = best.objective, f"with max_sites={max_sites}"
    if reachable < need * (1 - 1e-9):
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
    model: _Model,
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
    assignment = _spread(matrix, w, reduced, model, z)
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


def _spread(
    matrix: sp.csr_array, w: np.ndarray, reduced: Reduced, model: _Model, z: np.ndarray
) -> sp.csr_array:
    """Split each merged row's amounts over its original rows in proportion to their weights."""
    merged = sp.csr_array((z, (model.row, model.col)), shape=(model.m, model.n))
    keep = np.flatnonzero(reduced.rows >= 0)
    group = reduced.rows[keep]
    share = w[keep] / reduced.weights[group]
    rows = sp.coo_array(sp.diags_array(share) @ sp.csr_array(merged[group]))
    result = sp.coo_array((rows.data, (keep[rows.row], rows.col)), shape=matrix.shape).tocsr()
    result.eliminate_zeros()
    return sp.csr_array(result)
