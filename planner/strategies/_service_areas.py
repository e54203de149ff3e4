"""Expressway service areas of the China pile-plus-swap strategy, and expressway swap stations.

Service areas stand at most ``spacing_m`` apart along every corridor (JTG B01-2014: 50 km on
average) and within half of it from each corridor end, at the fewest real exits that allow it
(:func:`planner.strategies._exits.place_at_exits`, one exact program over the whole network). A
service area is a facility of its own on the road, not an interchange: where the exits alone
cannot meet the spacing (a stretch without listed exits longer than the rule, or an end farther
than half of it), it may stand on the corridor's polyline between them
(:func:`between_exit_nodes`), and the site says so (``at_exit`` ``False``).
Each gets at least ``min_dc_piles`` DC piles, more where the corridor's traffic needs them: the
peak-hour arrivals ``flow x NEV share x stop share x peak-hour share`` sized by Erlang C.

Expressway swap stations go to the busiest corridors (by length-weighted mean flow), at service
areas at most ``swap_spacing_m`` apart; each serves the swap-capable NEVs passing over its stretch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.core.errors import InputError
from planner.core.units import M_PER_MI
from planner.ground.model import Corridor, Ground
from planner.ground.spacing import min_stations_for_spacing, spacing_report
from planner.strategies._exits import node_flow, place_at_exits
from planner.strategies._sizing import ports_for_loads

logger = logging.getLogger(__name__)

CORRIDOR_COLUMNS = (
    "corridor",
    "length_km",
    "length_mi",
    "max_gap_km",
    "max_gap_mi",
    "start_gap_km",
    "end_gap_km",
    "compliant",
    "stations",
    "stations_arithmetic",
    "swap_stations",
    "mean_flow_veh_day",
)


@dataclass(frozen=True, eq=False)
class CorridorSites:
    """Sites placed along corridors (one row per site, arrays aligned).

    Attributes
    ----------
    corridor
        Corridor id of each site (object array).
    node_idx
        Ground node of each site.
    chainage_m
        Position along its corridor.
    flow_veh_day
        Two-way traffic at the site: the busiest adjacent segment of the busiest corridor.
    value
        Service areas: DC piles. Swap stations: swaps per day wanted over the site's stretch.
    lower_bound
        Service areas: the proven fewest stations the network needs (``-1`` when not solved).
    """

    corridor: np.ndarray
    node_idx: np.ndarray
    chainage_m: np.ndarray
    flow_veh_day: np.ndarray
    value: np.ndarray
    lower_bound: int = -1

    def __len__(self) -> int:
        return int(self.node_idx.shape[0])


def plan_service_areas(
    corridors: tuple[Corridor, ...],
    *,
    candidate: np.ndarray,
    weight: np.ndarray,
    spacing_m: float,
    min_dc_piles: int,
    nev_traffic_share: float,
    stop_share: float,
    peak_hour_share: float,
    session_h: float,
    target_wait_min: float,
    between_exits: np.ndarray | None = None,
) -> CorridorSites:
    """Service areas at real exits of every corridor, each with its Erlang-C sized DC piles.

    The fewest exits (``candidate`` nodes) keeping every gap within ``spacing_m`` and both ends
    within half of it on every corridor (:func:`planner.strategies._exits.place_at_exits`; a
    service area at a junction serves every corridor through it, its ``corridor`` lists them,
    ``;``-joined; ties go to exits of higher ``weight``). ``value`` holds the DC piles of each
    site. With ``between_exits`` (boolean per node), service areas may also stand on those nodes
    inside stretches where the exits cannot meet the rule; a corridor whose stretch is still
    longer than ``spacing_m`` gets a service area at both sides of it and is reported
    non-compliant.
    """
    placement = place_at_exits(
        corridors,
        candidate=candidate,
        weight=weight,
        max_gap_m=spacing_m,
        max_end_gap_m=spacing_m / 2,
        between_exits=between_exits,
    )
    nodes = placement.nodes
    flow = node_flow(corridors, nodes)
    arrivals_h = flow * nev_traffic_share * stop_share * peak_hour_share
    try:
        piles = ports_for_loads(
            arrivals_h, session_h=session_h, target_wait_min=target_wait_min, min_ports=min_dc_piles
        )
    except InputError as exc:
        raise InputError(f"corridor flow_veh_day: {exc}") from None
    first = {c.corridor_id: c for c in corridors}
    chain = np.array(
        [
            _chainage_on(first[str(r).split(";")[0]], int(n))
            for n, r in zip(nodes, placement.routes, strict=True)
        ]
    )
    return CorridorSites(
        placement.routes, nodes, chain, flow, piles.astype(float), placement.lower_bound
    )


def between_exit_nodes(ground: Ground) -> np.ndarray:
    """Boolean per ground node: a service area may stand there between exits.

    Every node of a corridor polyline (on a national ground: the Travel Mapping shaping points
    between interchanges), inside the country on a national ground.
    """
    mask = np.zeros(int(np.asarray(ground.node_x_m).shape[0]), dtype=bool)
    for cor in ground.corridors:
        mask[np.asarray(cor.node_idx, dtype=np.int64)] = True
    if ground.scale == "national" and mask.any():
        from planner.ground.boundaries import locate

        on = np.flatnonzero(mask)
        inside = locate(ground.node_lon[on], ground.node_lat[on], ground.country).inside
        mask[on[~np.asarray(inside, dtype=bool)]] = False
    return mask


def _chainage_on(corridor: Corridor, node: int) -> float:
    """Chainage of ``node`` on ``corridor`` (its first visit)."""
    hit = np.flatnonzero(np.asarray(corridor.node_idx) == node)
    return float(np.asarray(corridor.chainage_m)[hit[0]]) if hit.size else 0.0


def _on(corridor: Corridor, service: CorridorSites) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``service`` on ``corridor`` sorted along it, and their chainage on it (a row
    appears once per visit: a ring route passes its joint at both ends)."""
    path = np.asarray(corridor.node_idx, dtype=np.int64)
    chain = np.asarray(corridor.chainage_m, dtype=float)
    row_of = {int(n): i for i, n in enumerate(service.node_idx)}
    visits = [
        (row_of[int(n)], float(c)) for n, c in zip(path, chain, strict=True) if int(n) in row_of
    ]
    rows = np.array([r for r, _ in visits], dtype=np.int64)
    pos = np.array([c for _, c in visits], dtype=float)
    order = np.argsort(pos, kind="stable")
    return rows[order], pos[order]


