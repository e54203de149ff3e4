"""Battery-swap stations of the China pile-plus-swap strategy: demand, aggregation, siting.

Array functions only; the strategy module feeds them.

* :func:`swaps_per_day` turns NEVs into daily swap demand.
* :func:`aggregate_demand` merges demand points into at most ``max_points`` grid cells (per
  region), so the capacitated model stays small at national scale.
* :func:`urban_swaps` puts them together on a ground.
* :func:`site_swap_stations` runs the optimizer's capacitated set cover (falling back to
  capacitated max coverage when the share cannot be reached within the station cap) and returns
  stations, their loads and the unmet demand, which is reported, never dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner.core.errors import InputError
from planner.ground.model import Ground

logger = logging.getLogger(__name__)


def swaps_per_day(
    nevs: np.ndarray,
    *,
    swap_capable_share: float,
    daily_distance_km: float,
    range_per_pack_km: float,
) -> np.ndarray:
    """Daily battery swaps wanted: ``NEVs x swap-capable share x km per day / km per pack``."""
    return np.asarray(nevs, dtype=float) * (
        swap_capable_share * daily_distance_km / range_per_pack_km
    )


@dataclass(frozen=True, eq=False)
class Aggregated:
    """Demand points merged into cells.

    Attributes
    ----------
    point
        Index of each cell's representative point (the member nearest the cell's weighted
        centroid), into the original points.
    x_m, y_m
        Where each cell's demand is measured from: its representative point, so a station on
        that point always reaches the whole cell (members move by at most the cell diagonal).
    weight
        Total weight of each cell.
    region
        Region code of each cell (cells never mix regions).
    member_cell
        Cell index of every original point (``-1`` for points with zero weight).
    cell_m
        Cell size used, metres.
    """

    point: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    weight: np.ndarray
    region: np.ndarray
    member_cell: np.ndarray
    cell_m: float


def aggregate_demand(
    x_m: np.ndarray,
    y_m: np.ndarray,
    weight: np.ndarray,
    region: np.ndarray,
    *,
    cell_m: float,
    max_points: int,
) -> Aggregated:
    """Merge weighted points into square cells of ``cell_m`` (doubled until <= ``max_points``).

    Points with zero weight are left out; when at most ``max_points`` points have weight, each
    is its own cell (``cell_m`` is then reported as 0). A cell never spans two regions, so
    per-region totals survive. A cell's members lie within ``cell_m * sqrt(2)`` of each other:
    that is the aggregation error, reported through ``cell_m``.
    """
    w = np.asarray(weight, dtype=float)
    live = np.flatnonzero(w > 0)
    reg = np.asarray(region, dtype=object).astype(str)
    size = float(cell_m)
    if live.size <= max_points:  # small enough: every point is its own cell
        member_cell = np.full(w.shape[0], -1, dtype=np.int64)
        member_cell[live] = np.arange(live.size)
        return Aggregated(live, x_m[live], y_m[live], w[live], reg[live], member_cell, 0.0)
    while True:
        gx = np.floor(x_m[live] / size).astype(np.int64)
        gy = np.floor(y_m[live] / size).astype(np.int64)
        _, reg_code = np.unique(reg[live], return_inverse=True)
        keys = np.column_stack([reg_code, gx, gy])
        _, cell = np.unique(keys, axis=0, return_inverse=True)
        cell = cell.reshape(-1)
        n_cells = int(cell.max()) + 1 if cell.size else 0
        if n_cells <= max_points:
            break
        size *= 2.0
    lw = w[live]
    cw = np.bincount(cell, weights=lw, minlength=n_cells)
    cx = np.bincount(cell, weights=lw * x_m[live], minlength=n_cells) / np.maximum(cw, 1e-300)
    cy = np.bincount(cell, weights=lw * y_m[live], minlength=n_cells) / np.maximum(cw, 1e-300)
    d2 = (x_m[live] - cx[cell]) ** 2 + (y_m[live] - cy[cell]) ** 2
    order = np.lexsort((d2, cell))
    first = np.r_[True, cell[order][1:] != cell[order][:-1]] if order.size else np.empty(0, bool)
    rep = live[order[first]]
    member_cell = np.full(w.shape[0], -1, dtype=np.int64)
    member_cell[live] = cell
    if size > cell_m:
        logger.info(
            "swap demand aggregated to %d cells of %.0f m (requested %.0f m)", n_cells, size, cell_m
        )
    return Aggregated(rep, x_m[rep], y_m[rep], cw, reg[rep], member_cell, size)


@dataclass(frozen=True, eq=False)
class SwapSiting:
    """Urban swap stations chosen by the capacitated model.

    Attributes
    ----------
    selected
        Indices of the chosen candidates.
    load
        Swaps per day assigned to each chosen candidate (<= capacity).
    served
        Swaps per day served for each demand row.
    unmet
        Swaps per day not served for each demand row (``weight - served``, >= 0).
    model
        ``"set_cover"`` or ``"max_coverage"`` (the fallback), ``"none"`` when nothing was solved.
    result
        The optimizer's summary (status, gap, bound, seconds), ``{}`` when nothing was solved.
    """

    selected: np.ndarray
    load: np.ndarray
    served: np.ndarray
    unmet: np.ndarray
    model: str
    result: dict[str, Any]


def site_swap_stations(
    demand_xy: np.ndarray,
    demand_swaps: np.ndarray,
    cand_xy: np.ndarray,
    *,
    capacity: float,
    radius_m: float,
    min_share: float,
    max_sites: int,
    method: str,
    time_limit_s: float | None,
    seed: int,
    copies: np.ndarray | None = None,
    min_load: float = 0.0,
) -> SwapSiting:
    """Choose swap stations among candidates by capacitated coverage within ``radius_m``.

    The model is the optimizer's capacitated set cover: the fewest stations (at most
    ``max_sites``) that serve at least ``min_share`` of the swaps, each station serving at most
    ``capacity`` swaps per day from demand within ``radius_m`` (straight line). If that share
    cannot be reached with ``max_sites`` stations, capacitated max coverage with
    ``p = max_sites`` serves as much as it can (stations it opens without any load are dropped).
    Either way the demand left over is returned.

    ``copies`` lets a candidate host several stations (one column per copy, for demand cells
    that need more than one station's capacity); ``selected`` then repeats the candidate.

    ``min_load`` (swaps per day) keeps only stations that earn their place: candidates whose
    whole demand within ``radius_m`` falls short of it are not offered to the model, and a
    chosen station assigned less is not built (its demand is reported unmet).
    """
    from planner import optimize

    w = np.asarray(demand_swaps, dtype=float)
    n_rows = w.shape[0]
    nothing = SwapSiting(np.empty(0, np.int64), np.empty(0), np.zeros(n_rows), w.copy(), "none", {})
    if n_rows == 0 or cand_xy.shape[0] == 0 or max_sites <= 0 or float(w.sum()) <= 0:
        return nothing
    col = (
        np.arange(cand_xy.shape[0])
        if copies is None
        else np.repeat(
            np.arange(cand_xy.shape[0]), np.maximum(np.asarray(copies, dtype=np.int64), 1)
        )
    )
    coverage = optimize.coverage_from_points(demand_xy, cand_xy, radius_m)
    if col.size != cand_xy.shape[0]:
        coverage = sp.csr_array(sp.csc_array(coverage)[:, col])
    if min_load > 0:  # a candidate that cannot reach the minimum even serving all it reaches
        viable = np.asarray(coverage.T @ w, dtype=float).reshape(-1) >= min_load
        coverage, col = sp.csr_array(sp.csc_array(coverage)[:, viable]), col[viable]
        if col.size == 0:
            return nothing
    opts: dict[str, Any] = {"method": method, "time_limit_s": time_limit_s, "seed": seed}
    try:
        result = optimize.solve_capacitated_set_cover(
            coverage, w, capacity, min_share=min_share, max_sites=min(max_sites, col.size), **opts
        )
        model = "set_cover"
    except InputError as exc:  # the share is out of reach: serve what p stations can
        p = min(max_sites, col.size)
        logger.info("swap set cover not possible (%s); using capacitated max coverage p=%d", exc, p)
        result = optimize.solve_capacitated_max_coverage(coverage, w, capacity, p, **opts)
        model = "max_coverage"
    chosen = np.asarray(result.selected, dtype=np.int64)
    if model == "max_coverage":  # p may exceed what is useful: drop stations serving nothing
        chosen = chosen[np.asarray(result.load, dtype=float)[chosen] > 0]
    chosen = chosen[np.asarray(result.load, dtype=float)[chosen] >= min_load]
    served = np.asarray(
        sp.csc_array(result.assignment)[:, chosen].sum(axis=1), dtype=float
    ).reshape(-1)
    load = np.asarray(result.load, dtype=float)[chosen]
    unmet = w - served
    unmet[unmet < 1e-9 * max(float(w.max()), 1.0)] = 0.0  # round-off of a fully served row
    return SwapSiting(col[chosen], load, served, unmet, model, result.summary())


@dataclass(frozen=True, eq=False)
class UrbanSwaps:
    """Urban swap stations on a ground and the demand they face (swaps per day).

    Attributes
    ----------
    node_idx, region
        Ground node and region code of each station.
    load
        Swaps per day assigned to each station.
    demand_region, unmet_region
        Swap demand and unmet swap demand per region code.
    demand_total, unmet_total
        Their totals.
    model, result
        Which capacitated model ran and the optimizer's summary.
    cells, cell_m
        Demand rows of the model and the aggregation cell size (0: no aggregation).
    """

    node_idx: np.ndarray
    region: np.ndarray
    load: np.ndarray
    demand_region: dict[str, float]
    unmet_region: dict[str, float]
    demand_total: float
    unmet_total: float
    model: str
    result: dict[str, Any]
    cells: int
    cell_m: float


def urban_swaps(
    ground: Ground,
    want: np.ndarray,
    point_region: np.ndarray,
    *,
    capacity: float,
    radius_m: float,
    min_share: float,
    max_sites: int,
    max_points: int,
    method: str,
    time_limit_s: float | None,
    seed: int,
    min_load: float = 0.0,
) -> UrbanSwaps:
    """Site urban swap stations for the swaps per day ``want`` at each demand point of ``ground``.

    Demand is aggregated to at most ``max_points`` cells (:func:`aggregate_demand`). Candidates
    are the ground's candidate sites at city scale (one station each) and the cells'
    representative demand points otherwise (a national ground's candidates are its demand cells
    and corridor nodes), where a cell may host ``ceil(its swaps / capacity)`` stations. No
    station is built below ``min_load`` swaps per day (see :func:`site_swap_stations`).
    """
    from scipy.spatial import cKDTree

    d = ground.demand
    agg = aggregate_demand(d.x_m, d.y_m, want, point_region, cell_m=radius_m, max_points=max_points)
    if ground.scale == "city" and len(ground.candidates) and agg.weight.size:
        cand_node = np.asarray(ground.candidates.node_idx, dtype=np.int64)
        cand_xy = np.column_stack([ground.candidates.x_m, ground.candidates.y_m])
        _, near = cKDTree(np.column_stack([agg.x_m, agg.y_m])).query(cand_xy)
        cand_region = agg.region[near]
        copies = None
    else:
        cand_node = np.asarray(d.node_idx, dtype=np.int64)[agg.point]
        cand_xy = np.column_stack([d.x_m[agg.point], d.y_m[agg.point]])
        cand_region = agg.region
        # a cell may host as many stations as its own demand fills
        copies = np.maximum(np.ceil(agg.weight / capacity), 1).astype(np.int64)
    siting = site_swap_stations(
        np.column_stack([agg.x_m, agg.y_m]),
        agg.weight,
        cand_xy,
        capacity=capacity,
        radius_m=radius_m,
        min_share=min_share,
        max_sites=max_sites,
        method=method,
        time_limit_s=time_limit_s,
        seed=seed,
        copies=copies,
        min_load=min_load,
    )
    demand_region = pd.Series(agg.weight).groupby(agg.region).sum()
    unmet_region = pd.Series(siting.unmet).groupby(agg.region).sum()
    return UrbanSwaps(
        node_idx=cand_node[siting.selected],
        region=np.asarray(cand_region, dtype=object)[siting.selected],
        load=siting.load,
        demand_region={str(k): float(v) for k, v in demand_region.items()},
        unmet_region={str(k): float(v) for k, v in unmet_region.items()},
        demand_total=float(agg.weight.sum()),
        unmet_total=float(siting.unmet.sum()),
        model=siting.model,
        result=siting.result,
        cells=int(agg.weight.size),
        cell_m=agg.cell_m,
    )
