"""Public piles of the China pile-plus-swap strategy: NEVs per point, pile counts, pile stations.

No parameters object: the strategy module feeds these functions.

* :func:`point_regions` and :func:`region_nevs` find the NEVs of each region on a ground.
* :func:`apportion` splits an integer total in proportion to weights by largest remainder, so
  the parts sum exactly to the total (rounding by :func:`planner.strategies._alloc.round_quotas`).
* :func:`nevs_per_point` spreads each region's NEV stock over its demand points.
* :func:`cluster_pile_stations` groups one region's demand points into pile stations by
  demand-weighted mini-batch k-means and returns one representative point per station.
* :func:`split_dc_ac` splits every station's piles into DC and AC so that the DC total is exact.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.core.errors import InputError
from planner.ground.model import Ground
from planner.strategies._alloc import round_quotas

logger = logging.getLogger(__name__)

_SMALL_POINTS = 20_000  # below this many points a region is clustered on one thread


def apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest-remainder method).

    Parameters
    ----------
    weights
        Non-negative weights, one per part.
    total
        Non-negative integer to split.

    Returns
    -------
    numpy.ndarray
        int64 parts, each ``floor(q)`` or ``floor(q) + 1`` of its quota ``q = total * w / sum(w)``,
        summing exactly to ``total``. Ties go to the lower index. All zeros when the weights sum
        to zero (then nothing can be apportioned and the caller must handle it).
    """
    w = np.asarray(weights, dtype=float)
    w_sum = float(w.sum())
    if total <= 0 or w_sum <= 0 or w.size == 0:
        return np.zeros(w.shape[0], dtype=np.int64)
    # Only parts with a positive weight may receive the leftover units.
    return round_quotas(w * (float(total) / w_sum), total, eligible=w > 0)


def split_dc_ac(piles: np.ndarray, dc_total: int) -> tuple[np.ndarray, np.ndarray]:
    """Split each station's ``piles`` into DC and AC with exactly ``dc_total`` DC piles overall.

    Every station gets ``floor(q)`` or ``ceil(q)`` DC piles of its quota
    ``q = piles * dc_total / sum(piles)`` (largest remainder), never more than its piles.

    Returns
    -------
    tuple of numpy.ndarray
        ``(dc, ac)`` int64 arrays with ``dc + ac == piles`` and ``dc.sum() == dc_total``.
    """
    piles = np.asarray(piles, dtype=np.int64)
    dc_total = int(min(max(dc_total, 0), int(piles.sum())))
    dc = apportion(piles.astype(float), dc_total)
    return dc, piles - dc


def nevs_per_point(
    point_region: np.ndarray, demand: np.ndarray, region_nevs: Mapping[str, float]
) -> np.ndarray:
    """Spread each region's NEV stock over its demand points in proportion to their demand.

    Parameters
    ----------
    point_region
        Region code of each demand point.
    demand
        Demand of each point (any unit; only shares within a region matter).
    region_nevs
        NEVs of each region on this ground.

    Returns
    -------
    numpy.ndarray
        NEVs per point; zero for points whose region has no NEVs here or no demand. The NEVs of
        a region without any demand cannot be placed and are left out (the caller reports them).
    """
    region = np.asarray(point_region, dtype=object)
    weight = np.asarray(demand, dtype=float)
    out = np.zeros(weight.shape[0])
    codes, inverse = np.unique(region.astype(str), return_inverse=True)
    region_demand = np.bincount(inverse, weights=weight, minlength=codes.size)
    for k, code in enumerate(codes):
        nevs = float(region_nevs.get(str(code), 0.0))
        if nevs > 0 and region_demand[k] > 0:
            members = inverse == k
            out[members] = nevs * weight[members] / region_demand[k]
    return out


@dataclass(frozen=True, eq=False)
class PileStations:
    """Pile stations of one region.

    Attributes
    ----------
    point
        Index (into the region's points) of the point each station stands on.
    piles
        Piles of each station (>= 1).
    weight
        Weight (NEVs) of the points each station gathers.
    """

    point: np.ndarray
    piles: np.ndarray
    weight: np.ndarray


