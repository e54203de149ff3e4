"""Capacitated models whose capacities cannot bind reduce to the plain coverage models.

When every candidate's capacity is at least the total weight of the rows it covers, no
assignment can ever fill a site: the capacitated maximum coverage is the MCLP and the
capacitated set cover is the (partial) LSCP, with each covered row served in full by one open
site. Those models have a far tighter formulation and faster engines, so the capacitated entry
points hand such instances to them (the swap stations of a city whose daily swap demand is small
are the common case).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from planner.optimize._cover_search import column_weights
from planner.optimize._result import CapacitatedResult, CoverageResult, capacitated_result


def capacity_is_slack(matrix: sp.csr_array, weights: np.ndarray, cap: np.ndarray) -> bool:
    """True when no candidate can be offered more weight than its capacity."""
    offered = column_weights(sp.csc_array(matrix), weights)
    return bool(np.all(offered <= cap * (1 + 1e-12)))


def as_capacitated(
    matrix: sp.csr_array, weights: np.ndarray, result: CoverageResult
) -> CapacitatedResult:
    """A coverage result as a capacitated one: each covered row served by one open site.

    A row goes to the open site covering it with the lowest index; with slack capacity any
    such assignment is feasible and serves the same total.
    """
    sub = sp.csr_array(matrix[:, result.selected])
    sub.sort_indices()
    rows = np.flatnonzero(np.diff(sub.indptr) > 0)
    first = sub.indices[sub.indptr[rows]]  # the first open site covering each covered row
    site = result.selected[first]
    assignment = sp.csr_array((weights[rows], (rows, site)), shape=matrix.shape)
    assignment.eliminate_zeros()
    return capacitated_result(
        result.selected,
        assignment,
        weights,
        objective=result.objective,
        bound=result.bound,
        gap=result.gap,
        method=result.method,
        status=result.status,
        seconds=result.seconds,
    )
