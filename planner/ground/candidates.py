"""Candidate charging sites: network nodes and parking/fuel POIs, reduced by clustering.

Sites must be reachable from ordinary streets: a node is *suitable* when at least one of its
edges is a street of a class in :data:`SUITABLE_HIGHWAYS` (primary to residential and their
links); motorway and trunk mainline nodes and service roads are not. Candidates are

1. ``"node"``: demand points clustered with demand-weighted k-means (scikit-learn ``KMeans``,
   ``random_state=seed``; ``MiniBatchKMeans`` above 20,000 points), each centre snapped to the
   nearest suitable node; when the suitable demand nodes are no more than ``n_candidates`` they
   are all taken. Centres that snap to the same node count once. Before clustering, demand is
   summed on a square grid sized for about 25 cells per cluster (weighted centroid per cell):
   a coreset that keeps k-means fast on large networks and changes centres by less than a cell.
2. ``"parking"`` and ``"fuel"``: the network's ``amenity=parking``/``amenity=fuel`` POIs within
   ``poi_snap_m`` of a suitable node, always kept (on top of ``n_candidates``).

A node that is both keeps the POI source. Candidates are sorted by node index; the result is
deterministic for a given ``seed``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from planner.core.errors import InputError, describe
from planner.ground.demand import DemandPoints
from planner.ground.network import RoadNetwork

logger = logging.getLogger(__name__)

SUITABLE_HIGHWAYS = frozenset(
    {"primary", "secondary", "tertiary", "unclassified", "residential", "living_street"}
    | {"primary_link", "secondary_link", "tertiary_link"}
)
_KMEANS_LIMIT = 20_000  # above this many points MiniBatchKMeans is used


@dataclass(frozen=True, eq=False)
class Candidates:
    """Candidate sites snapped to network nodes.

    Attributes
    ----------
    node_idx
        Network node index of each candidate, int64, unique.
    x_m, y_m
        Projected coordinates of those nodes in metres.
    source
        Where each candidate came from: ``"node"``, ``"parking"``, ``"fuel"`` or ``"corridor"``.
    """

    node_idx: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return int(self.node_idx.shape[0])


def suitable_nodes(network: RoadNetwork) -> np.ndarray:
    """Boolean mask of nodes touching at least one edge of a :data:`SUITABLE_HIGHWAYS` class."""
    edges = network.edges
    ok = edges["highway"].isin(list(SUITABLE_HIGHWAYS)).to_numpy()
    mask = np.zeros(network.n_nodes, dtype=bool)
    mask[edges["u"].to_numpy()[ok]] = True
    mask[edges["v"].to_numpy()[ok]] = True
    return mask


def build_candidates(
    network: RoadNetwork,
    demand: DemandPoints,
    *,
    n_candidates: int = 500,
    seed: int = 0,
    include_pois: bool = True,
    poi_snap_m: float = 100.0,
) -> Candidates:
    """Choose candidate sites: clustered demand snapped to street nodes, plus parking and fuel.

    Parameters
    ----------
    network
        The road network.
    demand
        Demand points on the network's nodes (weights of the clustering).
    n_candidates
        Number of clusters (``"node"`` candidates before de-duplication).
    seed
        Random state of the k-means initialisation.
    include_pois
        Add parking and fuel POIs as candidates.
    poi_snap_m
        Largest distance from a POI to its suitable node.

    Returns
    -------
    Candidates
    """
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, int) or n_candidates < 1:
        raise InputError(
            f"n_candidates: expected a whole number >= 1, got {describe(n_candidates)}"
        )
    if not poi_snap_m >= 0:
        raise InputError(f"poi_snap_m: expected >= 0, got {poi_snap_m!r}")
    mask = suitable_nodes(network)
    if not mask.any():
        raise InputError(
            f"network {network.name!r}: no node on a street of class primary..residential, so no "
            "candidate site can be placed; give an area with ordinary streets"
        )
    suitable = np.flatnonzero(mask)
    nodes = _cluster_nodes(network, demand, suitable, n_candidates=n_candidates, seed=seed)
    chosen = dict.fromkeys(nodes.tolist(), "node")
    if include_pois:
        chosen.update(_poi_sites(network, suitable, poi_snap_m=poi_snap_m))
    idx = np.array(sorted(chosen), dtype=np.int64)
    source = np.array([chosen[i] for i in idx.tolist()], dtype=object)
    logger.info(
        "candidates %s: %d (%s)",
        network.name,
        idx.size,
        ", ".join(f"{s} {int((source == s).sum())}" for s in ("node", "parking", "fuel")),
    )
    return Candidates(node_idx=idx, x_m=network.x_m[idx], y_m=network.y_m[idx], source=source)


def _cluster_nodes(
    network: RoadNetwork,
    demand: DemandPoints,
    suitable: np.ndarray,
    *,
    n_candidates: int,
    seed: int,
) -> np.ndarray:
    """Suitable nodes nearest to the demand-weighted k-means centres (unique, sorted)."""
    from scipy.spatial import cKDTree

    weight = np.asarray(demand.demand, dtype=float)
    positive = weight > 0
    xy = np.column_stack([demand.x_m, demand.y_m])[positive]
    weight = weight[positive]
    tree = cKDTree(np.column_stack([network.x_m[suitable], network.y_m[suitable]]))
    if xy.shape[0] == 0:
        logger.warning("candidates: no demand point with positive demand; no clustered candidate")
        return np.array([], dtype=np.int64)
    on_suitable = np.isin(demand.node_idx[positive], suitable)
    if xy.shape[0] <= n_candidates and on_suitable.all():
        return np.unique(demand.node_idx[positive]).astype(np.int64)
    xy, weight = _grid_coreset(xy, weight, n_clusters=n_candidates)
    centres = _kmeans(xy, weight, k=min(n_candidates, xy.shape[0]), seed=seed)
    _, nearest = tree.query(centres)
    return np.unique(suitable[nearest]).astype(np.int64)


def _grid_coreset(
    xy: np.ndarray, weight: np.ndarray, *, n_clusters: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sum weights on a grid of about ``25 * n_clusters`` cells; weighted centroid per cell."""
    span = xy.max(axis=0) - xy.min(axis=0)
    cell_m = float(np.clip(np.sqrt(max(span[0] * span[1], 1.0) / (25.0 * n_clusters)), 25.0, 500.0))
    keys = np.floor((xy - xy.min(axis=0)) / cell_m).astype(np.int64)
    _, cell = np.unique(keys[:, 0] * (int(keys[:, 1].max()) + 1) + keys[:, 1], return_inverse=True)
    total = np.bincount(cell, weights=weight)
    cx = np.bincount(cell, weights=weight * xy[:, 0]) / total
    cy = np.bincount(cell, weights=weight * xy[:, 1]) / total
    return np.column_stack([cx, cy]), total


