"""Coverage and cut-off distance matrices (demand rows x candidate columns), built vectorised.

Two geometries:

* straight-line, from projected coordinates, with :class:`scipy.spatial.cKDTree`
  (:func:`coverage_from_points`, :func:`distances_from_points`);
* along a road network, with :func:`scipy.sparse.csgraph.dijkstra` cut off at the radius
  (:func:`coverage_from_network`, :func:`distances_from_network`).

Direction on a directed network: the distance of a pair is the shortest path **from the demand
node to the candidate node** (the driver travels to the charger). It is computed by running
Dijkstra from the candidates on the transposed graph, in batches that bound memory.

Distance matrices keep the pairs within the radius as stored entries, including explicit zeros
(a demand point on the candidate's node); a missing entry means "beyond the radius".
"""

from __future__ import annotations

import logging
import math
import numbers
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from planner.core.errors import describe
from planner.optimize._validate import Problems

logger = logging.getLogger(__name__)

_CHUNK_ROWS = 100_000
#: Largest Dijkstra batch by default (``sources x N`` float64 distances).
_BATCH_BYTES = 256 * 2**20
#: Preferred batch size: small batches stay in cache and reuse freed memory. Columbus's 3 km
#: matrix (32,749 nodes, 1,490 candidates) takes 0.55-0.6 s in 8-16 MiB batches against
#: 1.0-1.6 s in 256 MiB ones, most of it spent filling fresh pages with ``inf``.
_BATCH_CACHE_BYTES = 8 * 2**20
#: Fewest sources in a default batch: each Dijkstra call also checks the whole graph once.
_MIN_BATCH_SOURCES = 16


def coverage_from_points(
    demand_xy: np.ndarray, cand_xy: np.ndarray, radius_m: float, *, chunk_rows: int = _CHUNK_ROWS
) -> sp.csr_array:
    """Return the boolean coverage matrix of pairs within ``radius_m`` in a straight line.

    Parameters
    ----------
    demand_xy
        ``(m, 2)`` projected demand coordinates in metres.
    cand_xy
        ``(n, 2)`` projected candidate coordinates in metres.
    radius_m
        Service radius in metres; a pair at exactly this distance is covered.
    chunk_rows
        Demand rows per KD-tree query, to bound the temporary memory.

    Returns
    -------
    scipy.sparse.csr_array
        ``(m, n)`` boolean matrix, ``True`` where the candidate covers the demand point.
    """
    return _point_matrix(demand_xy, cand_xy, radius_m, chunk_rows=chunk_rows, distances=False)


def distances_from_points(
    demand_xy: np.ndarray, cand_xy: np.ndarray, radius_m: float, *, chunk_rows: int = _CHUNK_ROWS
) -> sp.csr_array:
    """Return straight-line distances in metres of the pairs within ``radius_m`` (sparse CSR).

    Stored entries are the pairs within the radius (explicit zeros included); others are missing.
    See :func:`coverage_from_points` for the parameters.
    """
    return _point_matrix(demand_xy, cand_xy, radius_m, chunk_rows=chunk_rows, distances=True)


def _point_matrix(
    demand_xy: np.ndarray, cand_xy: np.ndarray, radius_m: float, *, chunk_rows: int, distances: bool
) -> sp.csr_array:
    """KD-tree pairs within the radius, demand chunk by chunk (two threads), assembled as CSR."""
    problems = Problems()
    demand = _as_xy(demand_xy, "demand_xy", problems)
    cand = _as_xy(cand_xy, "cand_xy", problems)
    radius = _as_radius(radius_m, problems)
    if (
        isinstance(chunk_rows, bool)
        or not isinstance(chunk_rows, numbers.Integral)
        or chunk_rows < 1
    ):
        problems.add("chunk_rows", "a positive integer", describe(chunk_rows), "pass e.g. 100000")
    problems.raise_if_any()
    tree = cKDTree(cand)
    n_cand = cand.shape[0]
    size = int(chunk_rows)

    def block(start: int) -> sp.csr_array:
        part = demand[start : start + size]
        pairs = cKDTree(part).sparse_distance_matrix(tree, radius, output_type="ndarray")
        data = pairs["v"] if distances else np.ones(pairs.shape[0], dtype=bool)
        out = sp.coo_array((data, (pairs["i"], pairs["j"])), shape=(part.shape[0], n_cand)).tocsr()
        out.sort_indices()
        return out

    with ThreadPoolExecutor(max_workers=2) as pool:  # cKDTree releases the GIL
        blocks = list(pool.map(block, range(0, demand.shape[0], size)))
    indptr = [np.zeros(1, dtype=np.int64)]
    offset = 0
    for item in blocks:
        indptr.append(item.indptr[1:].astype(np.int64) + offset)
        offset += item.nnz
    small = offset < 2**31 - 1 and n_cand < 2**31 - 1
    index_type = np.int32 if small else np.int64
    out = sp.csr_array(
        (
            np.concatenate([item.data for item in blocks]),
            np.concatenate([item.indices.astype(index_type, copy=False) for item in blocks]),
            np.concatenate(indptr).astype(index_type),
        ),
        shape=(demand.shape[0], n_cand),
    )
    out.has_sorted_indices = True
    logger.debug("point pairs %s within %.0f m: %d", out.shape, radius, out.nnz)
    return out


