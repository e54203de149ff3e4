"""HiGHS through highspy, fed straight from sparse arrays (no per-variable Python loops)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)

_STDOUT_LOCK = threading.Lock()

_STATUS = {
    "kOptimal": "optimal",
    "kInfeasible": "infeasible",
    "kUnboundedOrInfeasible": "unbounded_or_infeasible",
    "kUnbounded": "unbounded",
    "kTimeLimit": "time_limit",
    "kIterationLimit": "work_limit",
    "kSolutionLimit": "work_limit",  # mip_max_nodes (HiGHS reports node limits so)
    "kInterrupt": "interrupted",
    "kHighsInterrupt": "interrupted",
    "kMemoryLimit": "memory_limit",
    "kObjectiveBound": "objective_bound",
    "kObjectiveTarget": "objective_target",
    "kModelEmpty": "empty",
}


@dataclass(frozen=True, eq=False)
class HighsOutcome:
    """What one HiGHS run produced.

    ``x`` is the primal solution (``None`` when HiGHS has none), ``objective`` its value (``nan``
    without one), ``bound`` the proven dual bound (MIP dual bound, or the LP optimum), ``status``
    the model status read from ``getModelStatus()``; ``reduced_costs`` and ``row_duals`` the
    column and row duals of an LP solution (``None`` for a MIP or without a solution).
    """

    x: np.ndarray | None
    objective: float
    bound: float
    status: str
    seconds: float
    nodes: int
    reduced_costs: np.ndarray | None = None
    row_duals: np.ndarray | None = None


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1 (HiGHS prints its banner from C++ when first constructed)."""
    with _STDOUT_LOCK:
        sys.stdout.flush()
        try:
            saved = os.dup(1)
        except OSError:  # no usable stdout (e.g. closed): nothing to protect
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)


#: Deterministic work limits used when the caller gives no wall-clock limit (see
#: :func:`work_limits`): branch-and-bound nodes ``NODE_WORK / nonzeros`` within ``[MIN_NODES,
#: MAX_NODES]`` (a node costs about an LP re-solve, which grows with the model), and simplex
#: iterations per row and column. The clustered metro MCLP (2,121 columns after fixing) made
#: 300 nodes in 213 s on a 2-core machine at load 10 (1,212,968 covered, bound 1,219,019; a 30 s
#: limit gave 1,219,142 before); the OR-Library p-medians close at the root node.
NODE_WORK = 1e7
MIN_NODES = 100
MAX_NODES = 20_000
SIMPLEX_ITERATIONS_PER_LINE = 50
MIN_SIMPLEX_ITERATIONS = 100_000
#: Interior-point iterations (a few dozen on every instance measured).
MAX_IPM_ITERATIONS = 500