def _kmeans(xy: np.ndarray, weight: np.ndarray, *, k: int, seed: int) -> np.ndarray:
    """Demand-weighted k-means centres (coordinates centred for numerical stability)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    origin = xy.mean(axis=0)
    points = xy - origin
    if xy.shape[0] <= _KMEANS_LIMIT:
        model: KMeans | MiniBatchKMeans = KMeans(n_clusters=k, n_init=1, random_state=seed)
    else:
        model = MiniBatchKMeans(
            n_clusters=k, n_init=3, batch_size=4096, random_state=seed, max_no_improvement=20
        )
    model.fit(points, sample_weight=weight)
    return np.asarray(model.cluster_centers_) + origin


def _poi_sites(network: RoadNetwork, suitable: np.ndarray, *, poi_snap_m: float) -> dict[int, str]:
    """Suitable node of each parking/fuel POI within ``poi_snap_m`` (fuel wins a shared node)."""
    from scipy.spatial import cKDTree

    pois = network.pois
    wanted = pois[pois["category"].isin(["parking", "fuel"])]
    if len(wanted) == 0:
        return {}
    tree = cKDTree(np.column_stack([network.x_m[suitable], network.y_m[suitable]]))
    dist, nearest = tree.query(np.column_stack([wanted.geometry.x, wanted.geometry.y]))
    out: dict[int, str] = {}
    for node, d, category in zip(suitable[nearest], dist, wanted["category"], strict=True):
        if d <= poi_snap_m and out.get(int(node)) != "fuel":
            out[int(node)] = str(category)
    return out
