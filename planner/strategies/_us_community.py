"""Community charging of the ``us-nevi`` strategy, and the site tables of all its layers.

The part of the target left after the corridor stations is shared out to regions by EV stock
(:func:`allocate_community`, largest remainder so the total is exact), split into Level 2 and DC
fast, and sited inside each region by demand-weighted k-means of its demand points
(:func:`community_sites_for_region`, two levels beyond :data:`_LEAF_CLUSTERS` clusters).
:func:`site_frame` builds the site rows of every layer (corridor, community, existing).
The strategy itself is :mod:`planner.strategies.us_nevi`, which re-exports the public names.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from planner.core.errors import InputError
from planner.ground.model import Ground
from planner.strategies._alloc import apportion
from planner.strategies._regions import nearest_point_value, region_codes
from planner.strategies.base import SITE_COLUMNS

if TYPE_CHECKING:
    from planner.strategies.us_nevi import UsNeviParams

logger = logging.getLogger(__name__)

_MINIBATCH_MIN_POINTS = 50_000  # MiniBatchKMeans from this many points (and >= 20 per cluster)
_LEAF_CLUSTERS = 300  # more clusters than this are found in two levels (see _cluster)
#: Community sites a plan may hold: far above any real target (a guard against absurd inputs,
#: e.g. national_target_ports = 1e12, which would otherwise exhaust memory).
MAX_COMMUNITY_SITES = 1_000_000


# --- site tables ----------------------------------------------------------------------------------


def site_frame(ground: Ground, nodes: np.ndarray, **values: Any) -> pd.DataFrame:
    """Sites on ``nodes`` with every column of :data:`SITE_COLUMNS` (ids are set later).

    Location columns come from the ground; ``values`` give the rest (scalars are broadcast);
    ``ports`` is ``dc_ports + ac_ports``; ``state`` defaults to the nearest demand point's region.
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "site_id": "",
            "node_idx": nodes,
            "x_m": ground.node_x_m[nodes],
            "y_m": ground.node_y_m[nodes],
            "lon": ground.node_lon[nodes],
            "lat": ground.node_lat[nodes],
        }
    )
    defaults = {"existing": False, "corridor": "", "demand_served": 0.0, "ac_ports": 0}
    for key, value in {**defaults, **values}.items():
        frame[key] = value
    if "state" not in values:
        frame["state"] = _region_of_nodes(ground, nodes)
    for key, dtype in (
        ("dc_ports", np.int64),
        ("ac_ports", np.int64),
        ("power_kw", float),
        ("capex_usd", float),
        ("existing", bool),
    ):
        frame[key] = frame[key].astype(dtype)
    frame["ports"] = frame["dc_ports"] + frame["ac_ports"]
    return frame[[*SITE_COLUMNS, *(c for c in frame.columns if c not in SITE_COLUMNS)]]


def _region_of_nodes(ground: Ground, nodes: np.ndarray) -> np.ndarray:
    """Region code of the demand point nearest to each node (``""`` without demand)."""
    return nearest_point_value(ground, nodes, region_codes(ground.demand.region))


# --- community charging --------------------------------------------------------------------------


def region_weights(ground: Ground) -> pd.DataFrame:
    """Regions that hold demand, with the ``weight`` their share of community ports follows.

    The weight is the region's EV stock; on a city ground the EV stock times the area's share of
    the region's population (the area's own EVs); population where no region has EV stock.
    Without any region that holds demand the whole ground is one region, code ``""``.
    """
    d = ground.demand
    codes = region_codes(d.region)
    pop = pd.Series(np.asarray(d.components.get("population", d.demand), float)).groupby(codes)
    demand_pop = pop.sum()
    regions = ground.regions.copy()
    regions["region"] = region_codes(regions["region"]) if len(regions) else []
    regions = regions[regions["region"].isin(set(codes.tolist()) - {""})].reset_index(drop=True)
    if regions.empty:
        logger.warning("no region of ground.regions holds demand; %s is one region", ground.name)
        return pd.DataFrame(
            {
                "region": [""],
                "name": [ground.name],
                "population": [float(demand_pop.sum())],
                "ev_stock": [math.nan],
                "ev_fallback": [True],
                "weight": [1.0],
            }
        )
    weight = pd.to_numeric(regions["ev_stock"], errors="coerce").fillna(0.0).to_numpy()
    area_pop = demand_pop.reindex(regions["region"]).fillna(0.0).to_numpy()
    if ground.scale == "city":
        region_pop = pd.to_numeric(regions["population"], errors="coerce").to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = weight * np.where(region_pop > 0, np.minimum(area_pop / region_pop, 1.0), 1.0)
    if weight.sum() <= 0:
        logger.warning("regions have no EV stock; sharing community ports by population")
        weight = area_pop
    regions["weight"] = weight
    return regions


