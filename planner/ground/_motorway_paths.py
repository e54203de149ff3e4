"""Highway corridors of a road network as ordered node paths: :func:`motorway_paths`.

Re-exported by :mod:`planner.ground.network`, which is where to import it from. :func:`min_csr` (the
shortest of parallel edges as a CSR matrix) is shared with the network builder; this module does
not import :mod:`planner.ground.network` at run time, so the re-export makes no import cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from planner.core.errors import InputError

if TYPE_CHECKING:
    from planner.ground.network import RoadNetwork

logger = logging.getLogger(__name__)

_MAX_GAP_M = 3000.0  # longest ramp connection chained into a route (motorway_paths)


def min_csr(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> sp.csr_array:
    """CSR matrix holding, for each ``(u, v)`` pair, the smallest ``w`` of its parallel edges."""
    order = np.lexsort((w, v, u))
    first = np.r_[True, (u[order][1:] != u[order][:-1]) | (v[order][1:] != v[order][:-1])]
    pick = order[first]
    matrix = sp.csr_array((w[pick], (u[pick], v[pick])), shape=(n, n))
    matrix.sort_indices()
    return matrix


def motorway_paths(
    network: RoadNetwork,
    *,
    highway: Sequence[str] = ("motorway", "trunk"),
    min_length_m: float = 2000.0,
    merge_within_m: float | None = 150.0,
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Extract highway corridors as ordered node paths, for measuring spacing along them.

    Edges of the ``highway`` classes are grouped by route: each ``ref`` of the edge (``"I 70;I
    71"`` belongs to both), else its ``name``, else ``"unnamed <class>"``. For each weakly
    connected piece of a group the longest of the shortest paths from its entry nodes (and from a
    sample of its nodes, for rings) is taken; pieces are chained end to start through ramps
    (``*_link``, at most 3 km) when they head the same way, because a route that changes road at
    an interchange follows a ramp in OSM.
    A path whose nodes lie within ``merge_within_m`` of a longer path of the same route (the
    opposite carriageway of a divided highway) is dropped; ``None`` keeps both directions.

    Returns
    -------
    list of (str, numpy.ndarray, numpy.ndarray)
        ``(ref_or_name, node_idx path, chainage_m)``, longest first; chainage starts at 0 and
        consecutive path nodes are joined by a directed edge.
    """
    if min_length_m < 0:
        raise InputError(f"min_length_m: expected >= 0, got {min_length_m!r}")
    edges = network.edges
    hw = edges["highway"].to_numpy(dtype=object)
    mask = np.isin(hw, list(highway))
    links = np.flatnonzero(np.isin(hw, [f"{h}_link" for h in highway]))
    groups: dict[str, list[int]] = {}
    for row, ref, nm in zip(
        np.flatnonzero(mask),
        edges["ref"].to_numpy()[mask],
        edges["name"].to_numpy()[mask],
        strict=True,
    ):
        keys = [r.strip() for r in str(ref or "").split(";") if r.strip()]
        for key in keys or [str(nm) if nm else f"unnamed {hw[row]}"]:
            groups.setdefault(key, []).append(int(row))
    u_all, v_all = edges["u"].to_numpy(), edges["v"].to_numpy()
    w_all = edges["length_m"].to_numpy(float)
    xy = np.column_stack([network.x_m, network.y_m])
    found: list[tuple[str, np.ndarray, np.ndarray]] = []
    for key in sorted(groups):
        rows = np.r_[np.asarray(groups[key], dtype=np.int64), links]
        core = np.arange(rows.size) < len(groups[key])
        for path, chain_m in _route_chains(u_all[rows], v_all[rows], w_all[rows], core, xy):
            if chain_m[-1] >= min_length_m:
                found.append((key, path, chain_m))
    found.sort(key=lambda item: (-float(item[2][-1]), item[0]))
    if merge_within_m is not None:
        found = _drop_parallel(found, network, merge_within_m)
    logger.debug("motorway_paths: %d corridors in %d groups", len(found), len(groups))
    return found


