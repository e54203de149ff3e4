"""Intercity traffic on a corridor network from a gravity model, in vehicles per day.

Trips between origins ``i`` and ``j`` (ordered pairs, both directions)::

    T_ij = k * m_i * m_j / d_ij ** beta        [vehicles/day]

with ``m`` the origin masses (e.g. persons), ``d_ij`` the shortest network distance from ``i`` to
``j`` in kilometres and ``k`` a constant in vehicles/day * km**beta / mass**2. Each trip is routed
on its shortest path (:func:`scipy.sparse.csgraph.dijkstra`) and added to every directed edge of
the path. Pairs closer than ``min_distance_km`` are not intercity trips and are left out.

Routing is vectorised per batch of sources: the shortest-path trees of the batch form one forest,
and the trips ending in each subtree are summed by pointer doubling (``log2(depth)`` numpy passes
over all nodes), which gives the flow on each tree edge.

``k`` is calibrated by default: it is chosen so that the length-weighted mean *two-way* flow over
the network's segments equals a documented figure (``us_mean_corridor_aadt_veh_day`` /
``cn_mean_corridor_aadt_veh_day`` in ``data/policy_facts.csv``). A segment's two-way flow (its
AADT) is ``F[u, v] + F[v, u]``.
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy.sparse import csgraph

from planner.core.errors import InputError, describe
from planner.countries import get_country
from planner.io.facts import load_policy_facts

logger = logging.getLogger(__name__)

FLOW_UNIT = "vehicles/day"
_BATCH_NODES = 3_000_000  # nodes x sources handled per numpy pass


@dataclass(frozen=True, eq=False)
class TrafficFlows:
    """Result of :func:`gravity_model`.

    Attributes
    ----------
    flows_veh_day
        ``(n, n)`` CSR array of directed edge flows in vehicles per day, with the sparsity pattern
        of the input lengths (explicit zeros kept).
    k
        Gravity constant used, vehicles/day * km**beta / mass**2.
    beta
        Distance exponent used.
    n_pairs
        Ordered origin pairs with trips.
    trips_veh_day
        Total trips, vehicles per day.
    vehicle_km_day
        Vehicle-kilometres per day on the network.
    mean_flow_veh_day
        Length-weighted mean two-way flow over the network's segments (the calibrated figure).
    """

    flows_veh_day: sp.csr_array
    k: float
    beta: float
    n_pairs: int
    trips_veh_day: float
    vehicle_km_day: float
    mean_flow_veh_day: float


def default_mean_flow_veh_day(country: str) -> float:
    """Return the cited calibration target of ``country`` (its profile's ``mean_flow_fact``),
    vehicles/day."""
    key = get_country(country).mean_flow_fact
    facts = load_policy_facts()
    if key not in facts:
        raise InputError(
            f"country {country!r}: policy fact {key!r} is missing; add it to the facts"
        )
    return facts[key].value


def gravity_flows(
    length_m: sp.sparray | sp.spmatrix,
    origin_nodes: ArrayLike,
    mass: ArrayLike,
    *,
    beta: float = 2.0,
    k: float | None = None,
    target_mean_flow_veh_day: float | None = None,
    country: str = "us",
    max_pairs: int = 2_000_000,
    nearest_k: int = 20,
    min_distance_km: float = 10.0,
) -> sp.csr_array:
    """Return directed edge flows in vehicles per day from a gravity model.

    Same parameters as :func:`gravity_model`, which also reports ``k`` and totals.
    """
    return gravity_model(
        length_m,
        origin_nodes,
        mass,
        beta=beta,
        k=k,
        target_mean_flow_veh_day=target_mean_flow_veh_day,
        country=country,
        max_pairs=max_pairs,
        nearest_k=nearest_k,
        min_distance_km=min_distance_km,
    ).flows_veh_day


def gravity_model(
    length_m: sp.sparray | sp.spmatrix,
    origin_nodes: ArrayLike,
    mass: ArrayLike,
    *,
    beta: float = 2.0,
    k: float | None = None,
    target_mean_flow_veh_day: float | None = None,
    country: str = "us",
    max_pairs: int = 2_000_000,
    nearest_k: int = 20,
    min_distance_km: float = 10.0,
) -> TrafficFlows:
    """Route gravity-model trips between origins on the network and sum them per edge.

    Parameters
    ----------
    length_m
        ``(n, n)`` sparse matrix of directed edge lengths in metres (parallel entries: the
        shortest wins).
    origin_nodes
        Node index of each origin; repeated nodes are merged (masses added).
    mass
        Non-negative mass of each origin (persons, EVs, ...).
    beta
        Distance-decay exponent (2: the classic gravity model).
    k
        Gravity constant in vehicles/day * km**beta / mass**2. ``None`` calibrates it.
    target_mean_flow_veh_day
        Calibration target: length-weighted mean two-way flow over all segments, vehicles/day.
        ``None`` takes the cited figure of ``country`` (:func:`default_mean_flow_veh_day`).
    country
        Whose calibration figure applies when neither ``k`` nor the target is given.
    max_pairs
        Largest number of ordered pairs routed. With more origins than that allows, the
        heaviest origins (hubs) exchange trips with each other (half the budget) and every
        origin exchanges trips with its ``nearest_k`` nearest origins (both directions).
    nearest_k
        Nearest origins (by network distance) linked to each origin when pairs are sampled.
    min_distance_km
        Pairs closer than this (network distance) have no trips.

    Returns
    -------
    TrafficFlows
        Flows in vehicles per day on each directed edge and the calibration figures.
    """
    graph = _as_length_csr(length_m)
    n = graph.shape[0]
    nodes, weights = _merge_origins(origin_nodes, mass, n)
    _check_options(beta, k, target_mean_flow_veh_day, max_pairs, nearest_k, min_distance_km)
    pairs = _select_pairs(graph, nodes, weights, max_pairs=max_pairs, nearest_k=nearest_k)
    unit, n_pairs, trips = _route_unit_flows(
        graph, nodes, weights, pairs, beta=beta, min_distance_m=min_distance_km * 1000.0
    )
    unit_mean = mean_segment_flow(unit, graph)
    if k is None:
        target = target_mean_flow_veh_day
        if target is None:
            target = default_mean_flow_veh_day(country)
        k = target / unit_mean if unit_mean > 0 else 0.0
    flows = sp.csr_array((unit.data * k, unit.indices, unit.indptr), shape=unit.shape)
    vkm = float(np.dot(flows.data, graph.data)) / 1000.0
    result = TrafficFlows(
        flows_veh_day=flows,
        k=float(k),
        beta=float(beta),
        n_pairs=n_pairs,
        trips_veh_day=trips * float(k),
        vehicle_km_day=vkm,
        mean_flow_veh_day=unit_mean * float(k),
    )
    logger.info(
        "gravity model: %d origins, %d pairs, k=%.4g, %.3g trips/day, mean flow %.0f veh/day",
        nodes.size, n_pairs, result.k, result.trips_veh_day, result.mean_flow_veh_day,
    )  # fmt: skip
    return result


def mean_segment_flow(flows: sp.sparray | sp.spmatrix, length_m: sp.sparray | sp.spmatrix) -> float:
    """Length-weighted mean two-way flow over the undirected segments of the network.

    ``sum(length[u, v] * flows[u, v]) / sum(segment lengths)``, where a segment is an unordered
    node pair joined by an edge in either direction, of length the shorter direction. On a network
    whose edges all have a reverse this is the mean AADT (both directions) per unit length.
    """
    graph = _as_length_csr(length_m)
    flow = sp.csr_array(flows)
    if flow.shape != graph.shape:
        raise InputError(
            f"flows: expected shape {graph.shape} like length_m, got {flow.shape}; pass the "
            "flows computed on this network"
        )
    coo = graph.tocoo()
    weighted = float((flow.multiply(graph)).sum())
    lo, hi = np.minimum(coo.row, coo.col), np.maximum(coo.row, coo.col)
    key = lo.astype(np.int64) * graph.shape[0] + hi
    order = np.lexsort((coo.data, key))
    first = np.r_[True, key[order][1:] != key[order][:-1]]
    segment_length = float(coo.data[order][first].sum())
    return weighted / segment_length if segment_length > 0 else 0.0


def _as_length_csr(length_m: sp.sparray | sp.spmatrix) -> sp.csr_array:
    """Validate and canonicalise the length matrix: CSR, sorted, parallel entries -> minimum."""
    if not sp.issparse(length_m):
        raise InputError(
            f"length_m: expected a scipy sparse (n, n) matrix of edge lengths in metres, got "
            f"{type(length_m).__name__}; pass e.g. RoadNetwork.length_m"
        )
    coo = sp.coo_array(length_m)
    if coo.shape[0] != coo.shape[1]:
        raise InputError(f"length_m: expected a square matrix, got shape {coo.shape}")
    data = np.asarray(coo.data, dtype=float)
    if data.size and (not np.all(np.isfinite(data)) or data.min() < 0):
        raise InputError("length_m: expected finite edge lengths >= 0 m, got negative or NaN")
    n = coo.shape[0]
    key = coo.row.astype(np.int64) * n + coo.col
    order = np.lexsort((data, key))
    first = np.r_[True, key[order][1:] != key[order][:-1]] if key.size else np.zeros(0, bool)
    keep = order[first]
    out = sp.csr_array((data[keep], (coo.row[keep], coo.col[keep])), shape=(n, n))
    out.sort_indices()
    return out


def _merge_origins(
    origin_nodes: ArrayLike, mass: ArrayLike, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return unique origin nodes with positive total mass, and those masses."""
    nodes = np.asarray(origin_nodes).ravel()
    weights = np.asarray(mass, dtype=float).ravel()
    if nodes.shape != weights.shape:
        raise InputError(
            f"origin_nodes, mass: expected one mass per origin, got {nodes.size} nodes and "
            f"{weights.size} masses; pass arrays of one length"
        )
    if nodes.size and not np.issubdtype(nodes.dtype, np.integer):
        raise InputError(f"origin_nodes: expected integer node indices, got dtype {nodes.dtype}")
    if nodes.size and (nodes.min() < 0 or nodes.max() >= n):
        raise InputError(
            f"origin_nodes: expected node indices in 0..{n - 1}, got {nodes.min()}..{nodes.max()}"
        )
    if not (np.all(np.isfinite(weights)) and np.all(weights >= 0)):
        raise InputError("mass: expected finite masses >= 0, got negative or NaN values")
    total = np.bincount(nodes.astype(np.int64), weights=weights, minlength=n)
    unique = np.flatnonzero(total > 0)
    return unique, total[unique]


def _check_options(
    beta: float,
    k: float | None,
    target: float | None,
    max_pairs: int,
    nearest_k: int,
    min_distance_km: float,
) -> None:
    """Gather every invalid option into one :class:`InputError`."""
    problems = []
    if not (isinstance(beta, numbers.Real) and math.isfinite(beta) and beta >= 0):
        problems.append(f"beta: expected a finite number >= 0, got {describe(beta)}")
    if k is not None and not (isinstance(k, numbers.Real) and math.isfinite(k) and k >= 0):
        problems.append(f"k: expected a finite number >= 0 or None, got {describe(k)}")
    if target is not None and not (
        isinstance(target, numbers.Real) and math.isfinite(target) and target >= 0
    ):
        problems.append(f"target_mean_flow_veh_day: expected >= 0 or None, got {describe(target)}")
    for name, value, low in (("max_pairs", max_pairs, 1), ("nearest_k", nearest_k, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            problems.append(f"{name}: expected an integer >= {low}, got {describe(value)}")
    if not (isinstance(min_distance_km, numbers.Real) and min_distance_km >= 0):
        problems.append(f"min_distance_km: expected a number >= 0, got {describe(min_distance_km)}")
    if problems:
        raise InputError("; ".join(problems) + "; fix the gravity-model options")


def _select_pairs(
    graph: sp.csr_array,
    nodes: np.ndarray,
    weights: np.ndarray,
    *,
    max_pairs: int,
    nearest_k: int,
) -> sp.csr_array | None:
    """Origin pairs to route: ``None`` for all pairs, else a symmetric boolean pair matrix."""
    n_o = nodes.size
    if n_o * (n_o - 1) <= max_pairs:
        return None
    n_hubs = int((1 + math.sqrt(1 + 2 * max_pairs)) // 2)
    hubs = np.argsort(-weights, kind="stable")[: max(n_hubs, 0)]
    hub_rows, hub_cols = np.meshgrid(hubs, hubs, indexing="ij")
    rows, cols = [hub_rows.ravel()], [hub_cols.ravel()]
    kk = min(nearest_k, n_o - 1)
    if kk > 0:
        batch = max(1, _BATCH_NODES // max(graph.shape[0], 1))
        for start in range(0, n_o, batch):
            sources = np.arange(start, min(start + batch, n_o))
            dist = csgraph.dijkstra(graph, directed=True, indices=nodes[sources])[:, nodes]
            dist[np.arange(sources.size), sources] = np.inf
            near = np.argpartition(dist, kk - 1, axis=1)[:, :kk]
            reach = np.isfinite(np.take_along_axis(dist, near, axis=1))
            src = np.repeat(sources, kk).reshape(-1, kk)
            rows += [src[reach], near[reach]]
            cols += [near[reach], src[reach]]
    r, c = np.concatenate(rows), np.concatenate(cols)
    keep = r != c
    pairs = sp.csr_array((np.ones(int(keep.sum()), bool), (r[keep], c[keep])), shape=(n_o, n_o))
    pairs.sum_duplicates()
    logger.info(
        "gravity model: %d origins exceed max_pairs=%d; routing %d hub and nearest-%d pairs",
        n_o, max_pairs, pairs.nnz, kk,
    )  # fmt: skip
    return pairs


def _route_unit_flows(
    graph: sp.csr_array,
    nodes: np.ndarray,
    weights: np.ndarray,
    pairs: sp.csr_array | None,
    *,
    beta: float,
    min_distance_m: float,
) -> tuple[sp.csr_array, int, float]:
    """Edge flows for ``k = 1``, the number of routed pairs and the total trips."""
    n, n_o = graph.shape[0], nodes.size
    in_edges = _InEdges.of(graph)
    edge_flow = np.zeros(graph.nnz)
    n_pairs, trips = 0, 0.0
    batch = max(1, _BATCH_NODES // max(n, 1))
    for start in range(0, n_o, batch):
        sources = np.arange(start, min(start + batch, n_o))
        dist, pred = csgraph.dijkstra(
            graph, directed=True, indices=nodes[sources], return_predecessors=True
        )
        trip = _trip_matrix(dist[:, nodes], sources, weights, pairs, beta, min_distance_m)
        n_pairs += int(np.count_nonzero(trip))
        trips += float(trip.sum())
        demand = np.zeros((sources.size, n))
        demand[:, nodes] = trip
        edge_flow += in_edges.tree_edge_sums(pred, _subtree_sums(pred, demand))
    flows = sp.csr_array((edge_flow, graph.indices.copy(), graph.indptr.copy()), shape=graph.shape)
    return flows, n_pairs, trips


@dataclass(frozen=True, eq=False)
class _InEdges:
    """The in-edges of every node, rank by rank, with their positions in the CSR data array."""

    parent: tuple[np.ndarray, ...]  # parent[r][v]: r-th in-neighbour of v, -2 if none
    position: tuple[np.ndarray, ...]  # position[r][v]: CSR index of edge (parent[r][v], v)
    nnz: int

    @classmethod
    def of(cls, graph: sp.csr_array) -> _InEdges:
        n = graph.shape[0]
        numbered = sp.csr_array(
            (np.arange(1, graph.nnz + 1, dtype=float), graph.indices, graph.indptr), shape=(n, n)
        ).tocsc()
        numbered.sort_indices()
        degree = np.diff(numbered.indptr)
        parent, position = [], []
        for rank in range(int(degree.max()) if degree.size else 0):
            has = degree > rank
            slot = numbered.indptr[:-1][has] + rank
            par = np.full(n, -2, dtype=np.int64)
            par[has] = numbered.indices[slot]
            pos = np.full(n, -1, dtype=np.int64)
            pos[has] = numbered.data[slot].astype(np.int64) - 1
            parent.append(par)
            position.append(pos)
        return cls(tuple(parent), tuple(position), graph.nnz)

    def tree_edge_sums(self, pred: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Sum ``values[b, v]`` onto the edge ``(pred[b, v], v)`` over all rows ``b``."""
        out = np.zeros(self.nnz)
        for par, pos in zip(self.parent, self.position, strict=True):
            column = np.where(pred == par, values, 0.0).sum(axis=0)
            has = pos >= 0
            out[pos[has]] += column[has]
        return out


def _trip_matrix(
    dist_m: np.ndarray,
    sources: np.ndarray,
    weights: np.ndarray,
    pairs: sp.csr_array | None,
    beta: float,
    min_distance_m: float,
) -> np.ndarray:
    """Trips (``k = 1``) from each source origin (rows) to every origin (columns)."""
    ok = np.isfinite(dist_m) & (dist_m > 0) & (dist_m >= min_distance_m)
    ok[np.arange(sources.size), sources] = False
    if pairs is not None:
        ok &= pairs[sources].toarray()
    d_km = np.where(ok, dist_m, 1000.0) / 1000.0
    trip = np.outer(weights[sources], weights) / d_km**beta
    return np.where(ok, trip, 0.0)


def _subtree_sums(pred: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """Sum ``demand`` over each node's subtree in the shortest-path trees ``pred``.

    ``pred`` and ``demand`` have shape ``(batch, n)``; row ``b`` is one tree (``pred < 0`` at the
    root and at unreachable nodes). Pointer doubling: after pass ``r`` each node holds the demand
    of its descendants less than ``2**r`` levels below it and ``anc`` its ``2**r``-th ancestor.
    """
    b, n = pred.shape
    total = b * n
    offset = (np.arange(b, dtype=np.int64) * n)[:, None]
    anc = np.where(pred >= 0, pred.astype(np.int64) + offset, total).ravel()
    anc = np.append(anc, total)  # a dummy root that is its own ancestor
    acc = np.append(demand.ravel().astype(float), 0.0)
    while True:
        live = np.flatnonzero(anc[:total] < total)
        if live.size == 0:
            break
        acc += np.bincount(anc[live], weights=acc[live], minlength=total + 1)
        anc = anc[anc]
    return acc[:total].reshape(b, n)
