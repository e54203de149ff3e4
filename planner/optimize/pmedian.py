"""p-median: open ``p`` sites minimising the total weighted cost of serving every demand row.

Model (strong formulation): minimise ``sum_ij w_i c_ij x_ij`` s.t. ``sum_j x_ij = 1``,
``x_ij <= y_j``, ``sum_j y_j = p``, ``y`` binary, ``x >= 0`` (ReVelle and Swain, 1970). Only
allowed pairs get a variable: a dense ``cost`` allows every finite entry, a sparse one (for
example the k nearest candidates of each row) only its stored entries.
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
from planner.optimize._cover_model import remaining
from planner.optimize._mclp_search import pad
from planner.optimize._median_bound import (
    CostSorted,
    Dual,
    closed_by_reduced_cost,
    restrict,
    volume_bound,
)
from planner.optimize._median_search import (
    Entries,
    State,
    interchange,
    iterated_search,
    lazy_greedy,
    state_of,
)
from planner.optimize._result import (
    LIMIT_STATUSES,
    RTOL,
    AssignmentResult,
    Method,
    in_units,
    settle_bound,
    weight_unit,
)
from planner.optimize._validate import Problems, as_cost, as_count, as_weights, check_options

logger = logging.getLogger(__name__)

#: The iterated local search stops after ``clip(PATIENCE_WORK / pairs, 10, 60)`` kicks without
#: improvement or ``clip(KICK_WORK / pairs, 20, 500)`` kicks in all (each kick costs a few
#: passes over the allowed pairs); see :data:`VOLUME_WORK` for the bound.
PATIENCE_WORK = 1e7
KICK_WORK = 5e7
#: The volume ascent runs ``clip(VOLUME_WORK / pairs, 100, 1000)`` steps (twice when the search
#: is not proven optimal after the first run); each step is a pass over the pairs cheaper than
#: the row's multiplier.
VOLUME_WORK = 8e8
#: ``method="auto"`` hands instances with at most this many allowed pairs straight to HiGHS
#: (from the interchange's answer): up to there HiGHS solved the ``auto-crossover`` instances
#: in 0.1-2.4 s of CPU and the heuristic's bound did not prove them, so the heuristic first
#: only added its 0.05-0.12 s; above, HiGHS needs seconds to minutes where the heuristic
#: proves or certifies in a fraction of that (measured crossover, see ``docs/optimizer.md``).
AUTO_DIRECT_MAX_PAIRS = 20_000


def solve_p_median(
    cost: Any,
    weights: Any,
    p: int,
    *,
    method: str = "auto",
    time_limit_s: float | None = None,
    seed: int = 0,
) -> AssignmentResult:
    """Choose ``p`` candidates minimising the weighted cost of assigning each row to the nearest.

    Parameters
    ----------
    cost
        ``(demand x candidates)`` costs (e.g. metres): a dense array (``np.inf`` marks a
        forbidden pair) or a scipy.sparse matrix whose stored entries are the allowed pairs
        (explicit zeros count; missing entries are forbidden), e.g. from
        :func:`~planner.optimize.distances_from_network`.
    weights
        Non-negative weight per row (``None`` for ones).
    p
        Number of sites, ``1 <= p <= candidates``.
    method
        ``"exact"`` (HiGHS), ``"heuristic"`` (greedy, fast interchange, iterated local search,
        certified by a Lagrangian lower bound) or ``"auto"`` (HiGHS from the interchange's
        answer up to :data:`AUTO_DIRECT_MAX_PAIRS` allowed pairs, the heuristic above).
    time_limit_s
        Wall-clock budget (``None``: budgets count work, so a seeded call gives the same answer
        on any machine load; with a limit it may not, see ``summary()["load_dependent"]``).
    seed
        Seed of the local-search kicks and of HiGHS.

    Returns
    -------
    AssignmentResult
        ``objective`` is the total weighted cost; ``bound`` a lower bound on the optimum.

    Raises
    ------
    planner.core.errors.InputError
        On a malformed matrix, bad weights, ``p`` out of range, a row without any allowed
        candidate or a bad option.
    """
    started = time.perf_counter()
    problems = Problems()
    matrix = as_cost(cost, problems)
    m, n = matrix.shape
    w = as_weights(weights, m, problems)
    p = as_count(p, problems, name="p", low=1, high=max(n, 1), what="number of sites")
    method, limit, seed = check_options(
        problems, method=method, time_limit_s=time_limit_s, seed=seed
    )
    problems.raise_if_any()
    raw = allowed_pairs(matrix)
    _check_rows(raw)
    deadline = started + limit if limit is not None else math.inf
    weighted = raw.data * w[_rows(raw)]
    # weighted costs in a unit of the dearest assignment's total, so that every tolerance is
    # relative to the instance's scale; with integer weighted costs the optimum is a whole
    # number of original units
    unit = weight_unit(float(np.maximum.reduceat(weighted, raw.indptr[:-1]).sum()))
    grain = 1.0 / unit if bool(np.all(weighted == np.round(weighted))) else 0.0
    scaled = sp.csr_array((weighted / unit, raw.indices, raw.indptr), shape=raw.shape)
    entries = Entries.from_csr(scaled)
    selected, bound, engine, status = _solve(
        entries, p, method=method, deadline=deadline, seed=seed, grain=grain
    )
    result = assignment_result(
        raw,
        w,
        pad(selected, p, n),
        bound=bound * unit,
        method=engine,
        status=status,
        started=started,
    )
    return in_units(result, 1.0, objective_in_weights=False, time_limit_s=limit)


def allowed_pairs(matrix: np.ndarray | sp.csr_array) -> sp.csr_array:
    """CSR of the allowed pairs' costs: every finite dense entry (zeros kept) or stored entries."""
    if sp.issparse(matrix):
        return sp.csr_array(matrix)
    rows, cols = np.nonzero(np.isfinite(matrix))
    out = sp.csr_array((matrix[rows, cols], (rows, cols)), shape=matrix.shape)
    out.sort_indices()
    return out