def cluster_pile_stations(
    x_m: np.ndarray,
    y_m: np.ndarray,
    weight: np.ndarray,
    piles: int,
    *,
    piles_per_station: int,
    seed: int,
    max_iter: int = 30,
) -> PileStations:
    """Group one region's demand points into pile stations and give each its share of ``piles``.

    The station count is ``ceil(piles / piles_per_station)``, capped at the number of points
    with positive weight (a station stands on a demand point; two stations never share one).
    When the cap binds every weighted point is a station; otherwise the points are clustered by
    :class:`sklearn.cluster.MiniBatchKMeans` with ``sample_weight`` and ``random_state=seed``,
    and each station stands on the member point nearest its cluster's weighted centroid. Piles
    are apportioned to stations by cluster weight (largest remainder); stations left with zero
    piles are dropped.

    Returns
    -------
    PileStations
        The stations; empty when ``piles`` is 0 or no point has weight.
    """
    w = np.asarray(weight, dtype=float)
    live = np.flatnonzero(w > 0)
    empty = PileStations(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    if piles <= 0 or live.size == 0:
        return empty
    k = min(math.ceil(piles / piles_per_station), live.size)
    if k == live.size:
        labels = np.arange(live.size)
    elif k == 1:
        labels = np.zeros(live.size, dtype=np.int64)
    else:
        labels = _kmeans_labels(x_m[live], y_m[live], w[live], k, seed=seed, max_iter=max_iter)
    point, cluster_weight = _representatives(x_m[live], y_m[live], w[live], labels)
    station_piles = apportion(cluster_weight, int(piles))
    keep = station_piles > 0
    return PileStations(live[point[keep]], station_piles[keep], cluster_weight[keep])


def _kmeans_labels(
    x_m: np.ndarray, y_m: np.ndarray, w: np.ndarray, k: int, *, seed: int, max_iter: int
) -> np.ndarray:
    """Cluster labels of weighted points by mini-batch k-means (k-means++ seeding)."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    xy = np.column_stack([x_m, y_m])
    origin = xy.mean(axis=0)
    batch = int(min(xy.shape[0], max(2048, 3 * k)))
    model = MiniBatchKMeans(
        n_clusters=k,
        random_state=seed,
        max_iter=max_iter,
        n_init=1,
        batch_size=batch,
        init_size=min(xy.shape[0], max(3 * k, batch)),
        reassignment_ratio=0.0,
    )
    # Small problems run single-threaded: OpenMP start-up and spinning cost more than they save
    # (a 300-point region took 1.6 s with 2 busy threads, 0.03 s with one).
    threads = 1 if xy.shape[0] < _SMALL_POINTS else None
    with warnings.catch_warnings(), threadpool_limits(limits=threads, user_api="openmp"):
        # Duplicate coordinates can leave fewer distinct clusters than k; the stations are
        # then fewer, which the caller reports. Nothing else is silenced.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(xy - origin, sample_weight=w)
        labels = model.predict(xy - origin)
    return np.asarray(labels, dtype=np.int64)


def _representatives(
    x_m: np.ndarray, y_m: np.ndarray, w: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per non-empty cluster: the member nearest its weighted centroid, and the cluster weight."""
    used, inverse = np.unique(labels, return_inverse=True)
    cw = np.bincount(inverse, weights=w, minlength=used.size)
    cx = np.bincount(inverse, weights=w * x_m, minlength=used.size) / cw
    cy = np.bincount(inverse, weights=w * y_m, minlength=used.size) / cw
    d2 = (x_m - cx[inverse]) ** 2 + (y_m - cy[inverse]) ** 2
    order = np.lexsort((d2, inverse))
    first = np.r_[True, inverse[order][1:] != inverse[order][:-1]]
    return order[first], cw


def point_regions(ground: Ground) -> np.ndarray:
    """Region code of every demand point; a one-region ground claims the points without one."""
    region = np.asarray(ground.demand.region, dtype=object).astype(str)
    codes = ground.regions["region"].astype(str).to_numpy() if len(ground.regions) else np.empty(0)
    if codes.size == 1:
        region = np.where(np.isin(region, codes), region, codes[0]).astype(object)
    return region


def region_nevs(
    ground: Ground, point_region: np.ndarray
) -> tuple[dict[str, float], dict[str, Any]]:
    """NEVs of each region on this ground, and how they were found.

    National grounds take each region's stock. City grounds take each region's stock times the
    area's share of the region's population: the area's population (``ground.meta["population"]``,
    else the demand's population component) split between regions by that component.
    """
    table = ground.regions
    if table.empty:
        raise InputError(
            "ground.regions: expected at least one region with its EV stock, got an empty table; "
            "build the ground with planner.ground.build (it attaches the regions table)"
        )
    stock = pd.to_numeric(table["ev_stock"], errors="coerce").fillna(0.0).to_numpy()
    codes = table["region"].astype(str).to_numpy()
    if ground.scale != "city":
        return dict(zip(codes, stock.tolist(), strict=True)), {"nev_basis": "regions.ev_stock"}
    comp = np.asarray(ground.demand.components.get("population", ground.demand.demand), dtype=float)
    meta_pop = ground.meta.get("population")
    area_pop = (
        float(meta_pop) if isinstance(meta_pop, int | float) and meta_pop > 0 else float(comp.sum())
    )
    by_region = pd.Series(comp).groupby(point_region).sum()
    comp_total = float(by_region.sum())
    population = pd.to_numeric(table["population"], errors="coerce").to_numpy()
    out: dict[str, float] = {}
    for code, ev, pop in zip(codes, stock, population, strict=True):
        share = float(by_region.get(code, 0.0)) / comp_total if comp_total > 0 else 0.0
        if not (math.isfinite(pop) and pop > 0):
            raise InputError(
                f"ground.regions: region {code!r} has no population ({pop!r}); the city NEV count "
                "needs it: fix the regions table"
            )
        out[code] = float(ev) * min(area_pop * share / float(pop), 1.0)
    info = {
        "nev_basis": "region ev_stock x area population / region population",
        "area_population": area_pop,
        "area_population_source": "ground.meta" if meta_pop else "demand population component",
    }
    return out, info
