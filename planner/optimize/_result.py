"""Frozen results that every solver returns, and the gap they report."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, TypeVar

import numpy as np
import scipy.sparse as sp

Method = Literal["exact", "heuristic"]

logger = logging.getLogger(__name__)

#: Statuses whose answer comes with a proven bound but no proof of optimality; the engine
#: stopped at a limit (``"time_limit"``: the caller's wall-clock limit, the only status that
#: depends on the machine's load; ``"work_limit"``: a deterministic node or iteration limit).
LIMIT_STATUSES = ("time_limit", "work_limit")
#: Relative tolerance of every comparison with the instance's scale: a gap at most this share
#: of the objective is zero, and a share constraint is met within this share of its target.
RTOL = 1e-9


def weight_unit(total: float) -> float:
    """The power of two at or above ``total`` (1.0 for zero or a non-finite total).

    Solvers divide weights (and capacities) by it, so that every internal tolerance is relative
    to the instance's scale; a power of two keeps the division exact, so the answer on weights
    scaled by ``2**k`` is the same selection.
    """
    if not (math.isfinite(total) and total > 0):
        return 1.0
    return math.ldexp(1.0, math.frexp(total)[1])


def settle_bound(
    objective: float, bound: float, status: str, *, maximize: bool
) -> tuple[float, float, str]:
    """Clip ``bound`` to the achieved ``objective`` and derive the gap and the final status.

    A bound is never weaker than the answer in hand (except for an infeasible minimisation,
    whose bound is kept); a heuristic or limited answer with zero gap is proven optimal, and an
    answer is labelled ``"optimal"`` only with zero gap (otherwise ``"heuristic"``). Callers
    pass only feasible answers. Returns ``(bound, gap, status)``.
    """
    if math.isfinite(objective) and relative_gap(bound, objective, maximize=maximize) > 0:
        # the answer in hand beats the "bound": an engine's numerics broke it; keep a trivial one
        logger.warning("bound %.9g disproven by an answer of %.9g; dropped", bound, objective)
        bound = math.inf if maximize else 0.0
        status = "heuristic"
    if maximize:
        bound = max(bound, objective)
    elif status != "infeasible":
        bound = min(bound, objective)
    gap = relative_gap(objective, bound, maximize=maximize)
    if gap == 0.0 and status in ("heuristic", *LIMIT_STATUSES):
        status = "optimal"
    elif gap > 0.0 and status == "optimal":
        status = "heuristic"
    return float(bound), gap, status


def relative_gap(objective: float, bound: float, *, maximize: bool) -> float:
    """Return the relative optimality gap ``|bound - objective| / |objective|``, never negative.

    ``0`` when the slack is at most :data:`RTOL` times the larger of the two (whatever their
    scale); ``inf`` when the objective is zero and the bound is not, or when either is not
    finite.
    """
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.inf
    slack = bound - objective if maximize else objective - bound
    slack = max(slack, 0.0)
    if slack <= RTOL * max(abs(objective), abs(bound)):
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
        ``"optimal"`` (proven: gap 0), ``"heuristic"`` (a feasible answer with a certified
        gap), ``"work_limit"`` (branch-and-bound stopped at its deterministic node limit),
        ``"time_limit"`` (stopped at the caller's ``time_limit_s``), ``"infeasible"``.
    seconds
        Wall time of the call.
    time_limit_s
        The caller's wall-clock limit, ``None`` without one. With a limit the answer may
        depend on the machine's load (``summary()`` then says ``load_dependent``); without
        one every budget counts work and a seeded call gives the same answer on any load.
    """

    selected: np.ndarray
    objective: float
    bound: float
    gap: float
    method: Method
    status: str
    seconds: float
    time_limit_s: float | None = field(default=None, kw_only=True)

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
        out["load_dependent"] = self.time_limit_s is not None
        if self.time_limit_s is not None:
            out["load_dependent_reason"] = (
                f"wall-clock time_limit_s={self.time_limit_s:g}: the answer may change with "
                "the machine's load"
            )
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


_R = TypeVar("_R", bound=OptimizeResult)
#: Fields in the unit of the weights (rescaled by :func:`in_units`).
_WEIGHT_FIELDS = ("covered_weight", "served_weight", "unmet", "load", "assignment")


def in_units(
    result: _R, unit: float, *, objective_in_weights: bool, time_limit_s: float | None
) -> _R:
    """``result``, solved on weights divided by ``unit`` (see :func:`weight_unit`), stated in the
    caller's unit (exact: ``unit`` is a power of two), with the caller's ``time_limit_s``.

    ``objective_in_weights``: the objective and bound are weights too (maximum coverage), not
    site counts.
    """
    changes: dict[str, Any] = {"time_limit_s": time_limit_s}
    if unit != 1.0:
        for name in _WEIGHT_FIELDS:
            if name == "assignment" and not isinstance(result, CapacitatedResult):
                continue  # p-median's assignment holds site indices
            if hasattr(result, name):
                value = getattr(result, name)
                changes[name] = (
                    value * unit if not sp.issparse(value) else sp.csr_array(value * unit)
                )
        if objective_in_weights:
            changes["objective"] = result.objective * unit
            changes["bound"] = result.bound * unit
    return replace(result, **changes)


@dataclass(frozen=True, eq=False)
class CapacitatedMedianResult(OptimizeResult):
    """Result of :func:`solve_capacitated_p_median`.

    Attributes
    ----------
    assignment
        The site serving each row (single source), or the site serving its largest share
        (divisible demand).
    shares
        ``(demand x candidates)`` CSR matrix of the share of each row's demand served by each
        site; rows sum to 1, and hold one 1 each with a single source.
    load
        Demand served per candidate (zero for unselected ones), at most its capacity.
    single_source
        Whether each row was served by one site.
    """

    assignment: np.ndarray
    shares: sp.csr_array
    load: np.ndarray
    single_source: bool
