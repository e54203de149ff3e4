"""Capacitated p-median internals: exact reassignment of an open set, Lagrangian bound, swap search.

Model: minimise ``sum_ij c_ij x_ij`` s.t. ``sum_j x_ij = 1`` (every row served in full),
``sum_i d_i x_ij <= Q_j y_j`` (capacity), ``x_ij <= y_j``, ``sum_j y_j = p``; ``x`` binary
(single source) or in ``[0, 1]`` (divisible demand). ``c_ij`` is the cost of serving all of row
``i`` from site ``j``.

* :func:`assign` — the best assignment to a fixed open set: a transportation LP (divisible) or a
  generalized assignment problem solved by HiGHS branch-and-bound (single source);
* :func:`knapsack_bound` — a lower bound on the single-source value of one open set that
  spares its branch-and-bound when it proves the set no better than the best in hand;
* :func:`lagrangian` — the bound of the relaxation of the assignment constraints by
  subgradient: each site's subproblem is a knapsack over rows (0-1 by dynamic programming when
  demands are integers and capacities small, else fractional, which stays a valid bound);
* :func:`swap_search` — interchange over the open set, moves ranked by their regret estimate,
  every move priced by the exact reassignment.

Every budget counts work (iterations, evaluations), never seconds.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from numba import njit

from planner.optimize import _highs
from planner.optimize._capacitated_kernels import regret_assign, swap_estimates

logger = logging.getLogger(__name__)

#: Largest ``rows x sites x (capacity + 1)`` for the 0-1 knapsack by dynamic programming.
DP_MAX_WORK = 30_000_000
#: Subgradient iterations, and the non-improving run after which the step is halved.
LAGRANGE_ITERATIONS = 600
LAGRANGE_PATIENCE = 20
#: Exact evaluations of open sets (the Lagrangian's proposals and the swap moves) per call.
EVALUATIONS = 300
#: Branch-and-bound nodes of one single-source reassignment (past it, the best assignment found
#: is used, unproven).
ASSIGN_NODES = 500
#: Swap moves tried (best ranked first) before a local optimum is declared.
SWAP_CANDIDATES = 40


@dataclass(frozen=True, eq=False)
class Problem:
    """One instance in solver units: ``cost`` (m x n), ``demand`` (m), ``cap`` (n), ``p``.

    ``knapsack_units`` is the integer demand per row and capacity per site for the 0-1
    knapsack (``None``: fractional knapsack); ``integral_cost``: every cost is an integer, so
    a single-source optimum is too; ``cost_step``: then the cost unit in solver units (0: none).
    """

    cost: np.ndarray
    demand: np.ndarray
    cap: np.ndarray
    p: int
    single_source: bool
    seed: int
    knapsack_units: tuple[np.ndarray, np.ndarray] | None = None
    integral_cost: bool = False
    cost_step: float = 0.0

    @property
    def m(self) -> int:
        return int(self.cost.shape[0])

    @property
    def n(self) -> int:
        return int(self.cost.shape[1])


@dataclass(frozen=True, eq=False)
class Assignment:
    """Best assignment to ``sites``: ``value``, ``x`` (m x len(sites) shares), ``proven``."""

    sites: np.ndarray
    value: float
    x: np.ndarray
    proven: bool
    #: row duals of the assignment rows (transportation LP only)
    duals: np.ndarray | None = None


def assign(
    problem: Problem,
    sites: np.ndarray,
    *,
    integer: bool | None = None,
    cutoff: float = math.inf,
) -> Assignment | None:
    """The best assignment of every row to the open ``sites``; ``None`` when none exists, or
    (single source) none costs less than ``cutoff``: branch-and-bound prunes nodes that cannot.

    ``integer`` (default: the problem's ``single_source``) asks for single-source shares.
    ``proven`` is False when branch-and-bound stopped at its work limit with an incumbent.
    """
    sites = np.asarray(sites, dtype=np.int64)
    integer = problem.single_source if integer is None else integer
    m, k = problem.m, sites.shape[0]
    if k == 0 or float(problem.cap[sites].sum()) < float(problem.demand.sum()) * (1 - 1e-12):
        return None
    e = np.arange(m * k)
    rows, cols = np.repeat(np.arange(m), k), np.tile(np.arange(k), m)
    a = sp.vstack(
        [
            sp.csr_array((np.ones(m * k), (rows, e)), shape=(m, m * k)),
            sp.csr_array((problem.demand[rows], (cols, e)), shape=(k, m * k)),
        ],
        format="csc",
    )
    outcome = _highs.solve(
        sp.csc_array(a),
        cost=problem.cost[:, sites].ravel(),
        col_lower=np.zeros(m * k),
        col_upper=np.ones(m * k),
        row_lower=np.concatenate([np.ones(m), np.full(k, -np.inf)]),
        row_upper=np.concatenate([np.ones(m), problem.cap[sites]]),
        integer=np.ones(m * k, dtype=bool) if integer else None,
        maximize=False,
        seed=problem.seed,
        options=_mip_options(cutoff) if integer else None,
    )
    if outcome.x is None:
        return None
    x = np.clip(outcome.x.reshape(m, k), 0.0, 1.0)
    if integer:
        x = (x > 0.5).astype(np.float64)
    value = float((problem.cost[:, sites] * x).sum())
    duals = None if outcome.row_duals is None else outcome.row_duals[:m]
    proven = outcome.status == "optimal"
    return Assignment(sites=sites, value=value, x=x, proven=proven, duals=duals)


def _mip_options(cutoff: float) -> dict[str, float | int | str]:
    """Branch-and-bound options of one reassignment: :data:`ASSIGN_NODES` nodes, and the
    cutoff (nodes that cannot beat it are pruned)."""
    options: dict[str, float | int | str] = {"mip_max_nodes": ASSIGN_NODES}
    if math.isfinite(cutoff):
        options["objective_bound"] = cutoff
    return options


@dataclass
class Evaluator:
    """Exact values of open sets, cached, within a budget of :data:`EVALUATIONS`.

    A set whose Lagrangian lower bound (``screen``) is no better than the best value in hand is
    answered with that bound, unpriced.
    A single-source set is first priced by its transportation LP, a lower bound on its value:
    when that is no better than the best value in hand, branch-and-bound is skipped.
    """

    problem: Problem
    budget: int = EVALUATIONS
    best: Assignment | None = None
    spent: int = 0
    seen: dict[bytes, float] = field(default_factory=dict)
    #: Lagrangian screen: ``sum(lam)`` and the site values ``v`` at some multipliers ``lam``;
    #: ``sum(lam) + v[sites].sum()`` is a lower bound on the value of ``sites``.
    screen: tuple[float, np.ndarray] | None = None

    def __call__(self, sites: np.ndarray) -> float:
        """Value of ``sites`` (``inf`` when infeasible or not better than the best so far)."""
        sites = np.sort(np.asarray(sites, dtype=np.int64))
        key = sites.tobytes()
        if key in self.seen:
            return self.seen[key]
        cutoff = self.best.value if self.best is not None else math.inf
        if self.screen is not None:
            lower = self.screen[0] + float(self.screen[1][sites].sum())
            if lower >= cutoff * (1 - 1e-12):
                return lower  # cannot beat the best: not priced, not counted
        if self.spent >= self.budget:
            return math.inf
        self.spent += 1
        value = self._price(sites)
        self.seen[key] = value
        return value

    def _price(self, sites: np.ndarray) -> float:
        cutoff = self.best.value if self.best is not None else math.inf
        found = (
            self._single(sites, cutoff)
            if self.problem.single_source
            else assign(self.problem, sites)
        )
        if found is None:
            return math.inf  # infeasible, or no better than the cutoff
        if found.value < cutoff:
            self.best = found
        return found.value

    def _single(self, sites: np.ndarray, cutoff: float) -> Assignment | None:
        """Single source: the transportation LP bounds the value from below, the regret
        assignment from above; when they meet (the LP rounded up to the cost step) the regret
        assignment is optimal, else branch-and-bound must beat it."""
        problem = self.problem
        relaxed = assign(problem, sites, integer=False)
        if relaxed is None or relaxed.value >= cutoff * (1 - 1e-12):
            return None
        estimate, where = regret_assign(problem.cost, problem.demand, problem.cap, sites)
        regret = None
        if math.isfinite(estimate):
            x = np.zeros((problem.m, sites.shape[0]))
            x[np.arange(problem.m), where] = 1.0
            regret = Assignment(sites=sites, value=float(estimate), x=x, proven=False)
            lower = relaxed.value
            if problem.cost_step > 0:
                lower = math.ceil(lower / problem.cost_step - 1e-6) * problem.cost_step
            if lower >= estimate * (1 - 1e-12):
                return replace(regret, proven=True)
        lower = knapsack_bound(problem, sites, relaxed.duals)
        if lower >= cutoff * (1 - 1e-12):
            return None
        if lower >= estimate * (1 - 1e-12):
            assert regret is not None
            return replace(regret, proven=True)
        found = assign(problem, sites, cutoff=min(cutoff, estimate))
        return found if found is not None else regret

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.budget


def knapsack_bound(problem: Problem, sites: np.ndarray, duals: np.ndarray | None) -> float:
    """Lower bound on the single-source value of the open ``sites``: the Lagrangian relaxation
    of the assignment rows at multipliers ``duals`` (the transportation LP's row duals), each
    open site a 0-1 knapsack (Martello and Toth's bound for the generalized assignment problem;
    at the LP duals at least the LP value, a 0-1 knapsack being worth no less than a fractional
    one), rounded up to the cost step. Valid for any ``duals``; ``-inf`` without them or
    without integer knapsack units."""
    if problem.knapsack_units is None or duals is None:
        return -math.inf
    units, caps = problem.knapsack_units
    reduced = problem.cost[:, sites] - duals[:, None]
    v, _ = _knapsack_01(reduced, units, caps[sites])
    lower = float(duals.sum() + v.sum())
    if problem.cost_step > 0:
        lower = math.ceil(lower / problem.cost_step - 1e-6) * problem.cost_step
    return lower


def knapsacks(problem: Problem, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each site's Lagrangian subproblem at multipliers ``lam``: its value ``v`` (n) and the
    shares ``take`` (m x n) of the rows it serves (a 0-1 or a fractional knapsack)."""
    reduced = problem.cost - lam[:, None]
    if problem.knapsack_units is not None:
        return _knapsack_01(reduced, *problem.knapsack_units)
    return _knapsack_fractional(reduced, problem.demand, problem.cap)


def _knapsack_fractional(
    reduced: np.ndarray, demand: np.ndarray, cap: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fractional knapsack per column: rows of negative reduced cost, best per unit first."""
    m, n = reduced.shape
    d = np.broadcast_to(demand[:, None], (m, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d > 0, reduced / np.where(d > 0, d, 1.0), -np.inf)
    ratio = np.where(reduced < 0, ratio, np.inf)
    order = np.argsort(ratio, axis=0, kind="stable")
    d_sorted = np.take_along_axis(d, order, axis=0)
    r_sorted = np.take_along_axis(reduced, order, axis=0)
    before = np.cumsum(d_sorted, axis=0) - d_sorted
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(d_sorted > 0, (cap[None, :] - before) / d_sorted, 1.0)
    share = np.where(r_sorted < 0, np.clip(share, 0.0, 1.0), 0.0)
    take = np.zeros((m, n))
    np.put_along_axis(take, order, share, axis=0)
    return (take * reduced).sum(axis=0), take


def _knapsack_01(
    reduced: np.ndarray, demand: np.ndarray, cap: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """0-1 knapsack per column by dynamic programming over integer loads ``0..cap``."""
    v, take = _knapsack_01_kernel(
        np.ascontiguousarray(reduced.T), demand.astype(np.int64), cap.astype(np.int64)
    )
    return v, np.ascontiguousarray(take.T)


# The kernel's parameters are left unannotated (numba types them at compile time).
@njit(cache=True)  # type: ignore[misc]
def _knapsack_01_kernel(reduced_t, demand, cap):  # type: ignore[no-untyped-def]
    n, m = reduced_t.shape
    v = np.zeros(n)
    take = np.zeros((n, m))
    for j in range(n):
        top = cap[j]
        best = np.zeros(top + 1)
        took = np.zeros((m, top + 1), dtype=np.bool_)
        for i in range(m):
            gain = reduced_t[j, i]
            w = demand[i]
            if gain >= 0.0 or w > top:
                continue
            for q in range(top, w - 1, -1):
                trial = best[q - w] + gain
                if trial < best[q]:
                    best[q] = trial
                    took[i, q] = True
        v[j] = best[top]
        q = top
        for i in range(m - 1, -1, -1):
            if took[i, q]:
                take[j, i] = 1.0
                q -= demand[i]
    return v, take


@dataclass(frozen=True, eq=False)
class LagrangeOutcome:
    """Best Lagrangian bound, its multipliers and site values, and the open sets it proposed."""

    bound: float
    lam: np.ndarray
    v: np.ndarray
    proposals: list[np.ndarray]


def lagrangian(problem: Problem, upper: float, *, iterations: int) -> LagrangeOutcome:
    """Subgradient ascent on the relaxation of ``sum_j x_ij = 1`` (Polyak steps towards
    ``upper``). Returns the best bound (valid at every step) and the distinct open sets."""
    lam = problem.cost.min(axis=1) + 1e-3 * (problem.cost.max() - problem.cost.min())
    target = upper if math.isfinite(upper) else float(problem.cost.max(axis=1).sum())
    theta, stall = 2.0, 0
    best, best_lam, best_v = -math.inf, lam, np.zeros(problem.n)
    proposals: list[np.ndarray] = []
    seen: set[bytes] = set()
    for _ in range(iterations):
        v, take = knapsacks(problem, lam)
        open_ = np.sort(np.argsort(v, kind="stable")[: problem.p])
        value = float(lam.sum() + v[open_].sum())
        if best == -math.inf or value > best + 1e-12 * max(1.0, abs(best)):
            best, best_lam, best_v, stall = value, lam.copy(), v, 0
        else:
            stall += 1
            if stall >= LAGRANGE_PATIENCE:
                theta, stall = theta / 2, 0
        if open_.tobytes() not in seen:
            seen.add(open_.tobytes())
            proposals.append(open_)
        g = 1.0 - take[:, open_].sum(axis=1)
        norm = float(g @ g)
        if norm < 1e-18 or theta < 1e-4 or target - best <= 1e-9 * max(1.0, abs(target)):
            break
        lam = lam + theta * max(target - value, 1e-9 * max(1.0, abs(target))) / norm * g
    return LagrangeOutcome(bound=best, lam=best_lam, v=best_v, proposals=proposals)


def swap_search(problem: Problem, evaluate: Evaluator, width: int) -> None:
    """Interchange from ``evaluate.best`` priced exactly: the swaps ``(close, open)`` ranked by
    their regret estimate (:func:`swap_estimates`, ``width`` sites tried per closed one), the
    first improving one taken, until :data:`SWAP_CANDIDATES` ranked swaps in a row fail or the
    evaluation budget is spent."""
    while evaluate.best is not None and not evaluate.exhausted:
        current = evaluate.best
        out, into, estimate = swap_estimates(
            problem.cost, problem.demand, problem.cap, current.sites, width
        )
        improved = False
        for k in np.argsort(estimate, kind="stable")[:SWAP_CANDIDATES]:
            if not math.isfinite(estimate[k]):
                break
            trial = current.sites.copy()
            trial[out[k]] = into[k]
            if evaluate(np.sort(trial)) < current.value * (1 - 1e-12):
                improved = True
                break
            if evaluate.exhausted:
                return
        if not improved:
            return