def busiest_corridors(corridors: tuple[Corridor, ...], top: int) -> list[str]:
    """Ids of the ``top`` corridors with the highest length-weighted mean flow (ties by id)."""
    scored = sorted((-_mean_flow(c), c.corridor_id) for c in corridors)
    return [cid for score, cid in scored[: max(top, 0)] if score < 0]


def _mean_flow(corridor: Corridor) -> float:
    """Length-weighted mean two-way flow of a corridor (0 when unknown)."""
    seg = np.diff(np.asarray(corridor.chainage_m, dtype=float))
    flow = np.nan_to_num(np.asarray(corridor.flow_veh_day, dtype=float), nan=0.0)
    if seg.size == 0 or flow.size != seg.size or seg.sum() <= 0:
        return 0.0
    return float((flow * seg).sum() / seg.sum())


def plan_expressway_swaps(
    corridors: tuple[Corridor, ...],
    service: CorridorSites,
    *,
    top: int,
    spacing_m: float,
    nev_traffic_share: float,
    swap_capable_share: float,
    range_per_pack_km: float,
) -> CorridorSites:
    """Swap stations at service areas of the busiest corridors, at most ``spacing_m`` apart.

    ``value`` holds the swaps per day wanted at each station: the swap-capable NEVs passing
    (``flow x NEV share x swap share``) times the station's stretch (half-way to its neighbours
    and to the corridor ends) over the range of one pack.
    """
    chosen = set(busiest_corridors(corridors, top))
    parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    values: list[np.ndarray] = []
    taken: set[int] = set()  # a junction service area gets one swap station
    for c in corridors:
        on, sa_m = _on(c, service)
        if c.corridor_id not in chosen or not on.size:
            continue
        ends = np.r_[0.0, sa_m, c.length_m]
        pick = min_stations_for_spacing(
            ends, max_gap_m=spacing_m, max_end_gap_m=spacing_m, on_infeasible="bridge"
        )
        pick = pick[(pick > 0) & (pick < ends.size - 1)] - 1  # drop the corridor ends
        if pick.size == 0:
            pick = np.array([int(np.argmin(np.abs(sa_m - c.length_m / 2)))])
        pos_m = sa_m[pick]
        mids = np.r_[0.0, (pos_m[1:] + pos_m[:-1]) / 2, c.length_m]
        stretch_km = np.diff(mids) / 1000.0
        flow = service.flow_veh_day[on][pick]
        nodes = service.node_idx[on][pick]
        new = np.array([int(n) not in taken for n in nodes], dtype=bool)
        taken.update(int(n) for n in nodes)
        values.append(
            (flow * nev_traffic_share * swap_capable_share * stretch_km / range_per_pack_km)[new]
        )
        parts.append((c.corridor_id, nodes[new], pos_m[new], flow[new]))
    return _stack(parts, np.concatenate(values) if values else np.empty(0))


