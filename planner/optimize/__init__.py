"""Facility-location optimizer: arrays in, frozen results out.

Models
------
* :func:`solve_max_coverage` (MCLP) and :func:`solve_set_cover` (LSCP, with a partial share);
* :func:`solve_p_median` and :func:`solve_p_center`;
* :func:`solve_capacitated_max_coverage` and :func:`solve_capacitated_set_cover` (capacity per
  site, demand split between sites);
* :func:`solve_capacitated_p_median` (capacity per site, single-source or divisible demand).

Engines: HiGHS (``highspy``) branch-and-bound built straight from sparse arrays, and fast
heuristics (lazy greedy, swap / fast-interchange local search) whose answers always carry a
proven bound (LP or Lagrangian relaxation) and gap. ``method="auto"`` picks by instance size.

Coverage and distance matrices come from :func:`coverage_from_points`,
:func:`coverage_from_network` and their distance counterparts. See ``docs/optimizer.md``.
"""

from __future__ import annotations

from planner.optimize._result import (
    AssignmentResult,
    CapacitatedMedianResult,
    CapacitatedResult,
    CoverageResult,
    OptimizeResult,
    relative_gap,
)
from planner.optimize.capacitated import (
    solve_capacitated_max_coverage,
    solve_capacitated_set_cover,
)
from planner.optimize.capacitated_median import solve_capacitated_p_median
from planner.optimize.coverage import (
    coverage_from_network,
    coverage_from_points,
    distances_from_network,
    distances_from_points,
)
from planner.optimize.lscp import solve_set_cover
from planner.optimize.mclp import solve_max_coverage
from planner.optimize.pcenter import solve_p_center
from planner.optimize.pmedian import solve_p_median

__all__ = [
    "AssignmentResult",
    "CapacitatedMedianResult",
    "CapacitatedResult",
    "CoverageResult",
    "OptimizeResult",
    "coverage_from_network",
    "coverage_from_points",
    "distances_from_network",
    "distances_from_points",
    "relative_gap",
    "solve_capacitated_max_coverage",
    "solve_capacitated_p_median",
    "solve_capacitated_set_cover",
    "solve_max_coverage",
    "solve_p_center",
    "solve_p_median",
    "solve_set_cover",
]