def _route_chains(
    u: np.ndarray, v: np.ndarray, w: np.ndarray, core: np.ndarray, xy_all: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Ordered node paths of one route: core pieces chained through connector (ramp) edges.

    Each weakly connected piece of the ``core`` edges gives its longest shortest path; a piece's
    end is joined to another piece's start when a path of at most ``_MAX_GAP_M`` leads there
    and both pieces head the same way (so opposite carriageways are never joined).
    """
    nodes, inv = np.unique(np.r_[u, v], return_inverse=True)
    lu, lv = inv[: u.size], inv[u.size :]
    full = min_csr(lu, lv, w, nodes.size)
    pieces = _core_pieces(min_csr(lu[core], lv[core], w[core], nodes.size), lv[core])
    if not pieces:
        return []
    xy = xy_all[nodes]
    starts = np.array([p[0] for p in pieces])
    ends = np.array([p[-1] for p in pieces])
    heading = xy[ends] - xy[starts]
    gap, pred = dijkstra(full, indices=ends, return_predecessors=True, limit=_MAX_GAP_M)
    pairs = sorted(
        (float(gap[i, starts[j]]), i, j)
        for i in range(len(pieces))
        for j in range(len(pieces))
        if i != j and np.isfinite(gap[i, starts[j]]) and float(heading[i] @ heading[j]) > 0
    )
    succ = np.full(len(pieces), -1)
    has_pred = np.zeros(len(pieces), dtype=bool)
    for _, i, j in pairs:
        if succ[i] >= 0 or has_pred[j] or _reaches(succ, j, i):
            continue
        succ[i], has_pred[j] = j, True
    chains = []
    for head in np.flatnonzero(~has_pred):
        path, i = pieces[head], int(head)
        while succ[i] >= 0:
            j = int(succ[i])
            link = _walk_back(pred[i], int(ends[i]), int(starts[j]))
            path, i = np.r_[path, link[1:], pieces[j][1:]], j
        steps = np.asarray(full[path[:-1], path[1:]], dtype=float).ravel()
        chains.append((nodes[path].astype(np.int64), np.r_[0.0, np.cumsum(steps)]))
    return chains


def _core_pieces(graph: sp.csr_array, heads: np.ndarray) -> list[np.ndarray]:
    """Longest shortest path of each weakly connected piece of ``graph`` (``heads``: edge ends)."""
    _, labels = connected_components(graph, directed=True, connection="weak")
    indegree = np.bincount(heads, minlength=graph.shape[0])
    used = np.unique(labels[heads])
    pieces = []
    for label in used:
        members = np.flatnonzero(labels == label)
        sample = members[np.linspace(0, members.size - 1, min(members.size, 24)).astype(int)]
        sources = np.unique(np.r_[members[indegree[members] == 0], sample])
        dist, pred = dijkstra(graph, indices=sources, return_predecessors=True)
        dist[~np.isfinite(dist)] = -1.0
        row, col = np.unravel_index(int(np.argmax(dist)), dist.shape)
        if dist[row, col] > 0:
            pieces.append(_walk_back(pred[row], int(sources[row]), int(col)))
    return pieces


def _walk_back(pred: np.ndarray, source: int, target: int) -> np.ndarray:
    path = [target]
    while path[-1] != source and pred[path[-1]] >= 0:
        path.append(int(pred[path[-1]]))
    return np.asarray(path[::-1])


def _reaches(succ: np.ndarray, start: int, goal: int) -> bool:
    """Whether following ``succ`` from ``start`` reaches ``goal`` (joining would make a cycle)."""
    node = start
    while node >= 0:
        if node == goal:
            return True
        node = int(succ[node])
    return False


def _drop_parallel(
    found: list[tuple[str, np.ndarray, np.ndarray]], network: RoadNetwork, within_m: float
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Drop paths with >= 80 % of nodes within ``within_m`` of a longer path of the same route."""
    kept: list[tuple[str, np.ndarray, np.ndarray]] = []
    for key, path, chain_m in found:
        xy = np.column_stack([network.x_m[path], network.y_m[path]])
        duplicate = False
        for other_key, other, _ in kept:
            if other_key != key:
                continue
            tree = cKDTree(np.column_stack([network.x_m[other], network.y_m[other]]))
            dist, _ = tree.query(xy)
            if np.mean(dist <= within_m) >= 0.8:
                duplicate = True
                break
        if not duplicate:
            kept.append((key, path, chain_m))
    return kept
