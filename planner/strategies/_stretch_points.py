"""Points on the road inside corridor stretches that no node can serve under a spacing rule.

A corridor of a national ground is a chain of Travel Mapping waypoints. Where two usable nodes
(exits, or the shaping points a service area may stand on) are farther apart than the rule, say
two consecutive waypoints 60.14 km apart on I-80 across the Great Salt Lake Desert, no placement
on the nodes keeps a 60 km spacing, although a station could stand anywhere on that road.
:func:`with_stretch_points` adds nodes on the route's polyline inside exactly those stretches
(:func:`planner.strategies._exits.long_stretch_segments`), at most ``step_m`` apart, so that the
placement (:func:`planner.strategies._exits.place_at_exits` with ``between_exits``) can stand a
station there: it treats them as nodes between exits (``at_exit`` false).
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import scipy.sparse as sp
from pyproj import Transformer

from planner.ground.model import Corridor, Ground
from planner.strategies._exits import long_stretch_segments

logger = logging.getLogger(__name__)

#: Largest distance between the points added inside a stretch, metres.
STRETCH_POINT_STEP_M = 1_000.0

_Cut = dict[tuple[int, int], tuple[int, int]]  # undirected segment -> (pieces, first new node)


def with_stretch_points(
    ground: Ground,
    usable: np.ndarray,
    *,
    max_gap_m: float,
    max_end_gap_m: float,
    step_m: float = STRETCH_POINT_STEP_M,
) -> Ground:
    """``ground`` with nodes on the corridors where the ``usable`` nodes cannot meet the rule.

    Every corridor segment inside such a stretch and longer than ``step_m`` is cut into equal
    pieces of at most ``step_m`` by new nodes on its straight line (in the ground's CRS; the
    polyline between two waypoints). The new nodes come after the ground's own, in the order of
    the segments' node pairs; every corridor over a cut segment, in either direction, passes
    them (the segment's chainage shared out evenly, its flow on each piece), and the network gets
    the pieces as edges beside the segment's own. ``ground.meta["stretch_points"]`` counts them.

    Parameters
    ----------
    ground
        The ground.
    usable
        Boolean per ground node: a station may stand there.
    max_gap_m, max_end_gap_m
        The spacing rule, metres.
    step_m
        Largest distance between added points along the road, metres.

    Returns
    -------
    Ground
        A new ground, or ``ground`` itself when no stretch needs points.
    """
    flags = long_stretch_segments(
        ground.corridors, usable, max_gap_m=max_gap_m, max_end_gap_m=max_end_gap_m
    )
    pieces: dict[tuple[int, int], int] = {}
    for cor, flag in zip(ground.corridors, flags, strict=True):
        path, step = np.asarray(cor.node_idx, np.int64), np.diff(cor.chainage_m)
        for i in np.flatnonzero(flag & (step > step_m)).tolist():
            key = (min(int(path[i]), int(path[i + 1])), max(int(path[i]), int(path[i + 1])))
            pieces[key] = max(pieces.get(key, 0), math.ceil(step[i] / step_m - 1e-9))
    if not pieces:
        return ground
    n0 = int(np.asarray(ground.node_x_m).shape[0])
    cut: _Cut = {}
    x_parts, y_parts = [np.asarray(ground.node_x_m, float)], [np.asarray(ground.node_y_m, float)]
    n = n0
    for (u, v), k in sorted(pieces.items()):
        t = np.arange(1, k) / k
        x_parts.append(ground.node_x_m[u] + t * (ground.node_x_m[v] - ground.node_x_m[u]))
        y_parts.append(ground.node_y_m[u] + t * (ground.node_y_m[v] - ground.node_y_m[u]))
        cut[(u, v)] = (k, n)
        n += k - 1
    x, y = np.concatenate(x_parts), np.concatenate(y_parts)
    lon, lat = Transformer.from_crs(ground.crs, "EPSG:4326", always_xy=True).transform(
        x[n0:], y[n0:]
    )
    logger.info(
        "stretch points: %d points on %d segments (step %.0f m) where the nodes cannot keep "
        "the spacing", n - n0, len(cut), step_m,
    )  # fmt: skip
    travel = ground.travel_time_s
    return dataclasses.replace(
        ground,
        node_x_m=x,
        node_y_m=y,
        node_lon=np.r_[ground.node_lon, lon],
        node_lat=np.r_[ground.node_lat, lat],
        length_m=_cut_edges(ground.length_m, cut, n),
        travel_time_s=None if travel is None else _cut_edges(travel, cut, n),
        corridors=tuple(_cut_corridor(c, cut) for c in ground.corridors),
        meta={
            **ground.meta,
            "stretch_points": {"added": n - n0, "segments": len(cut), "step_m": step_m},
        },
    )


def _cut_corridor(corridor: Corridor, cut: _Cut) -> Corridor:
    """``corridor`` passing the new nodes of every cut segment it runs over."""
    path = np.asarray(corridor.node_idx, np.int64)
    if path.size < 2:
        return corridor
    lo, hi = np.minimum(path[:-1], path[1:]), np.maximum(path[:-1], path[1:])
    pairs = zip(lo.tolist(), hi.tolist(), strict=True)
    k = np.array([cut.get(pair, (1, 0))[0] for pair in pairs])
    if (k == 1).all():
        return corridor
    chain = np.asarray(corridor.chainage_m, float)
    nodes, chainage = [path[:1]], [chain[:1]]
    for i in range(path.size - 1):
        if k[i] > 1:
            first = cut[(int(lo[i]), int(hi[i]))][1]
            new = first + np.arange(k[i] - 1)
            nodes.append(new if path[i] < path[i + 1] else new[::-1])
            chainage.append(chain[i] + np.arange(1, k[i]) / k[i] * (chain[i + 1] - chain[i]))
        nodes.append(path[i + 1 : i + 2])
        chainage.append(chain[i + 1 : i + 2])
    flow = np.asarray(corridor.flow_veh_day, float)
    return dataclasses.replace(
        corridor,
        node_idx=np.concatenate(nodes),
        chainage_m=np.concatenate(chainage),
        flow_veh_day=np.repeat(flow, k) if flow.size == k.size else flow,
    )


def _cut_edges(matrix: sp.csr_array, cut: _Cut, n: int) -> sp.csr_array:
    """``matrix`` over ``n`` nodes with the pieces of every cut segment as edges (each of its
    share of the segment's value, in each direction the segment has an edge)."""
    base = sp.coo_array(matrix)
    rows, cols, vals = [base.row], [base.col], [base.data]
    for (u, v), (k, first) in cut.items():
        chain = np.r_[u, first + np.arange(k - 1), v]
        for a, b, seq in ((u, v, chain), (v, u, chain[::-1])):
            value = float(matrix[a, b])
            if value:
                rows.append(seq[:-1])
                cols.append(seq[1:])
                vals.append(np.full(k, value / k))
    return sp.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