def _rows(matrix: sp.csr_array) -> np.ndarray:
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))


def _check_rows(raw: sp.csr_array) -> None:
    empty = np.flatnonzero(np.diff(raw.indptr) == 0)
    if empty.size:
        raise InputError(
            "cost: expected every demand row to allow at least one candidate, got "
            f"{empty.size} row(s) with none (first: row {int(empty[0])}); "
            "add candidates, keep more neighbours or drop those rows"
        )


def _solve(
    entries: Entries, p: int, *, method: str, deadline: float, seed: int, grain: float
) -> tuple[np.ndarray, float, Method, str]:
    """Heuristic with a Lagrangian bound; HiGHS when asked, or under auto up to
    :data:`AUTO_DIRECT_MAX_PAIRS` pairs."""
    pairs = entries.cost.shape[0]
    if method == "auto" and routes_to_exact(pairs):
        # the interchange's answer stays when HiGHS's is worse (a fallback at a work limit)
        start, _ = interchange(entries, lazy_greedy(entries, p), deadline=deadline)
        return _exact(entries, p, start, bound=0.0, time_limit_s=remaining(deadline), seed=seed)
    best, state = interchange(entries, lazy_greedy(entries, p), deadline=deadline)
    rows = CostSorted.of(entries)
    iterations = _cap(VOLUME_WORK, pairs, 100, 1000)
    # a solution leaving rows unassigned has a penalty total: aim the steps at the largest
    # feasible total instead (the sum of every row's dearest allowed cost)
    dual = volume_bound(
        rows,
        p,
        min(state.total, (entries.penalty - 1.0) / 2.0),
        start=_multipliers(entries, state),
        iterations=iterations,
        stop=_proof_level(state.total, grain),
        deadline=deadline,
    )
    # Lagrangian heuristics: the relaxation's last choice and the rounded average opening
    for start in (dual.chosen, dual.rounded(p)):
        from_bound, state_b = interchange(entries, start, deadline=deadline)
        if state_b.total < state.total:
            best, state = from_bound, state_b
    target = _rounded_bound(dual.value, grain)
    proven = state.total <= target + RTOL * max(1.0, abs(target))
    if method == "exact":
        return _exact(entries, p, best, bound=target, time_limit_s=remaining(deadline), seed=seed)
    if not proven:
        best, state = _reduced_search(entries, best, state, dual, p=p, seed=seed, deadline=deadline)
        late = time.perf_counter() > deadline
        if state.total > target + RTOL * max(1.0, abs(target)) and not late:
            again = volume_bound(
                rows,
                p,
                state.total,
                start=dual.u,
                iterations=iterations,
                stop=_proof_level(state.total, grain),
                deadline=deadline,
            )
            target = max(target, _rounded_bound(again.value, grain))
    return best, float(target), "heuristic", "heuristic"


