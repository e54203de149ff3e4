"""Sites that earn their place: what the coverage strategy does once coverage saturates.

On a small dense area a few sites already cover nearly all demand; a coverage model asked for
more places the rest anywhere (every choice covers the same), often a few metres from another
site, serving nothing. Three steps prevent that:

1. :func:`sites_needed` -- the fewest of the chosen sites that keep the coverage they reach
   (the saturation point ``k``).
2. :func:`fill_by_distance` -- when ``k`` is below the sites asked for, the other sites go where
   they cut the demand-weighted mean distance (or time) most: a p-median over all candidates
   with the ``k`` covering sites forced open (one zero-cost row each that only its site serves),
   so coverage cannot fall (lexicographic: coverage first, then distance).
3. :func:`prune_sites` -- a new site standing closer than the minimum spacing to another site,
   or serving less than the minimum share of demand, is dropped (the least-serving first, then
   demand is reassigned and the rule checked again), so the plan may stop short of the count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from planner.ground.model import Ground
from planner.ground.reach import assign_nearest

logger = logging.getLogger(__name__)


def sites_needed(
    coverage: sp.csr_array, weights: np.ndarray, selected: np.ndarray, **opts: Any
) -> np.ndarray:
    """The fewest of the ``selected`` columns covering as much weight as all of them.

    Runs the optimizer's set cover on the selected columns only; returns column indices into
    ``coverage`` (``selected`` itself when it cannot be made smaller).
    """
    from planner import optimize

    selected = np.asarray(selected, dtype=np.int64)
    w = np.asarray(weights, dtype=float)
    if selected.size <= 1 or float(w.sum()) <= 0:
        return selected
    sub = sp.csr_array(sp.csc_array(coverage)[:, selected])
    covered = np.asarray(sub.sum(axis=1)).reshape(-1) > 0
    share = float(w[covered].sum() / w.sum())
    if share <= 0:
        return selected[:0]
    # a hair below the share, so round-off in the optimizer's sums cannot make it unreachable
    result = optimize.solve_set_cover(sub, w, min_share=share * (1 - 1e-12), **opts)
    fewest = selected[np.asarray(result.selected, dtype=np.int64)]
    return fewest if fewest.size < selected.size else selected


def fill_by_distance(
    cost: sp.csr_array, weights: np.ndarray, fixed: np.ndarray, p: int, **opts: Any
) -> np.ndarray:
    """``p`` columns minimising the weighted cost to the nearest, ``fixed`` columns forced open.

    ``cost`` is the demand x candidate cost matrix (stored entries are the allowed pairs).
    Rows without weight or without any allowed pair are left out; each fixed column gets a
    forcing row (cost 0, weight 1) that only it can serve, so every solution opens it.
    """
    from planner import optimize

    fixed = np.asarray(fixed, dtype=np.int64)
    w = np.asarray(weights, dtype=float)
    rows = np.flatnonzero((w > 0) & (np.diff(cost.indptr) > 0))
    n = int(cost.shape[1])
    forcing = sp.csr_array(
        (np.zeros(fixed.size), (np.arange(fixed.size), fixed)), shape=(fixed.size, n)
    )
    forcing.data[:] = 0.0  # explicit zeros are allowed pairs
    matrix = sp.csr_array(sp.vstack([cost[rows], forcing], format="csr"))
    if matrix.shape[0] == 0:
        return fixed
    result = optimize.solve_p_median(matrix, np.r_[w[rows], np.ones(fixed.size)], p, **opts)
    chosen = np.asarray(result.selected, dtype=np.int64)
    if not np.isin(fixed, chosen).all():  # never expected: the forcing rows are infeasible else
        logger.warning("p-median fill dropped a covering site; keeping the covering sites only")
        return fixed
    return chosen


@dataclass(frozen=True)
class Pruned:
    """New sites kept by :func:`prune_sites` and what was dropped.

    Attributes
    ----------
    kept
        Ground nodes of the new sites kept, in their original order.
    dropped
        One record per dropped site: ``node_idx``, ``reason`` (``"spacing"`` or ``"share"``),
        ``demand_served`` before dropping and ``nearest_site_m``.
    """

    kept: np.ndarray
    dropped: tuple[dict[str, Any], ...]


def prune_sites(
    ground: Ground,
    matrix: sp.csr_array,
    new_nodes: np.ndarray,
    existing_nodes: np.ndarray,
    *,
    min_spacing_m: float,
    min_served: float,
) -> Pruned:
    """Drop new sites closer than ``min_spacing_m`` to another site or serving < ``min_served``.

    Demand goes to its nearest site on ``matrix`` (metres or seconds); spacing is straight-line
    in the projected CRS. One site is dropped at a time, the least-serving violator, and the
    demand reassigned before the next check. Existing sites are never dropped.
    """
    new = [int(n) for n in np.asarray(new_nodes, dtype=np.int64)]
    existing = np.asarray(existing_nodes, dtype=np.int64)
    dropped: list[dict[str, Any]] = []
    while new:
        nodes = np.r_[existing, np.asarray(new, dtype=np.int64)]
        served = served_demand(ground, matrix, nodes)[existing.size :]
        gap_m = _nearest_other_m(ground, nodes)[existing.size :]
        close, small = gap_m < min_spacing_m, served < min_served
        bad = np.flatnonzero(close | small)
        if bad.size == 0:
            break
        worst = int(bad[np.argmin(served[bad])])
        dropped.append(
            {
                "node_idx": new[worst],
                "reason": "spacing" if close[worst] else "share",
                "demand_served": round(float(served[worst]), 3),
                "nearest_site_m": round(float(gap_m[worst]), 1),
            }
        )
        del new[worst]
    if dropped:
        logger.info("dropped %d sites below the spacing or share minimum", len(dropped))
    return Pruned(np.asarray(new, dtype=np.int64), tuple(dropped))


def served_demand(ground: Ground, matrix: sp.csr_array, site_nodes: np.ndarray) -> np.ndarray:
    """Demand of the ground served by each site (nearest site on ``matrix``)."""
    nearest, cost = assign_nearest(matrix, ground.demand.node_idx, site_nodes)
    ok = (nearest >= 0) & np.isfinite(cost)
    return np.bincount(nearest[ok], weights=ground.demand.demand[ok], minlength=len(site_nodes))


def _nearest_other_m(ground: Ground, nodes: np.ndarray) -> np.ndarray:
    """Straight-line distance from each site to the nearest other site (``inf`` when alone)."""
    if nodes.size < 2:
        return np.full(nodes.size, np.inf)
    xy = np.column_stack([ground.node_x_m[nodes], ground.node_y_m[nodes]])
    dist, _ = cKDTree(xy).query(xy, k=2)
    return np.asarray(dist[:, 1], dtype=float)
