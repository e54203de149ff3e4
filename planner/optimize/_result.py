"""Frozen results that every solver returns, and the gap they report."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

Method = Literal["exact", "heuristic"]


def settle_bound(
    objective: float, bound: float, status: str, *, maximize: bool
) -> tuple[float, float, str]:
    """Clip ``bound`` to the achieved ``objective`` and derive the gap and the final status.

    A bound is never weaker than the answer in hand (except for an infeasible minimisation,
    whose bound is kept); a heuristic or time-limited answer with zero gap is proven optimal.
    Returns ``(bound, gap, status)``.
    """
    if maximize:
        bound = max(bound, objective)
    elif status != "infeasible":
        bound = min(bound, objective)
    gap = relative_gap(objective, bound, maximize=maximize)
    if gap == 0.0 and status in ("heuristic", "time_limit"):
        status = "optimal"
    return float(bound), gap, status


def relative_gap(objective: float, bound: float, *, maximize: bool) -> float:
    """Return the relative optimality gap ``|bound - objective| / |objective|``, never negative.

    ``0`` when both are zero; ``inf`` when the objective is zero and the bound is not, or when
    either is not finite.
    """
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.inf
    slack = bound - objective if maximize else objective - bound
    slack = max(slack, 0.0)
    if slack <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    if objective == 0:
        return math.inf
    return slack / abs(objective)


@dataclass(frozen=True, eq=False)
class OptimizeResult:
    """What every solver reports.

    Attributes
    ----------
    selected
        Indices of the chosen candidates (sorted ascending), int64.
    objective
        Objective value of ``selected`` recomputed from the input (not a solver's label).
    bound
        Proven bound on the optimum: an upper bound for maximisation, a lower bound for
        minimisation (from HiGHS's MIP dual bound, an LP relaxation or a Lagrangian relaxation).
    gap
        Relative gap between ``objective`` and ``bound`` (see :func:`relative_gap`), ``>= 0``.
    method
        ``"exact"`` (HiGHS branch-and-bound) or ``"heuristic"`` (greedy plus local search).
    status
        The engine's true status: ``"optimal"`` (proven, gap 0), ``"time_limit"``,
        ``"infeasible"``, ``"heuristic"`` (a local optimum with a certified gap), ...
    seconds
        Wall time of the call.
    """

    selected: np.ndarray
    objective: float
    bound: float
    gap: float
    method: Method
    status: str
    seconds: float

    def summary(self) -> dict[str, Any]:
        """Return the scalar fields as a JSON-friendly dict (arrays reduced to their size)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, np.ndarray) or sp.issparse(value):
                out[f"n_{item.name}"] = int(value.shape[0]) if value.ndim == 1 else int(value.nnz)
            elif isinstance(value, float | np.floating):
                out[item.name] = float(value) if math.isfinite(value) else None
            else:
                out[item.name] = value
        out["n_selected"] = int(self.selected.shape[0])
        return out


@dataclass(frozen=True, eq=False)
class CoverageResult(OptimizeResult):
    """Result of :func:`solve_max_coverage` and :func:`solve_set_cover`.

    Attributes
    ----------
    covered_weight
        Weight of demand rows covered by at least one selected candidate.
    covered_share
        ``covered_weight`` over the total weight (1.0 when the total is 0).
    covered
        Boolean per demand row: covered by ``selected``.
    """

    covered_weight: float
    covered_share: float
    covered: np.ndarray


@dataclass(frozen=True, eq=False)
class AssignmentResult(OptimizeResult):
    """Result of :func:`solve_p_median` and :func:`solve_p_center`.

    Attributes
    ----------
    assignment
        Index of the candidate each demand row is assigned to (its cheapest selected one);
        ``-1`` when no selected candidate is allowed for the row (sparse costs only).
    assigned_cost
        Cost from each row to its assigned candidate (``inf`` when unassigned).
    mean_cost
        Weight-averaged ``assigned_cost`` over assigned rows.
    unassigned
        Number of rows without an allowed selected candidate (the solution is then infeasible).
    """

    assignment: np.ndarray
    assigned_cost: np.ndarray
    mean_cost: float
    unassigned: int


@dataclass(frozen=True, eq=False)
class CapacitatedResult(OptimizeResult):
    """Result of the capacitated coverage models.

    Attributes
    ----------
    assignment
        ``(demand x candidates)`` CSR matrix of the amounts assigned (same unit as the weights);
        rows sum to at most the weight, columns to at most the capacity, only within coverage.
    served_weight
        Total assigned amount.
    served_share
        ``served_weight`` over the total weight.
    unmet
        Weight not served: ``total - served_weight``.
    load
        Assigned amount per candidate (zero for unselected ones).
    """

    assignment: sp.csr_array
    served_weight: float
    served_share: float
    unmet: float
    load: np.ndarray


def capacitated_result(
    selected: np.ndarray,
    assignment: sp.csr_array,
    weights: np.ndarray,
    *,
    objective: float,
    bound: float,
    gap: float,
    method: Method,
    status: str,
    seconds: float,
) -> CapacitatedResult:
    """Package a capacitated answer; served weight, share, unmet and load from ``assignment``."""
    served = float(assignment.sum())
    total = float(weights.sum())
    return CapacitatedResult(
        selected=selected,
        objective=objective,
        bound=float(bound),
        gap=gap,
        method=method,
        status=status,
        seconds=seconds,
        assignment=assignment,
        served_weight=served,
        served_share=served / total if total > 0 else 1.0,
        unmet=max(total - served, 0.0),
        load=np.asarray(assignment.sum(axis=0)).ravel(),
    )
