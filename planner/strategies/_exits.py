"""Corridor stations at real exits: the fewest stations meeting a spacing rule on every route.

A route is served when consecutive stations are at most ``max_gap_m`` apart along the road and each
route end is within ``max_end_gap_m`` of a station. Stations stand on candidate nodes (the real
interchanges); a station on a node serves every route through it (junctions, concurrencies).

:func:`place_at_exits` solves this exactly as one 0/1 program over all routes (HiGHS):

* ``x_j = 1`` when candidate node ``j`` gets a station;
* per route, with its candidates at chainage ``p_1 <= ... <= p_m`` and length ``L``:
  ``sum x_j (p_j <= max_end_gap)`` >= 1, ``sum x_j (p_j >= L - max_end_gap)`` >= 1 and, for every
  candidate ``i`` with ``p_i + max_gap < L``, ``sum x_j (p_i < p_j <= p_i + max_gap)`` >= 1 (an
  empty stretch longer than the rule would start just after ``p_i``); these constraints are
  exactly "every gap and both ends within the rule";
* minimise, in this order, the count, then the number of stations between exits (below), then
  the preference ``w`` in ``[0, 1]`` (people nearby, junctions) among the minimum solutions: one
  integer cost per node, ``BIG - level - AT_EXIT`` at an exit and ``BIG - level`` between exits,
  with ``AT_EXIT`` above every preference total and ``BIG`` above every total gain.

With ``between_exits`` (service areas, which stand on the road between interchanges), the nodes
of that mask also become candidates, but only inside a stretch of a route where the candidates
alone cannot meet the rule: between two consecutive candidates farther apart than ``max_gap_m``,
or between a route end and its first candidate farther than ``max_end_gap_m``
(:func:`between_exit_candidates`). Stations that must be reached from an exit (NEVI) leave it
``None``. Where two consecutive candidates of a route are still farther apart than ``max_gap_m``
no placement can comply: both get a station (the gap is then as short as the exits allow) and
the route is reported non-compliant. The solve is deterministic (one thread, fixed seed) and runs
to proven optimality (no time limit); its dual bound proves the count minimal.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner.core.errors import InputError, PlannerError
from planner.ground.spacing import Route, min_stations_for_spacing, route_spacing

if TYPE_CHECKING:
    from planner.ground.model import Corridor, Ground

logger = logging.getLogger(__name__)

_TOL_M = 1e-6
#: Columns of :func:`corridor_spacing_table`.
SPACING_COLUMNS = (
    "corridor", "length_m", "max_gap_m", "compliant", "stations", "official_length_km",
    "start_gap_m", "end_gap_m", "stations_placed", "stations_shared", "stations_arithmetic",
    "stations_lower_bound",
)  # fmt: skip
#: Preference levels: ``w`` in ``[0, 1]`` is rounded to ``0 .. PREFERENCE_LEVELS``.
PREFERENCE_LEVELS = 4
#: Radius around an exit within which its residents count for the preference, metres (10 mi).
PREFERENCE_RADIUS_M = 16_093.44


def exit_candidates(ground: Ground) -> np.ndarray:
    """Boolean per ground node: a corridor station may stand there.

    On a national ground the corridor candidates (``source == "corridor"``) are the real exits;
    on a city ground (OpenStreetMap motorways) every corridor node is one.
    """
    n = int(np.asarray(ground.node_x_m).shape[0])
    mask = np.zeros(n, dtype=bool)
    cands = ground.candidates
    at_corridor = np.asarray(cands.source, dtype=object) == "corridor"
    if ground.scale == "national" and at_corridor.any():
        mask[np.asarray(cands.node_idx, dtype=np.int64)[at_corridor]] = True
    else:
        for cor in ground.corridors:
            mask[np.asarray(cor.node_idx, dtype=np.int64)] = True
    return mask


def exit_preference(ground: Ground, *, radius_m: float = PREFERENCE_RADIUS_M) -> np.ndarray:
    """Preference of each ground node in ``[0, 1]``: people nearby and junctions.

    Half is the percentile rank, among corridor nodes, of the demand (persons) within
    ``radius_m``; half is 1 on nodes where two or more corridors meet.
    """
    from scipy.spatial import cKDTree

    n = int(np.asarray(ground.node_x_m).shape[0])
    paths = [np.asarray(c.node_idx, dtype=np.int64) for c in ground.corridors]
    nodes = np.unique(np.concatenate(paths)) if paths else np.empty(0, dtype=np.int64)
    pop = np.zeros(n)
    d = ground.demand
    if nodes.size and d.demand.size:
        tree = cKDTree(np.column_stack([d.x_m, d.y_m]))
        xy = np.column_stack([ground.node_x_m[nodes], ground.node_y_m[nodes]])
        hits = tree.query_ball_point(xy, r=radius_m)
        weights = np.asarray(d.demand, dtype=float)
        pop[nodes] = [float(weights[h].sum()) for h in hits]
    count = np.zeros(n)
    for cor in ground.corridors:
        count[np.unique(np.asarray(cor.node_idx, dtype=np.int64))] += 1
    rank = np.zeros(n)
    if nodes.size > 1:
        order = np.argsort(pop[nodes], kind="stable")
        rank[nodes[order]] = np.arange(nodes.size) / (nodes.size - 1)
    return 0.5 * rank + 0.5 * (count >= 2)


@dataclass(frozen=True, eq=False)
class ExitPlacement:
    """Result of :func:`place_at_exits`.

    Attributes
    ----------
    nodes
        Sorted station nodes, the fixed ones included.
    routes
        For each node of ``nodes``, the ids of the routes through it, ``;``-joined in route order.
    new
        Boolean per node of ``nodes``: placed by the solve (``False`` for fixed stations).
    lower_bound
        Proven lower bound on the number of stations (the solver's dual bound, rounded up).
    route_minimum
        Per route id: the fewest stations that route alone needs on its exits.
    forced
        Stations forced at the two sides of a stretch without exits longer than the rule, or
        at the exit nearest to a route end with no exit within the end rule.
    at_exit
        Boolean per node of ``nodes``: at a candidate exit (``False``: between exits, on a
        node of ``between_exits``).
    """

    nodes: np.ndarray
    routes: np.ndarray
    new: np.ndarray
    lower_bound: int
    route_minimum: dict[str, int]
    forced: int
    at_exit: np.ndarray


def place_at_exits(
    routes: Sequence[Route],
    *,
    candidate: np.ndarray,
    weight: np.ndarray,
    max_gap_m: float,
    max_end_gap_m: float,
    fixed_nodes: np.ndarray | None = None,
    between_exits: np.ndarray | None = None,
) -> ExitPlacement:
    """Fewest stations on the candidate nodes meeting the spacing rule on every route.

    Parameters
    ----------
    routes
        The routes (``corridor_id``, ``node_idx``, ``chainage_m``).
    candidate
        Boolean per network node: a station may stand there.
    weight
        Preference per network node in ``[0, 1]`` (ties among minimum solutions go to the heavier).
    max_gap_m, max_end_gap_m
        The spacing rule, metres.
    fixed_nodes
        Nodes with a station already (they count, at no cost).
    between_exits
        Boolean per network node: a station may also stand there, but only inside a stretch
        where the candidates cannot meet the rule (:func:`between_exit_candidates`); ``None``
        (the default): stations at candidates only.

    Returns
    -------
    ExitPlacement
    """
    cand = np.asarray(candidate, dtype=bool)
    w = np.clip(np.nan_to_num(np.asarray(weight, dtype=float)), 0.0, 1.0)
    if w.shape != cand.shape:
        raise InputError(f"weight: expected one value per node ({cand.size}), got {w.size}")
    for name, value in (("max_gap_m", max_gap_m), ("max_end_gap_m", max_end_gap_m)):
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"{name}: expected a finite distance > 0 in metres, got {value!r}")
    fixed = np.unique(np.asarray([] if fixed_nodes is None else fixed_nodes, dtype=np.int64))
    at_exit = cand | np.isin(np.arange(cand.size), fixed)
    allowed = at_exit
    if between_exits is not None:
        between = np.asarray(between_exits, dtype=bool)
        if between.shape != cand.shape:
            raise InputError(
                f"between_exits: expected one value per node ({cand.size}), got {between.size}"
            )
        allowed = at_exit | between_exit_candidates(
            routes, at_exit, between, max_gap_m=max_gap_m, max_end_gap_m=max_end_gap_m
        )
    rows, forced, minimum = _constraints(routes, allowed, max_gap_m, max_end_gap_m)
    must = np.unique(np.r_[fixed, np.asarray(forced, dtype=np.int64)])
    x, bound = _solve(rows, w, must, ~at_exit)
    nodes = np.flatnonzero(x)
    on = _routes_through(routes, nodes)
    logger.info(
        "exit stations: %d stations (%d between exits, lower bound %d), %d forced by stretches "
        "without candidates",
        nodes.size, int((~at_exit[nodes]).sum()), bound, len(set(forced)),
    )  # fmt: skip
    return ExitPlacement(
        nodes=nodes.astype(np.int64),
        routes=np.array([";".join(on[int(n)]) for n in nodes], dtype=object),
        new=~np.isin(nodes, fixed),
        lower_bound=bound,
        route_minimum=minimum,
        forced=len(set(forced) - set(fixed.tolist())),
        at_exit=at_exit[nodes],
    )


def between_exit_candidates(
    routes: Sequence[Route],
    candidate: np.ndarray,
    between: np.ndarray,
    *,
    max_gap_m: float,
    max_end_gap_m: float,
) -> np.ndarray:
    """Nodes of ``between`` (not candidates) inside a stretch the candidates cannot serve.

    On each route, a node lies in such a stretch when the candidates before and after it along
    the route are more than ``max_gap_m`` apart, or when no candidate lies between it and a route
    end that is more than ``max_end_gap_m`` from the nearest candidate (or the route has none).

    Parameters
    ----------
    routes
        The routes (``corridor_id``, ``node_idx``, ``chainage_m``).
    candidate, between
        Boolean per network node: the exits, and the nodes that may hold a station between them.
    max_gap_m, max_end_gap_m
        The spacing rule, metres.

    Returns
    -------
    numpy.ndarray
        Boolean per network node.
    """
    cand = np.asarray(candidate, dtype=bool)
    extra = np.zeros(cand.shape, dtype=bool)
    for route in routes:
        nodes = np.asarray(route.node_idx, dtype=np.int64)
        if nodes.size == 0:
            continue
        pos = np.asarray(route.chainage_m, dtype=float)
        pos = pos - pos[0]
        need = _unserved(pos, pos[cand[nodes]], pos[-1], max_gap_m, max_end_gap_m)
        extra[nodes[need & between[nodes] & ~cand[nodes]]] = True
    return extra


def long_stretch_segments(
    routes: Sequence[Route],
    usable: np.ndarray,
    *,
    max_gap_m: float,
    max_end_gap_m: float,
) -> list[np.ndarray]:
    """Per route, boolean per segment: inside a stretch the ``usable`` nodes cannot serve.

    The stretches are those of :func:`between_exit_candidates` with ``usable`` as the
    candidates: between two consecutive usable nodes more than ``max_gap_m`` apart, or between
    a route end and its nearest usable node more than ``max_end_gap_m`` away (the whole route
    when it has none). No placement on the usable nodes can meet the rule there; a station has
    to stand on the road inside such a segment.

    Parameters
    ----------
    routes
        The routes (``corridor_id``, ``node_idx``, ``chainage_m``).
    usable
        Boolean per network node: a station may stand there.
    max_gap_m, max_end_gap_m
        The spacing rule, metres.

    Returns
    -------
    list of numpy.ndarray
        One boolean array of ``len(node_idx) - 1`` values per route, in route order.
    """
    ok = np.asarray(usable, dtype=bool)
    out = []
    for route in routes:
        nodes = np.asarray(route.node_idx, dtype=np.int64)
        if nodes.size < 2:
            out.append(np.zeros(0, dtype=bool))
            continue
        pos = np.asarray(route.chainage_m, dtype=float)
        pos = pos - pos[0]
        mid = (pos[1:] + pos[:-1]) / 2  # a segment lies wholly inside or outside a stretch
        out.append(_unserved(mid, pos[ok[nodes]], pos[-1], max_gap_m, max_end_gap_m))
    return out


def _unserved(
    at_m: np.ndarray, cand_m: np.ndarray, length_m: float, max_gap_m: float, max_end_gap_m: float
) -> np.ndarray:
    """Whether each position ``at_m`` of a route of ``length_m`` lies in a stretch that the
    candidates at ``cand_m`` (sorted) cannot serve (:func:`between_exit_candidates`)."""
    k = np.searchsorted(cand_m, at_m, side="right")  # candidates at or before each position
    prev = cand_m[np.maximum(k - 1, 0)] if cand_m.size else at_m
    nxt = cand_m[np.minimum(k, cand_m.size - 1)] if cand_m.size else at_m
    has_prev, has_next = k > 0, k < cand_m.size
    return np.asarray(
        np.where(
            has_prev & has_next,
            nxt - prev > max_gap_m + _TOL_M,
            np.where(
                has_prev,
                length_m - prev > max_end_gap_m + _TOL_M,
                ~has_next | (nxt > max_end_gap_m + _TOL_M),
            ),
        ),
        dtype=bool,
    )


def _constraints(
    routes: Sequence[Route], cand: np.ndarray, gap: float, end_gap: float
) -> tuple[list[np.ndarray], list[int], dict[str, int]]:
    """Covering rows (as node arrays), forced nodes, and each route's own minimum."""
    cols: list[np.ndarray] = []
    forced: list[int] = []
    minimum: dict[str, int] = {}
    for route in routes:
        nodes = np.asarray(route.node_idx, dtype=np.int64)
        chain = np.asarray(route.chainage_m, dtype=float)
        if nodes.size == 0:
            continue
        keep = cand[nodes]
        length = float(chain[-1] - chain[0])
        n, p = nodes[keep], chain[keep] - chain[0]
        if n.size == 0:
            minimum[route.corridor_id] = 0
            continue
        minimum[route.corridor_id] = int(
            min_stations_for_spacing(
                np.r_[0.0, p, length], max_gap_m=gap, max_end_gap_m=end_gap, on_infeasible="bridge"
            ).size
        )
        for near, nearest in (
            (p <= end_gap + _TOL_M, n[0]),
            (p >= length - end_gap - _TOL_M, n[-1]),
        ):
            if near.any():
                cols.append(n[near])
            else:  # no exit near this end: a station at the exit nearest to it
                forced.append(int(nearest))
        lo = np.searchsorted(p, p, side="right")
        hi = np.searchsorted(p, p + gap + _TOL_M, side="right")
        valid = p + gap < length - _TOL_M
        for i in np.flatnonzero(valid & (hi <= lo)):  # a stretch without exits over the rule:
            forced += [int(n[i]), int(n[min(i + 1, n.size - 1)])]  # stations on both sides
        ok = np.flatnonzero(valid & (hi > lo))
        # windows ending at the same exit: the one starting last is the smallest, the rest are
        # implied by it (lo grows with i)
        last = ok[np.r_[hi[ok][1:] != hi[ok][:-1], True]] if ok.size else ok
        cols += [n[lo[i] : hi[i]] for i in last.tolist()]
    return cols, forced, minimum


def _solve(
    rows: list[np.ndarray], w: np.ndarray, must: np.ndarray, off_exit: np.ndarray
) -> tuple[np.ndarray, int]:
    """Solve the covering program; return the 0/1 vector over nodes and the proven bound.

    ``off_exit`` marks the nodes between exits: among the solutions of fewest stations, those
    with fewest stations between exits win, and the preference ``w`` only breaks the ties left.
    """
    n_nodes = off_exit.size
    used = np.unique(np.concatenate([*rows, must])) if rows or must.size else np.empty(0, int)
    local = np.full(n_nodes, -1, dtype=np.int64)
    local[used] = np.arange(used.size)
    forced_local = np.zeros(used.size, dtype=bool)
    forced_local[local[must]] = True
    indptr, indices = _unique_rows(rows, local, forced_local)
    if len(indptr) == 1:  # every row is met by a forced station (or there are none)
        x = np.zeros(n_nodes, dtype=bool)
        x[must] = True
        return x, int(must.size)
    # integer costs in three tiers, BIG per station less a gain: the preference level (0..LEVELS)
    # and, at an exit, AT_EXIT more, AT_EXIT > LEVELS * (stations + 1), so one station more at an
    # exit outweighs any preference gain; BIG > (AT_EXIT + LEVELS) * (stations + 1), so one
    # station more always costs more than every gain, and the dual bound / BIG rounded up is the
    # count. An integer objective lets a gap below 1 prove the optimum.
    level = np.rint(w[used] * PREFERENCE_LEVELS)
    n_more = used.size + 1
    at_exit_gain = PREFERENCE_LEVELS * n_more + 1 if off_exit[used].any() else 0
    big = (at_exit_gain + PREFERENCE_LEVELS) * n_more + 1
    level = level + at_exit_gain * ~off_exit[used]
    a = sp.csr_array(
        (np.ones(len(indices)), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
        shape=(len(indptr) - 1, used.size),
    )
    value, dual_bound = _solve_covering(a, (big - level).astype(float), forced_local)
    x = np.zeros(n_nodes, dtype=bool)
    x[used] = value > 0.5
    return x, math.ceil(dual_bound / big - 1e-9)


def _unique_rows(
    rows: list[np.ndarray], local: np.ndarray, forced_local: np.ndarray
) -> tuple[list[int], list[int]]:
    """CSR ``(indptr, indices)`` of the rows in local column numbers: each row once (many
    windows repeat), without the rows a forced station already meets."""
    seen: set[tuple[int, ...]] = set()
    indptr: list[int] = [0]
    indices: list[int] = []
    for r in rows:
        key = tuple(local[r].tolist())
        if key in seen or forced_local[list(key)].any():
            continue
        seen.add(key)
        indices.extend(key)
        indptr.append(len(indices))
    return indptr, indices


def _solve_covering(
    a: sp.csr_array, cost: np.ndarray, lower: np.ndarray
) -> tuple[np.ndarray, float]:
    """Minimise ``cost @ x`` subject to ``a @ x >= 1``, ``x`` 0/1 integer at least ``lower``,
    with HiGHS to proven optimality (one thread, fixed seed); return ``x`` and the dual bound."""
    import highspy

    from planner.optimize._highs import _quiet_stdout

    n_rows, n_cols = a.shape
    lp = highspy.HighsLp()
    lp.num_col_ = int(n_cols)
    lp.num_row_ = int(n_rows)
    lp.col_cost_ = cost
    lp.col_lower_ = lower.astype(float)
    lp.col_upper_ = np.ones(n_cols)
    lp.row_lower_ = np.ones(n_rows)
    lp.row_upper_ = np.full(n_rows, highspy.kHighsInf)
    csc = a.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_cols
    with _quiet_stdout():
        h = highspy.Highs()
    for option, value in (
        ("output_flag", False), ("log_to_console", False), ("threads", 1), ("random_seed", 0),
        ("mip_rel_gap", 0.0), ("mip_abs_gap", 0.999),
    ):  # fmt: skip
        h.setOptionValue(option, value)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise PlannerError(
            f"exit stations: HiGHS ended with {h.modelStatusToString(h.getModelStatus())}"
        )
    return np.asarray(h.getSolution().col_value), float(h.getInfo().mip_dual_bound)


def _routes_through(routes: Sequence[Route], nodes: np.ndarray) -> dict[int, list[str]]:
    """Route ids through each node of ``nodes``, in route order."""
    on: dict[int, list[str]] = {int(n): [] for n in nodes}
    for route in routes:
        for n in np.unique(
            np.asarray(route.node_idx, dtype=np.int64)[np.isin(route.node_idx, nodes)]
        ):
            on[int(n)].append(route.corridor_id)
    return on


def node_flow(corridors: Sequence[Corridor], nodes: np.ndarray) -> np.ndarray:
    """Two-way traffic past each node (vehicles/day): the busiest road it stands on.

    On one corridor a node sees the larger flow of its two adjacent segments; at a junction or on
    a concurrency the largest over the corridors through it (summing would count the traffic of a
    shared road twice and pass the segment clip). Nodes on no corridor get 0.
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    best = np.zeros(nodes.size)
    for cor in corridors:
        path = np.asarray(cor.node_idx, dtype=np.int64)
        seg = np.nan_to_num(np.asarray(cor.flow_veh_day, dtype=float), nan=0.0)
        if path.size == 0 or seg.size != path.size - 1:
            continue
        at_node = np.maximum(np.r_[0.0, seg], np.r_[seg, 0.0])
        order = np.argsort(path, kind="stable")
        pos = np.searchsorted(path[order], nodes)
        pos = np.minimum(pos, path.size - 1)
        hit = path[order][pos] == nodes
        per_node = pd.Series(at_node).groupby(path).max()
        best[hit] = np.maximum(best[hit], per_node.reindex(nodes[hit]).to_numpy())
    return best


def corridor_spacing_table(
    corridors: Sequence[Corridor],
    placement: ExitPlacement,
    *,
    max_gap_m: float,
    max_end_gap_m: float,
) -> pd.DataFrame:
    """One row per corridor: length, gaps, compliance and station counts against arithmetic.

    Columns (metres): ``corridor``, ``length_m``, ``max_gap_m``, ``compliant``, ``stations`` (on
    the corridor, junction stations included), ``official_length_km``, ``start_gap_m``,
    ``end_gap_m``, ``stations_placed`` (only on this corridor), ``stations_shared`` (also on
    another), ``stations_arithmetic`` (``ceil(length / max_gap)``, the fewest stations could be
    anywhere), ``stations_lower_bound`` (the fewest the corridor alone needs on its exits).
    ``attrs["network_lower_bound"]`` holds the proven bound on the network's total.
    """
    reports = route_spacing(
        corridors, placement.nodes, max_gap_m=max_gap_m, max_end_gap_m=max_end_gap_m
    )
    shared = np.array([";" in r for r in placement.routes], dtype=bool)
    rows = []
    for cor, rep in zip(corridors, reports, strict=True):
        on = np.isin(placement.nodes, np.asarray(cor.node_idx, dtype=np.int64))
        km = cor.official_length_km
        rows.append(
            {
                "corridor": cor.corridor_id,
                "length_m": cor.length_m,
                "max_gap_m": rep.max_gap_m,
                "compliant": rep.compliant,
                "stations": int(on.sum()),
                "official_length_km": math.nan if km is None else float(km),
                "start_gap_m": rep.start_gap_m,
                "end_gap_m": rep.end_gap_m,
                "stations_placed": int((on & ~shared).sum()),
                "stations_shared": int((on & shared).sum()),
                "stations_arithmetic": max(1, math.ceil(cor.length_m / max_gap_m - 1e-9)),
                "stations_lower_bound": placement.route_minimum.get(cor.corridor_id, 0),
            }
        )
    table = pd.DataFrame(rows, columns=list(SPACING_COLUMNS))
    table.attrs["network_lower_bound"] = placement.lower_bound
    return table
