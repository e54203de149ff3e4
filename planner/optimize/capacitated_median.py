"""Capacitated p-median: open ``p`` sites and serve every demand row within site capacities at
the least total cost.

Model: minimise ``sum_ij c_ij x_ij`` s.t. ``sum_j x_ij = 1``, ``sum_i d_i x_ij <= Q_j y_j``,
``x_ij <= y_j``, ``sum_j y_j = p``, ``y`` binary. ``c_ij`` is the cost of serving all of row
``i`` from site ``j`` (pass ``demand[:, None] * distance`` for demand-weighted distance; the
OR-Library instances of Osman and Christofides use the plain distance). Two variants:

* **single source** (``single_source=True``, the default): each row is served by one site
  (``x`` binary) — a swap station takes a whole cell, a depot a whole customer;
* **divisible demand** (``single_source=False``): a row's demand may be split between sites
  (``0 <= x <= 1``).

Engines: a Lagrangian heuristic (subgradient on the relaxed assignment constraints; its open
sets and a swap search priced by the exact reassignment of each open set) whose bound certifies
the gap, and HiGHS branch-and-bound on the strong formulation for small instances.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.core.errors import InputError
from planner.optimize import _highs
from planner.optimize._capacitated_kernels import interchange, regret_assign
from planner.optimize._capacitated_median import (
    LAGRANGE_ITERATIONS,
    Assignment,
    Evaluator,
    Problem,
    assign,
    lagrangian,
    swap_search,
)
from planner.optimize._cover_model import remaining
from planner.optimize._result import (
    LIMIT_STATUSES,
    CapacitatedMedianResult,
    Method,
    settle_bound,
    weight_unit,
)
from planner.optimize._validate import (
    Problems,
    as_capacity,
    as_cost,
    as_count,
    as_weights,
    check_options,
)

logger = logging.getLogger(__name__)

#: ``method="auto"`` runs HiGHS branch-and-bound on the whole model up to this many
#: (row, site) pairs when the heuristic's gap is not closed (OR-Library pmedcap 50 x 50 took
#: 1.5 to 73 s on a loaded machine, 100 x 100 40 s and more: those stay with the heuristic
#: and its certified gap).
AUTO_EXACT_MAX_PAIRS = 1_000
#: Node budget of that branch-and-bound under ``"auto"`` (pmedcap7 needed 55 s for its full
#: proof on a loaded machine; ``"exact"`` keeps HiGHS's default work limits).
AUTO_EXACT_NODES = 200
#: Open sets of the first subgradient run priced to find a first value (its last ones).
FIRST_PROPOSALS = 10
#: Open sets (the best by regret estimate) from which the estimated swap search starts, and its
#: passes (one best swap each).
STARTS = 5
INTERCHANGE_PASSES = 30
#: Closed sites tried in place of each open one (those serving its rows at least cost).
SWAP_WIDTH = 30


def solve_capacitated_p_median(
    cost: Any,
    demand: Any,
    capacity: Any,
    p: int,
    *,
    single_source: bool = True,
    method: str = "auto",
    time_limit_s: float | None = None,
    seed: int = 0,
) -> CapacitatedMedianResult:
    """Open ``p`` sites and assign every row within capacity at the least total cost.

    Parameters
    ----------
    cost
        Dense ``(demand x candidates)`` array of finite non-negative costs: ``cost[i, j]`` is
        the cost of serving all of row ``i`` from candidate ``j``.
    demand
        Demand per row (same unit as ``capacity``), non-negative.
    capacity
        Capacity per candidate (a scalar applies to all).
    p
        Number of sites to open.
    single_source
        True: each row is served by exactly one site (a generalized assignment for a fixed
        open set, solved exactly by HiGHS branch-and-bound). False: a row may be split between
        sites (a transportation LP for a fixed open set).
    method
        ``"heuristic"`` (Lagrangian heuristic and swap search with a certified gap),
        ``"exact"`` (also HiGHS branch-and-bound on the whole model) or ``"auto"`` (exact up to
        :data:`AUTO_EXACT_MAX_PAIRS` pairs while the heuristic's gap is open).
    time_limit_s
        Optional wall-clock limit of the branch-and-bound on the whole model (the heuristic's
        budgets count work, so without a limit the answer is the same on any machine load).
    seed
        HiGHS's random seed.

    Returns
    -------
    CapacitatedMedianResult
        ``objective`` the total cost, ``bound`` a proven lower bound, ``shares`` the share of
        each row served by each site, ``assignment`` each row's (main) site.

    Raises
    ------
    planner.core.errors.InputError
        On bad input, or when no ``p`` sites can serve the demand (the ``p`` largest capacities
        fall short, or, single source, no packing of the rows exists).
    """
    started = time.perf_counter()
    problem, limit, method = _validated(
        cost, demand, capacity, p, single_source, method, time_limit_s, seed
    )
    # costs and weights in power-of-two units: tolerances follow the instance's scale
    unit = weight_unit(float(problem.cost.max()))
    w_unit = weight_unit(float(problem.demand.sum()))
    scaled = Problem(
        cost=problem.cost / unit,
        demand=problem.demand / w_unit,
        cap=problem.cap / w_unit,
        p=problem.p,
        single_source=single_source,
        seed=problem.seed,
        knapsack_units=problem.knapsack_units,
        integral_cost=problem.integral_cost,
        cost_step=1.0 / unit if problem.integral_cost and single_source else 0.0,
    )
    found, bound = _heuristic(scaled)
    bound = _rounded(problem, bound * unit) / unit
    engine: Method = "heuristic"
    status = "heuristic"
    pairs = problem.m * problem.n
    gap_open = found is None or _gap(found.value, bound) > 0
    if method == "exact" or (method == "auto" and pairs <= AUTO_EXACT_MAX_PAIRS and gap_open):
        deadline = started + limit if limit is not None else math.inf
        nodes = AUTO_EXACT_NODES if method == "auto" else None
        exact, exact_bound, exact_status = _whole_model(scaled, remaining(deadline), nodes)
        if exact_status == "infeasible":
            _raise_infeasible(problem, proven=True)
        if exact_status in ("optimal", *LIMIT_STATUSES) and math.isfinite(exact_bound):
            exact_bound = _rounded(problem, exact_bound * unit) / unit
            engine, status, bound = "exact", exact_status, max(bound, exact_bound)
            if exact is not None and (found is None or exact.value < found.value):
                found = exact
    if found is None:
        _raise_infeasible(problem, proven=False)
    assert found is not None
    return _result(problem, found, bound * unit, unit, engine, status, started, limit)


def _validated(
    cost: Any,
    demand: Any,
    capacity: Any,
    p: Any,
    single_source: Any,
    method: Any,
    time_limit_s: Any,
    seed: Any,
) -> tuple[Problem, float | None, str]:
    """The checked instance in the caller's units, the time limit and the method."""
    problems = Problems()
    matrix = as_cost(cost, problems)
    if sp.issparse(matrix):
        problems.add("cost", "a dense array", "a sparse matrix", "pass cost.toarray()")
        matrix = np.zeros((0, 0))
    dense = np.asarray(matrix, dtype=np.float64)
    if dense.size and not np.isfinite(dense).all():
        problems.add("cost", "finite costs", "inf entries", "give every pair a finite cost")
    m, n = dense.shape if dense.ndim == 2 else (0, 0)
    d = as_weights(demand, m, problems, name="demand")
    cap = as_capacity(capacity, n, problems)
    p = as_count(p, problems, name="p", low=1, high=max(n, 1), what="number of sites")
    if not isinstance(single_source, bool | np.bool_):
        problems.add("single_source", "True or False", repr(single_source), "pass a bool")
    method, limit, seed = check_options(
        problems, method=method, time_limit_s=time_limit_s, seed=seed
    )
    problems.raise_if_any()
    total = float(d.sum())
    if float(np.sort(cap)[::-1][:p].sum()) < total * (1 - 1e-12):
        raise InputError(
            f"capacity: expected the {p} largest capacities to hold the total demand "
            f"{total:g}, got {float(np.sort(cap)[::-1][:p].sum()):g}; raise p or capacities"
        )
    problem = Problem(
        cost=dense,
        demand=d,
        cap=cap,
        p=p,
        single_source=bool(single_source),
        seed=seed,
        knapsack_units=_knapsack_units(d, cap, m, bool(single_source)),
        integral_cost=bool(np.all(dense == np.round(dense))),
    )
    return problem, limit, method


def _knapsack_units(
    d: np.ndarray, cap: np.ndarray, m: int, single_source: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """Integer demands and capacities for the 0-1 knapsack bound, when it is exact and small."""
    if not single_source or not np.all(d == np.round(d)):
        return None
    top = np.floor(np.minimum(cap, d.sum()) + 1e-9)
    if m * cap.shape[0] * (float(top.max()) + 1) > 30_000_000:
        return None
    return d.astype(np.int64), top.astype(np.int64)


def _heuristic(problem: Problem) -> tuple[Assignment | None, float]:
    """Lagrangian heuristic with local search; returns the best assignment and the bound.

    1. subgradient on the relaxed assignment constraints: a bound and the open sets of its
       steps, each estimated by a regret assignment (:func:`regret_assign`); a first, short run
       whose best set's swap-search optimum (estimated) is priced before its other sets, then
       a second run towards that best set's estimate;
    2. swap search with that estimate from the :data:`STARTS` best distinct open sets;
    3. the local optima and the best estimated sets priced exactly, screened by the bound;
    4. swap search priced exactly from the best, moves ranked by their regret estimate.
    """
    first = lagrangian(problem, math.inf, iterations=LAGRANGE_ITERATIONS // 3)
    evaluate = Evaluator(problem)
    first_sets = _by_estimate(problem, first.proposals[::-1][:FIRST_PROPOSALS])
    upper = math.inf
    if first_sets:
        # the estimate of the first run's best set steers the second run (far above the
        # optimum: long steps, diverse proposals); a local optimum priced first prunes those
        # early, poor sets by their transportation LP instead of branch-and-bound
        upper = float(regret_assign(problem.cost, problem.demand, problem.cap, first_sets[0])[0])
        evaluate(_interchange(problem, first_sets[0])[0])
    for sites in first_sets:
        evaluate(sites)
    second = lagrangian(problem, upper, iterations=LAGRANGE_ITERATIONS)
    outcome = second if second.bound >= first.bound else first
    evaluate.screen = (float(outcome.lam.sum()), outcome.v)
    ranked = _by_estimate(problem, first.proposals + second.proposals)
    local = [_interchange(problem, start) for start in ranked[:STARTS]]
    for sites, _ in sorted(local, key=lambda pair: pair[1]):
        evaluate(sites)
    for sites in ranked[: 2 * STARTS]:
        evaluate(sites)
    swap_search(problem, evaluate, SWAP_WIDTH)
    return evaluate.best, outcome.bound


def _interchange(problem: Problem, start: np.ndarray) -> tuple[np.ndarray, float]:
    """The swap search priced by the regret estimate (:func:`interchange`) from ``start``:
    the local optimum and its estimated value."""
    sites, value = interchange(
        problem.cost, problem.demand, problem.cap, start, INTERCHANGE_PASSES, SWAP_WIDTH
    )
    return sites, float(value)


def _by_estimate(problem: Problem, proposals: list[np.ndarray]) -> list[np.ndarray]:
    """``proposals`` sorted by their regret estimate (:func:`regret_assign`), best first (ties
    in their order)."""
    estimates = [regret_assign(problem.cost, problem.demand, problem.cap, s)[0] for s in proposals]
    return [proposals[k] for k in np.argsort(estimates, kind="stable")]


def _rounded(problem: Problem, bound: float) -> float:
    """``bound`` (in the caller's cost unit) rounded up when every cost is an integer and each
    row has a single source: the optimum is then an integer."""
    if problem.integral_cost and problem.single_source and math.isfinite(bound):
        return float(math.ceil(bound - 1e-9 * max(1.0, abs(bound))))
    return bound


def _gap(value: float, bound: float) -> float:
    """Relative gap of ``value`` over ``bound`` (zero within 1e-9)."""
    slack = value - bound
    return 0.0 if slack <= 1e-9 * max(abs(value), 1e-300) else slack / max(abs(value), 1e-300)


def _whole_model(
    problem: Problem, time_limit_s: float | None, nodes: int | None
) -> tuple[Assignment | None, float, str]:
    """HiGHS branch-and-bound on the strong formulation (at most ``nodes`` nodes, else HiGHS's
    default work limits): best assignment, bound, status."""
    m, n = problem.m, problem.n
    nx = m * n
    e = np.arange(nx)
    rows, cols = np.repeat(np.arange(m), n), np.tile(np.arange(n), m)
    blocks = [
        sp.csr_array((np.ones(nx), (rows, e)), shape=(m, nx + n)),
        sp.csr_array(
            (
                np.concatenate([problem.demand[rows], -problem.cap]),
                (np.concatenate([cols, np.arange(n)]), np.concatenate([e, nx + np.arange(n)])),
            ),
            shape=(n, nx + n),
        ),
        sp.csr_array(
            (
                np.concatenate([np.ones(nx), -np.ones(nx)]),
                (np.concatenate([e, e]), np.concatenate([e, nx + cols])),
            ),
            shape=(nx, nx + n),
        ),
        sp.csr_array(
            (np.ones(n), (np.zeros(n, dtype=np.int64), nx + np.arange(n))), shape=(1, nx + n)
        ),
    ]
    integer = np.ones(nx + n, dtype=bool)
    if not problem.single_source:
        integer[:nx] = False
    outcome = _highs.solve(
        sp.csc_array(sp.vstack(blocks, format="csc")),
        cost=np.concatenate([problem.cost.ravel(), np.zeros(n)]),
        col_lower=np.zeros(nx + n),
        col_upper=np.ones(nx + n),
        row_lower=np.concatenate([np.ones(m), np.full(n + nx, -np.inf), [problem.p]]),
        row_upper=np.concatenate([np.ones(m), np.zeros(n + nx), [problem.p]]),
        integer=integer,
        maximize=False,
        time_limit_s=time_limit_s,
        seed=problem.seed,
        options={"mip_max_nodes": nodes} if nodes is not None else None,
    )
    if outcome.x is None:
        return None, outcome.bound, outcome.status
    sites = np.flatnonzero(outcome.x[nx:] > 0.5)
    found = assign(problem, sites) if sites.shape[0] == problem.p else None
    return found, outcome.bound, outcome.status


def _raise_infeasible(problem: Problem, *, proven: bool) -> None:
    """One-line error: no ``p`` sites serve every row (proven, or none found)."""
    how = "no" if proven else "no answer found where"
    raise InputError(
        f"capacity: expected {problem.p} sites able to serve every row"
        f"{' from a single site' if problem.single_source else ''}, got {how} {problem.p} sites "
        "that do; raise p or capacities, or pass single_source=False"
    )


def _result(
    problem: Problem,
    found: Assignment,
    bound: float,
    unit: float,
    method: Method,
    status: str,
    started: float,
    limit: float | None,
) -> CapacitatedMedianResult:
    """Package ``found`` with shares, loads and the objective recomputed in the caller's units."""
    m, n = problem.m, problem.n
    rows, local = np.nonzero(found.x > 0)
    shares = sp.csr_array((found.x[rows, local], (rows, found.sites[local])), shape=(m, n))
    objective = float((shares.multiply(problem.cost)).sum())
    bound, gap, status = settle_bound(objective, bound, status, maximize=False)
    dense = shares.toarray()
    return CapacitatedMedianResult(
        selected=np.sort(found.sites),
        objective=objective,
        bound=bound,
        gap=gap,
        method=method,
        status=status,
        seconds=time.perf_counter() - started,
        time_limit_s=limit,
        assignment=np.argmax(dense, axis=1).astype(np.int64),
        shares=shares,
        load=dense.T @ problem.demand,
        single_source=problem.single_source,
    )