def routes_to_exact(pairs: int) -> bool:
    """Whether ``method="auto"`` hands an instance straight to HiGHS (see
    :data:`AUTO_DIRECT_MAX_PAIRS`); a function of the size only, so the route is deterministic."""
    return pairs <= AUTO_DIRECT_MAX_PAIRS


def _multipliers(entries: Entries, state: State) -> np.ndarray:
    """First Lagrangian multipliers: each row's cost in the heuristic answer (its cheapest
    allowed cost where that answer leaves it unassigned)."""
    cheapest = np.minimum.reduceat(entries.cost, entries.indptr[:-1])
    return np.where(state.d1 < entries.penalty, state.d1, cheapest)


def _proof_level(total: float, grain: float) -> float:
    """The bound value at which an answer of ``total`` is proven optimal."""
    if grain > 0:
        return total - grain * (1.0 - 1e-6)
    return total - RTOL * max(1.0, abs(total))


def _rounded_bound(value: float, grain: float) -> float:
    """A bound rounded up to the cost grain (integer weighted costs), else unchanged."""
    return math.ceil(value / grain - 1e-6) * grain if grain > 0 else value


def _reduced_search(
    entries: Entries,
    best: np.ndarray,
    state: State,
    dual: Dual,
    *,
    p: int,
    seed: int,
    deadline: float,
) -> tuple[np.ndarray, State]:
    """Iterated local search on the candidates reduced-cost fixing leaves (all better answers
    lie among them), the answer mapped back to the full instance."""
    n = entries.shape[1]
    keep = np.ones(n, dtype=bool)
    if state.total < entries.penalty:  # a feasible answer: its own sites serve every row
        keep = ~closed_by_reduced_cost(dual, state.total, n=n)
        keep[best] = True
    sub, columns = restrict(entries, keep)
    logger.info("p-median: reduced-cost fixing keeps %d of %d candidates", columns.size, n)
    local = np.searchsorted(columns, best)
    pairs = sub.cost.shape[0]
    found, _ = iterated_search(
        sub,
        local,
        rng=np.random.default_rng(seed),
        deadline=deadline,
        patience=_cap(PATIENCE_WORK, pairs, 10, 60),
        max_kicks=_cap(KICK_WORK, pairs, 20, 500),
        target=-math.inf,
    )
    selected = columns[found]
    is_open = np.zeros(n, dtype=bool)
    is_open[selected] = True
    final = state_of(entries, is_open)
    return (selected, final) if final.total < state.total else (best, state)