def coverage_from_network(
    graph_length_m: sp.sparray | sp.spmatrix,
    demand_nodes: np.ndarray,
    cand_nodes: np.ndarray,
    radius_m: float,
    *,
    batch_bytes: int | None = None,
) -> sp.csr_array:
    """Return the boolean coverage matrix of pairs within ``radius_m`` along the network.

    Parameters
    ----------
    graph_length_m
        ``(N, N)`` sparse matrix of directed edge lengths in metres (``graph[u, v]`` is the edge
        ``u -> v``; a symmetric matrix is an undirected network).
    demand_nodes
        Network node of each demand row, shape ``(m,)``.
    cand_nodes
        Network node of each candidate column, shape ``(n,)``.
    radius_m
        Service radius in metres, measured from the demand node to the candidate node.
    batch_bytes
        Memory budget of one Dijkstra batch (``sources x N`` float64 distances); ``None``:
        about 8 MiB (at least 16 sources, at most 256 MiB).

    Returns
    -------
    scipy.sparse.csr_array
        ``(m, n)`` boolean matrix.
    """
    dist = distances_from_network(
        graph_length_m, demand_nodes, cand_nodes, radius_m, batch_bytes=batch_bytes
    )
    return _as_bool(dist)


def distances_from_network(
    graph_length_m: sp.sparray | sp.spmatrix,
    demand_nodes: np.ndarray,
    cand_nodes: np.ndarray,
    radius_m: float,
    *,
    batch_bytes: int | None = None,
) -> sp.csr_array:
    """Return network distances in metres (demand -> candidate) of pairs within ``radius_m``.

    A sparse CSR ``(m, n)`` matrix whose stored entries (explicit zeros included) are the pairs
    within the cut-off; pass ``radius_m=np.inf`` for all reachable pairs. It serves p-median on
    networks and nearest-site distances. See :func:`coverage_from_network` for the parameters.
    """
    problems = Problems()
    graph = _as_graph(graph_length_m, problems)
    n_nodes = graph.shape[0]
    demand = _as_nodes(demand_nodes, "demand_nodes", n_nodes, problems)
    cand = _as_nodes(cand_nodes, "cand_nodes", n_nodes, problems)
    radius = _as_radius(radius_m, problems, allow_inf=True)
    problems.raise_if_any()
    # Dijkstra from each candidate on the reversed graph gives demand -> candidate distances.
    reverse = sp.csr_array(graph.T)
    batch = _batch_sources(n_nodes, batch_bytes)
    row_of_node = _row_of_node(demand, n_nodes)
    rows, cols, vals = [], [], []
    for start in range(0, cand.shape[0], batch):
        sources = cand[start : start + batch]
        dist = csgraph.dijkstra(
            reverse,
            directed=True,
            indices=sources,
            limit=radius if math.isfinite(radius) else np.inf,
        )
        if row_of_node is None:  # a few demand nodes, or shared ones: their columns only
            sub = dist[:, demand]
            local, demand_row = np.nonzero(sub <= radius)
            vals.append(sub[local, demand_row])
        else:  # most nodes hold one demand point: no copy of the batch's distances
            local, node = np.nonzero(dist <= radius)
            demand_row = row_of_node[node]
            kept = demand_row >= 0
            local, node, demand_row = local[kept], node[kept], demand_row[kept]
            vals.append(dist[local, node])
        rows.append(demand_row.astype(np.int64))
        cols.append(local.astype(np.int64) + start)
    out = sp.coo_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(demand.shape[0], cand.shape[0]),
    ).tocsr()
    out = _compact(out)
    out.sort_indices()
    logger.debug("network distances %s within %.0f m: %d pairs", out.shape, radius, out.nnz)
    return out