def existing_ports_by_region(ground: Ground, codes: Sequence[str]) -> np.ndarray:
    """Existing public ports of each region in ``codes``.

    From the regions column ``existing_public_ports`` where it has a figure, else summed from
    ``ground.existing``; raises :class:`InputError` when neither has any.
    """
    from_stations = pd.Series(dtype=float)
    ex = ground.existing
    if ex is not None and len(ex):
        ports = np.asarray(ex.dc_ports, dtype=float) + np.asarray(ex.ac_ports, dtype=float)
        from_stations = pd.Series(ports).groupby(region_codes(ex.region)).sum()
    table = pd.Series(dtype=float)
    if "existing_public_ports" in ground.regions.columns:
        r = ground.regions
        values = pd.to_numeric(r["existing_public_ports"], errors="coerce").to_numpy()
        table = pd.Series(values, index=region_codes(r["region"])).dropna()
    if table.empty and from_stations.empty:
        raise InputError(
            "subtract_existing: expected existing ports per region (regions column "
            "'existing_public_ports' or ground.existing stations), found none; set "
            "subtract_existing = false or load existing stations"
        )
    merged = table.combine_first(from_stations).reindex(list(codes)).fillna(0.0)
    return merged.round().astype(np.int64).to_numpy()


def allocate_community(ground: Ground, params: UsNeviParams, pool: int) -> tuple[pd.DataFrame, int]:
    """Community ports per region: ``pool`` shared by weight, minus existing ports when asked.

    Returns the region table (``weight``, ``ports_allocated``, ``existing_ports``, ``ports_dc``,
    ``ports_l2``) and the existing ports counted toward the target.
    """
    regions = region_weights(ground)
    allocated = apportion(max(pool, 0), regions["weight"].to_numpy())
    existing = np.zeros(len(regions), dtype=np.int64)
    if params.subtract_existing:
        existing = existing_ports_by_region(ground, regions["region"].tolist())
    new = np.maximum(allocated - existing, 0)
    dc = np.floor(new * params.dc_share + 0.5).astype(np.int64)
    regions["ports_allocated"], regions["existing_ports"] = allocated, existing
    regions["ports_dc"], regions["ports_l2"] = dc, new - dc
    return regions, int(existing.sum())


def _kmeans(xy: np.ndarray, w: np.ndarray, k: int, *, seed: int, max_iter: int) -> np.ndarray:
    """Labels of demand-weighted k-means of the points ``xy`` into ``k`` clusters."""
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    n = xy.shape[0]
    model: KMeans | MiniBatchKMeans
    if n >= _MINIBATCH_MIN_POINTS and 20 * k <= n:  # many points per cluster: mini-batches
        batch = max(4096, 3 * k)
        model = MiniBatchKMeans(
            n_clusters=k,
            n_init=1,
            max_iter=max_iter,
            batch_size=batch,
            init_size=min(n, 3 * batch),
            max_no_improvement=5,
            random_state=seed,
        )
    else:
        model = KMeans(n_clusters=k, n_init=1, max_iter=max_iter, random_state=seed)
    # one thread: these fits are many and small, and OpenMP threads stall on a busy machine
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="openmp"):
        # points at one location can leave a cluster empty; empty clusters are dropped later
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(xy - xy.mean(axis=0), sample_weight=w)
    return np.asarray(model.labels_, dtype=np.int64)


def _cluster(xy: np.ndarray, w: np.ndarray, k: int, *, seed: int, max_iter: int) -> np.ndarray:
    """Labels (``0..k-1``) of demand-weighted k-means of ``xy`` into ``k < len(xy)`` clusters.

    Beyond :data:`_LEAF_CLUSTERS` clusters, two levels keep the cost near ``n x 300`` instead of
    ``n x k``: coarse k-means into ``ceil(k / 300)`` groups, each group gets clusters in
    proportion to its demand (at least one, at most its points), then k-means inside each group.
    """
    if k <= _LEAF_CLUSTERS:
        return _kmeans(xy, w, k, seed=seed, max_iter=max_iter)
    groups = _kmeans(xy, w, math.ceil(k / _LEAF_CLUSTERS), seed=seed, max_iter=max_iter)
    size = np.bincount(groups)
    per_group = _split_capped(k, np.bincount(groups, weights=w), size)
    labels = np.empty(xy.shape[0], dtype=np.int64)
    order = np.argsort(groups, kind="stable")
    bounds, offset = np.r_[0, np.cumsum(size)], 0
    for g in np.flatnonzero(size):
        members = order[bounds[g] : bounds[g + 1]]
        kg = int(per_group[g])
        inner = (
            np.arange(members.size)
            if kg >= members.size
            else _kmeans(xy[members], w[members], kg, seed=seed, max_iter=max_iter)
        )
        labels[members] = offset + inner
        offset += kg
    return labels