def busy_enough(sites: CorridorSites, min_value: float) -> CorridorSites:
    """The sites whose ``value`` (swaps per day wanted) reaches ``min_value``."""
    keep = sites.value >= min_value
    return CorridorSites(
        sites.corridor[keep],
        sites.node_idx[keep],
        sites.chainage_m[keep],
        sites.flow_veh_day[keep],
        sites.value[keep],
    )


def _stack(
    parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], value: np.ndarray
) -> CorridorSites:
    """Concatenate per-corridor site arrays."""
    if not parts:
        e = np.empty(0)
        return CorridorSites(np.empty(0, dtype=object), np.empty(0, dtype=np.int64), e, e, value)
    corridor = np.concatenate([np.full(p[1].size, p[0], dtype=object) for p in parts])
    node = np.concatenate([p[1] for p in parts]).astype(np.int64)
    return CorridorSites(
        corridor,
        node,
        np.concatenate([p[2] for p in parts]).astype(float),
        np.concatenate([p[3] for p in parts]).astype(float),
        value,
    )


def corridor_table(
    corridors: tuple[Corridor, ...],
    service: CorridorSites,
    swaps: CorridorSites,
    *,
    spacing_m: float,
) -> pd.DataFrame:
    """One row per corridor: length, largest gap between service areas, compliance, counts."""
    rows = []
    for c in corridors:
        on, pos_m = _on(c, service)
        length = c.length_m
        rep = spacing_report(
            pos_m,
            length,
            max_gap_m=spacing_m,
            max_end_gap_m=spacing_m / 2,
            start_m=float(c.chainage_m[0]) if c.chainage_m.size else 0.0,
        )
        rows.append(
            {
                "corridor": c.corridor_id,
                "length_km": length / 1000.0,
                "length_mi": length / M_PER_MI,
                "max_gap_km": rep.max_gap_m / 1000.0,
                "max_gap_mi": rep.max_gap_m / M_PER_MI,
                "start_gap_km": rep.start_gap_m / 1000.0,
                "end_gap_km": rep.end_gap_m / 1000.0,
                "compliant": rep.compliant,
                "stations": int(on.size),
                "stations_arithmetic": max(1, int(np.ceil(length / spacing_m - 1e-9))),
                "swap_stations": int((swaps.corridor == c.corridor_id).sum()),
                "mean_flow_veh_day": _mean_flow(c),
            }
        )
    return pd.DataFrame(rows, columns=list(CORRIDOR_COLUMNS))