def _cap(work: float, pairs: int, low: int, high: int) -> int:
    """Passes allowed by a work budget over ``pairs`` entries, clipped to ``[low, high]``."""
    return int(min(high, max(low, work // max(pairs, 1))))


def _exact(
    entries: Entries,
    p: int,
    start: np.ndarray,
    *,
    bound: float,
    time_limit_s: float | None,
    seed: int,
) -> tuple[np.ndarray, float, Method, str]:
    """Solve the strong formulation with HiGHS; keep ``start`` unless HiGHS finds no worse."""
    m, n = entries.shape
    nnz = entries.cost.shape[0]
    eye = sp.eye_array(nnz, format="csc")
    assign = sp.csc_array((np.ones(nnz), (entries.row, np.arange(nnz))), shape=(m, nnz))
    link_y = sp.csc_array((-np.ones(nnz), (np.arange(nnz), entries.col)), shape=(nnz, n))
    a = sp.bmat(
        [[assign, None], [eye, link_y], [None, sp.csc_array(np.ones((1, n)))]], format="csc"
    )
    is_open = np.zeros(n, dtype=bool)
    is_open[start] = True
    state = state_of(entries, is_open)
    outcome = _highs.solve(
        sp.csc_array(a),
        cost=np.concatenate([entries.cost, np.zeros(n)]),
        col_lower=np.zeros(nnz + n),
        col_upper=np.ones(nnz + n),
        row_lower=np.concatenate([np.ones(m), np.full(nnz, -np.inf), [p]]),
        row_upper=np.concatenate([np.ones(m), np.zeros(nnz), [p]]),
        integer=np.concatenate([np.zeros(nnz, dtype=bool), np.ones(n, dtype=bool)]),
        maximize=False,
        time_limit_s=time_limit_s,
        seed=seed,
    )
    selected = start
    if outcome.status not in ("optimal", *LIMIT_STATUSES):
        logger.info("p-median: HiGHS ended with %s; heuristic answer kept", outcome.status)
        return selected, float(bound), "heuristic", "heuristic"
    found = np.flatnonzero(outcome.x[nnz:] > 0.5) if outcome.x is not None else start
    if found.shape[0] == p and outcome.objective <= state.total + RTOL * max(1.0, state.total):
        selected = found
    return (
        selected,
        _exact_bound(entries, p, selected, bound, outcome.bound),
        "exact",
        outcome.status,
    )


def _exact_bound(
    entries: Entries, p: int, selected: np.ndarray, bound: float, highs_bound: float
) -> float:
    """HiGHS's dual bound, unless the recomputed answer beats it (HiGHS's tolerances: seen at
    4·10⁻⁷ above on random 1,000 x 200 instances); then the proven ``bound`` passed in, or,
    without one, a volume bound from the answer's costs per row."""
    is_open = np.zeros(entries.shape[1], dtype=bool)
    is_open[selected] = True
    state = state_of(entries, is_open)
    if math.isfinite(highs_bound) and highs_bound <= state.total + RTOL * max(1.0, state.total):
        return float(max(bound, highs_bound))
    if bound > 0 or state.total >= entries.penalty:
        return float(bound)
    dual = volume_bound(
        CostSorted.of(entries),
        p,
        state.total,
        start=state.d1,
        iterations=_cap(VOLUME_WORK, entries.cost.shape[0], 100, 1000),
        stop=_proof_level(state.total, 0.0),
    )
    return float(max(bound, dual.value))


def assignment_result(
    raw: sp.csr_array,
    weights: np.ndarray,
    selected: np.ndarray,
    *,
    bound: float,
    method: Method,
    status: str,
    started: float,
    objective_kind: str = "sum",
) -> AssignmentResult:
    """Assign each row to its cheapest selected candidate and package the result.

    ``objective_kind`` is ``"sum"`` (p-median: weighted total) or ``"max"`` (p-center).
    """
    selected = np.unique(np.asarray(selected, dtype=np.int64))
    is_open = np.zeros(raw.shape[1], dtype=bool)
    is_open[selected] = True
    unit = Entries.from_csr(raw)
    state = state_of(unit, is_open)
    assigned = state.c1 >= 0
    cost = np.where(assigned, state.d1, np.inf)
    unassigned = int((~assigned).sum())
    if unassigned:
        objective = math.inf
    elif objective_kind == "max":
        objective = float(cost.max())
    else:
        objective = float((weights * cost).sum())
    total_w = float(weights[assigned].sum())
    mean = float((weights[assigned] * cost[assigned]).sum() / total_w) if total_w > 0 else 0.0
    if unassigned:  # not a solution: nothing is proven about it
        status = "infeasible" if status == "infeasible" else "heuristic"
    bound, gap, status = settle_bound(objective, bound, status, maximize=False)
    return AssignmentResult(
        selected=selected,
        objective=objective,
        bound=bound,
        gap=gap,
        method=method,
        status=status,
        seconds=time.perf_counter() - started,
        assignment=np.where(assigned, state.c1, -1),
        assigned_cost=cost,
        mean_cost=mean,
        unassigned=unassigned,
    )