def _split_capped(total: int, weights: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Split ``total`` by ``weights``: at least 1 and at most ``caps`` where ``caps > 0``."""
    out = (caps > 0).astype(np.int64)
    remaining = total - int(out.sum())
    while remaining > 0:
        room = np.flatnonzero(out < caps)
        out[room] += apportion(remaining, weights[room])
        over = np.clip(out - caps, 0, None)
        out -= over
        remaining = int(over.sum())
    return out


def community_sites_for_region(
    ground: Ground,
    points: np.ndarray,
    ports: int,
    *,
    ports_per_site: int,
    seed: int,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Site nodes, ports and served demand for ``ports`` ports among the demand ``points``.

    ``ceil(ports / ports_per_site)`` sites. With fewer sites than the points' nodes (demand
    summed per node), the nodes form that many demand-weighted k-means clusters, each cluster's
    weighted centre snaps to the nearest of the nodes and clusters that snap to one node merge.
    With more sites than nodes (a national ground's nodes are ~250 km2 cells), every node holds
    sites in proportion to its demand, at least one, sharing its location. Ports follow each
    site's demand (largest remainder, at least one port a site): they sum to ``ports`` exactly.
    """
    d = ground.demand
    nodes, inverse = np.unique(np.asarray(d.node_idx, dtype=np.int64)[points], return_inverse=True)
    demand = np.asarray(d.demand, dtype=float)[points]
    weight = np.bincount(inverse, weights=demand, minlength=nodes.size).astype(float)
    if ports <= 0 or nodes.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    weight = weight if weight.sum() > 0 else np.ones(nodes.size)
    nodes, weight = nodes[weight > 0], weight[weight > 0]
    n_sites = math.ceil(ports / ports_per_site)
    if n_sites >= nodes.size:
        per_node = apportion(n_sites, weight, minimum=1)
        served = np.repeat(weight / per_node, per_node)
        return np.repeat(nodes, per_node), apportion(ports, served, minimum=1), served
    xy = np.column_stack([ground.node_x_m[nodes], ground.node_y_m[nodes]])
    labels = _cluster(xy, weight, n_sites, seed=seed, max_iter=max_iter)
    site_idx, site_of_node = np.unique(_snap_centres(xy, weight, labels), return_inverse=True)
    served = np.bincount(site_of_node, weights=weight, minlength=site_idx.size)
    return nodes[site_idx], apportion(ports, served, minimum=1), served


def _snap_centres(xy: np.ndarray, weight: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For each point, the index of the point nearest to its cluster's weighted centre."""
    from scipy.spatial import cKDTree

    k = int(labels.max()) + 1
    mass = np.bincount(labels, weights=weight, minlength=k)
    centre = np.column_stack(
        [np.bincount(labels, weights=weight * xy[:, a], minlength=k) for a in (0, 1)]
    )
    used = mass > 0
    lookup = np.full(k, -1, dtype=np.int64)
    lookup[used] = cKDTree(xy).query(centre[used] / mass[used, None])[1]
    return lookup[labels]


def _check_site_count(regions: pd.DataFrame, kinds: dict[str, tuple[Any, ...]]) -> None:
    """Refuse a plan of more than :data:`MAX_COMMUNITY_SITES` community sites in all."""
    n_sites = sum(
        math.ceil(int(ports) / per_site)
        for column, per_site, *_ in kinds.values()
        for ports in regions[column]
    )
    if n_sites > MAX_COMMUNITY_SITES:
        ports = int(sum(regions[column].sum() for column, *_ in kinds.values()))
        raise InputError(
            f"community charging: {ports:,} ports would take {n_sites:,} sites, more than "
            f"{MAX_COMMUNITY_SITES:,} (the US 500k goal takes about 71,000); lower "
            "national_target_ports or target_ports, or raise the ports per site"
        )


def community_sites(
    ground: Ground, params: UsNeviParams, regions: pd.DataFrame, *, seed: int
) -> pd.DataFrame:
    """Community L2 and DC sites of every region (demand-weighted k-means inside each region)."""
    codes = region_codes(ground.demand.region)
    single = len(regions) == 1 and regions["region"].iloc[0] == ""
    p = params
    kinds = {
        "community_l2": ("ports_l2", p.l2_ports_per_site, p.l2_power_kw, p.l2_port_capex_usd),
        "community_dc": (
            "ports_dc",
            p.dc_ports_per_site,
            p.community_dc_power_kw,
            p.dc_port_capex_usd,
        ),
    }
    frames = [
        site_frame(
            ground,
            np.empty(0, np.int64),
            kind="community_l2",
            dc_ports=0,
            power_kw=p.l2_power_kw,
            capex_usd=0.0,
            state="",
        )
    ]
    _check_site_count(regions, kinds)
    for row in regions.to_dict("records"):
        points = np.arange(codes.size) if single else np.flatnonzero(codes == row["region"])
        for kind, (column, per_site, power, capex) in kinds.items():
            nodes, ports, served = community_sites_for_region(
                ground,
                points,
                int(row[column]),
                ports_per_site=per_site,
                seed=seed,
                max_iter=p.cluster_max_iter,
            )
            dc = ports if kind == "community_dc" else np.zeros_like(ports)
            frames.append(
                site_frame(
                    ground,
                    nodes,
                    kind=kind,
                    dc_ports=dc,
                    ac_ports=ports - dc,
                    power_kw=power,
                    demand_served=served,
                    capex_usd=ports * capex,
                    state=row["region"],
                )
            )
    return pd.concat(frames, ignore_index=True)