def work_limits(a: sp.csc_array) -> dict[str, int]:
    """HiGHS options bounding a run of the model ``a`` by work, not seconds: a node limit
    falling and iteration limits growing with the model's size. Counted work is the same on an
    idle and on a loaded machine (HiGHS runs on one thread), so the answer is too."""
    lines = int(a.shape[0]) + int(a.shape[1])
    nodes = int(min(MAX_NODES, max(MIN_NODES, NODE_WORK // max(int(a.nnz), 1))))
    return {
        "mip_max_nodes": nodes,
        "simplex_iteration_limit": max(MIN_SIMPLEX_ITERATIONS, SIMPLEX_ITERATIONS_PER_LINE * lines),
        "ipm_iteration_limit": MAX_IPM_ITERATIONS,
    }


def _new_highs(*, time_limit_s: float | None, seed: int, mip_rel_gap: float) -> highspy.Highs:
    with _quiet_stdout():
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("log_to_console", False)
    highs.setOptionValue("random_seed", int(seed) % 2_147_483_647)
    highs.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    highs.setOptionValue("mip_abs_gap", 1e-9)
    highs.setOptionValue("threads", 1)
    if time_limit_s is not None:
        highs.setOptionValue("time_limit", max(float(time_limit_s), 0.01))
    return highs


def _pass_model(
    highs: highspy.Highs,
    a: sp.csc_array,
    cost: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    integrality: np.ndarray,
    *,
    maximize: bool,
) -> None:
    """Hand ``a`` (sorted CSC), ``cost``, the column and row ``bounds`` (lower and upper of
    each) and ``integrality`` to ``highs``."""
    n_row, n_col = a.shape
    highs.passModel(
        int(n_col),
        int(n_row),
        int(a.nnz),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize),
        0.0,
        np.ascontiguousarray(cost, dtype=np.float64),
        np.ascontiguousarray(bounds[0], dtype=np.float64),
        np.ascontiguousarray(bounds[1], dtype=np.float64),
        np.ascontiguousarray(bounds[2], dtype=np.float64),
        np.ascontiguousarray(bounds[3], dtype=np.float64),
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(np.float64),
        integrality,
    )


def solve(
    a: sp.csc_array,
    *,
    cost: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    integer: np.ndarray | None,
    maximize: bool,
    time_limit_s: float | None = None,
    seed: int = 0,
    mip_rel_gap: float = 1e-9,
    lp_solver: str = "choose",
    iterations: int | None = None,
    options: dict[str, float | int | str] | None = None,
) -> HighsOutcome:
    """Solve ``max/min cost @ x`` s.t. ``row_lower <= a @ x <= row_upper``, bounds, integrality.

    Parameters
    ----------
    a
        Constraint matrix (rows x columns), passed to HiGHS column-wise.
    cost, col_lower, col_upper, row_lower, row_upper
        Objective and bounds (``np.inf`` for none).
    integer
        Boolean mask of integer columns, or ``None`` for a pure LP.
    maximize
        Objective sense.
    time_limit_s, seed, mip_rel_gap
        HiGHS options ``time_limit``, ``random_seed``, ``mip_rel_gap``.
    lp_solver
        HiGHS option ``solver`` for a pure LP (``"choose"``, ``"simplex"`` or ``"ipm"``; interior
        point runs with crossover, so the answer is a vertex with exact duals).
    iterations
        Simplex iteration limit replacing the default of :func:`work_limits`. Without
        ``time_limit_s`` the run is bounded by those work limits (status ``"work_limit"`` when
        reached), so that it ends whatever the instance, the same way on any machine load.
    options
        Further HiGHS options by name (e.g. ``{"objective_bound": 10.0}``: a minimisation
        prunes every node that cannot beat 10).

    Returns
    -------
    HighsOutcome
        Solution, objective, proven bound and true model status.
    """
    started = time.perf_counter()
    highs = _new_highs(time_limit_s=time_limit_s, seed=seed, mip_rel_gap=mip_rel_gap)
    is_mip = integer is not None and bool(np.any(integer))
    if not is_mip:
        highs.setOptionValue("solver", lp_solver)
    a = sp.csc_array(a)
    limits = work_limits(a) if time_limit_s is None else {}
    if iterations is not None:
        limits["simplex_iteration_limit"] = int(iterations)
    for name, setting in {**limits, **(options or {})}.items():
        highs.setOptionValue(name, setting)
    a.sort_indices()
    n_row, n_col = a.shape
    integrality = np.asarray(integer, dtype=np.int32) if is_mip else np.zeros(n_col, dtype=np.int32)
    bounds = (col_lower, col_upper, row_lower, row_upper)
    _pass_model(highs, a, cost, bounds, integrality, maximize=maximize)
    # No MIP start is handed to HiGHS: with highspy 1.16, a run after ``setSolution`` reported
    # an objective and an "optimal" bound (8 sites) that its returned solution (the 11-site
    # start) does not have, below the optimum HiGHS proves without the start (9). The callers
    # keep their heuristic answer whenever HiGHS does not beat it.
    highs.run()
    outcome = _outcome(highs, is_mip=is_mip, started=started)
    logger.debug(
        "HiGHS %s %dx%d nnz=%d: %s obj=%s bound=%s in %.2fs",
        "MIP" if is_mip else "LP",
        n_row,
        n_col,
        a.nnz,
        outcome.status,
        outcome.objective,
        outcome.bound,
        outcome.seconds,
    )
    return outcome


def _outcome(highs: highspy.Highs, *, is_mip: bool, started: float) -> HighsOutcome:
    """What a finished run of ``highs`` produced, with its true model status."""
    name = str(highs.getModelStatus()).split(".")[-1]
    status = _STATUS.get(name, name.removeprefix("k").lower())
    info = highs.getInfo()
    has_solution = int(info.primal_solution_status) == 2
    solution = highs.getSolution()
    x = np.asarray(solution.col_value, dtype=np.float64) if has_solution else None
    duals = row_duals = None
    if has_solution and not is_mip and int(info.dual_solution_status) == 2:
        duals = np.asarray(solution.col_dual, dtype=np.float64)
        row_duals = np.asarray(solution.row_dual, dtype=np.float64)
    objective = float(info.objective_function_value) if has_solution else float("nan")
    if is_mip:
        bound = float(info.mip_dual_bound)
    else:
        bound = objective if status == "optimal" else float("nan")
    return HighsOutcome(
        x=x,
        objective=objective,
        bound=bound,
        status=status,
        seconds=time.perf_counter() - started,
        nodes=int(info.mip_node_count) if is_mip else 0,
        reduced_costs=duals,
        row_duals=row_duals,
    )