def _batch_sources(n_nodes: int, batch_bytes: int | None) -> int:
    """Sources per Dijkstra batch: within ``batch_bytes``, or the default sizes above."""
    per_source = 8 * max(n_nodes, 1)
    if batch_bytes is not None:
        return max(1, int(batch_bytes) // per_source)
    preferred = max(_MIN_BATCH_SOURCES, _BATCH_CACHE_BYTES // per_source)
    return max(1, min(preferred, _BATCH_BYTES // per_source))


def _row_of_node(demand: np.ndarray, n_nodes: int) -> np.ndarray | None:
    """The demand row on each network node (-1 for none) when every demand point has a node of
    its own and they cover at least half the nodes; ``None`` otherwise. Reading a Dijkstra
    batch through it costs less than gathering the demand columns (a copy of the batch)."""
    if 2 * demand.shape[0] < n_nodes:
        return None
    row_of_node = np.full(n_nodes, -1, dtype=np.int64)
    row_of_node[demand] = np.arange(demand.shape[0])
    if np.count_nonzero(row_of_node >= 0) != demand.shape[0]:  # a node holds several points
        return None
    return row_of_node


def _compact(matrix: sp.csr_array) -> sp.csr_array:
    """Store indices as int32 when they fit (halves the memory of big coverage matrices)."""
    if matrix.nnz < 2**31 - 1 and max(matrix.shape) < 2**31 - 1:
        matrix = sp.csr_array(
            (matrix.data, matrix.indices.astype(np.int32), matrix.indptr.astype(np.int64)),
            shape=matrix.shape,
        )
    return matrix


def _as_bool(dist: sp.csr_array) -> sp.csr_array:
    return sp.csr_array(
        (np.ones(dist.nnz, dtype=bool), dist.indices, dist.indptr), shape=dist.shape
    )


def _as_xy(value: Any, name: str, problems: Problems) -> np.ndarray:
    try:
        xy = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        problems.add(name, "an (k, 2) array of projected metres", describe(value), "pass numbers")
        return np.zeros((1, 2))
    if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] == 0:
        problems.add(
            name,
            "a non-empty (k, 2) array of projected x, y in metres",
            f"shape {xy.shape}",
            "stack x and y as columns: np.column_stack([x_m, y_m])",
        )
        return np.zeros((1, 2))
    if not np.isfinite(xy).all():
        problems.add(name, "finite coordinates", "NaN or infinite values", "drop those points")
    return xy


def _as_radius(value: Any, problems: Problems, *, allow_inf: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    number = float(value) if ok else math.nan
    if not ok or not number > 0 or (not allow_inf and not math.isfinite(number)):
        problems.add(
            "radius_m", "a positive distance in metres", describe(value), "pass e.g. 5000.0"
        )
        return 1.0
    return number


def _as_graph(value: Any, problems: Problems) -> sp.csr_array:
    if not sp.issparse(value) or value.ndim != 2 or value.shape[0] != value.shape[1]:
        problems.add(
            "graph_length_m",
            "a square scipy.sparse matrix of edge lengths in metres",
            getattr(value, "shape", type(value).__name__),
            "pass RoadNetwork.length_m",
        )
        return sp.csr_array((1, 1))
    graph = sp.csr_array(value, dtype=np.float64)
    if graph.nnz and (not np.isfinite(graph.data).all() or graph.data.min() < 0):
        problems.add(
            "graph_length_m", "finite non-negative lengths", "negative or non-finite", "fix edges"
        )
    return graph


def _as_nodes(value: Any, name: str, n_nodes: int, problems: Problems) -> np.ndarray:
    nodes = np.asarray(value)
    if nodes.ndim != 1 or nodes.shape[0] == 0 or not np.issubdtype(nodes.dtype, np.integer):
        problems.add(
            name, "a non-empty 1-D array of node indices", f"{nodes.dtype} {nodes.shape}", "fix it"
        )
        return np.zeros(1, dtype=np.int64)
    if nodes.min() < 0 or nodes.max() >= n_nodes:
        problems.add(
            name,
            f"node indices in [0, {n_nodes - 1}]",
            f"range [{nodes.min()}, {nodes.max()}]",
            "snap the points to the network first",
        )
        return np.zeros(1, dtype=np.int64)
    return nodes.astype(np.int64)
