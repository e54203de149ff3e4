"""Sites of a national plan as real places: inside the country, one per point, of real size.

:func:`settle_sites` runs after a strategy has placed its sites on a national ground:

1. **Inside the country.** Each site is located in the state / province polygons
   (:func:`planner.boundaries.locate`). A site outside every polygon moves to the nearest free
   inside spot (below) within :data:`MAX_MOVE_KM`, or is dropped; both are counted.
2. **One site per point.** Sites of one kind at one point are one site: their ports, costs and
   served demand are summed. A site of another kind at an occupied point moves to the nearest
   free spot (the first site at a point stays: corridor sites come first).
3. **Real size.** A site with more ports than the country's cap (``us_max_ports_per_site``,
   164, the largest real US site; ``cn_max_piles_per_station``, 258, in ``data/policy_facts.csv``)
   keeps the cap and its other ports go to the next-best free spots as sites of their own, ports
   split evenly (DC and AC each exactly) and costs and served demand with them.
4. **Labels.** ``state`` is the region of the polygon each site stands in and ``iso_3166_2``
   its ISO 3166-2 code.

A free spot of a corridor site is the nearest corridor node (an interchange) not taken; of any
other site the centre of the nearest H3 resolution-8 cell (~0.74 km2, centres ~0.8 km apart)
around it, in the same region, that no site holds. Spilled sites keep the ``node_idx`` of the
site they came from (national grounds measure distances straight-line, from ``x_m``/``y_m``).
Totals are unchanged: every port, DC port and currency unit of the strategy's table is kept.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import TYPE_CHECKING, Any

import h3
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from planner.boundaries import locate

if TYPE_CHECKING:
    from planner.ground import Ground
    from planner.strategies.base import Plan

logger = logging.getLogger(__name__)

CAP_FACTS = {"us": "us_max_ports_per_site", "cn": "cn_max_piles_per_station"}
#: Columns summed when sites merge and split in proportion to ports when a site is split.
ADDITIVE = (
    "demand_served",
    "capex_usd",
    "capex_cny",
    "ev_stops_day",
    "capacity_swaps_day",
    "assigned_swaps_day",
)
_PORT_COLUMNS = ("ports", "dc_ports", "ac_ports", "dc_piles", "ac_piles")
H3_RESOLUTION = 8
MAX_MOVE_KM = 100.0
_DECIMALS = 6  # a point is its lon/lat rounded as the exported GeoJSON rounds it


def max_ports_per_site(country: str) -> int:
    """The cap of ports at one site of ``country`` (its row of ``data/policy_facts.csv``)."""
    from planner.facts import fact_value

    return int(fact_value(CAP_FACTS.get(country, CAP_FACTS["us"])))


def _key(lon: float, lat: float) -> tuple[float, float]:
    return (round(float(lon), _DECIMALS), round(float(lat), _DECIMALS))


class _Spots:
    """Free spots for moved and spilled sites; remembers every point taken."""

    def __init__(self, ground: Ground, taken: set[tuple[float, float]]) -> None:
        self.ground, self.taken, self.country = ground, taken, ground.country
        nodes = np.unique(
            np.concatenate([np.asarray(c.node_idx, np.int64) for c in ground.corridors] or [[]])
        ).astype(np.int64)
        if nodes.size:
            nodes = nodes[locate(ground.node_lon[nodes], ground.node_lat[nodes], self.country).inside]
        self.corridor_nodes = nodes
        self.tree = (
            cKDTree(np.column_stack([ground.node_x_m[nodes], ground.node_y_m[nodes]]))
            if nodes.size
            else None
        )

    def corridor(self, x_m: float, y_m: float, n: int) -> list[tuple[float, float, int]]:
        """Up to ``n`` free corridor nodes nearest ``(x_m, y_m)``: ``(lon, lat, node)``."""
        out: list[tuple[float, float, int]] = []
        if self.tree is None:
            return out
        k = min(self.corridor_nodes.size, max(8, 4 * n))
        dist, idx = self.tree.query([x_m, y_m], k=k)
        for d, i in zip(np.atleast_1d(dist), np.atleast_1d(idx), strict=True):
            node = int(self.corridor_nodes[i])
            key = _key(self.ground.node_lon[node], self.ground.node_lat[node])
            if d > MAX_MOVE_KM * 1000.0 or key in self.taken:
                continue
            self.taken.add(key)
            out.append((*key, node))
            if len(out) == n:
                break
        return out

    def cells(
        self, lon: np.ndarray, lat: np.ndarray, n: np.ndarray, region: np.ndarray
    ) -> list[list[tuple[float, float, int]]]:
        """For each origin, up to ``n`` free H3 cell centres nearest it in its ``region`` (any
        region where ``""``), nearest rings first: ``(lon, lat, -1)``."""
        out: list[list[tuple[float, float, int]]] = [[] for _ in range(len(n))]
        todo = [i for i in range(len(n)) if n[i] > 0]
        origin = [h3.latlng_to_cell(float(lat[i]), float(lon[i]), H3_RESOLUTION) for i in range(len(n))]
        done = dict.fromkeys(todo, 0)
        k = {i: max(1, math.ceil(math.sqrt(2 * int(n[i]) / 3)) + 1) for i in todo}
        while todo:
            owner, cells = [], []
            for i in todo:
                ring_cells = [c for r in range(done[i], k[i] + 1) for c in h3.grid_ring(origin[i], r)]
                owner += [i] * len(ring_cells)
                cells += ring_cells
            centres = np.array([h3.cell_to_latlng(c) for c in cells]).reshape(-1, 2)
            where = locate(centres[:, 1], centres[:, 0], self.country).region
            for i, (lat_c, lon_c), got in zip(owner, centres.tolist(), where, strict=True):
                key = _key(lon_c, lat_c)
                want = str(region[i])
                if len(out[i]) >= n[i] or got == "" or (want and got != want) or key in self.taken:
                    continue
                self.taken.add(key)
                out[i].append((*key, -1))
            for i in todo:
                done[i], k[i] = k[i] + 1, 2 * k[i]
            todo = [i for i in todo if len(out[i]) < n[i] and k[i] <= 260]  # ~MAX_MOVE_KM
        return out


def settle_sites(
    ground: Ground, sites: pd.DataFrame, *, max_ports: int | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Make the sites of a national plan distinct, inside the country and capped (module text).

    Parameters
    ----------
    ground
        The national ground the sites stand on.
    sites
        The strategy's site table (``planner.strategies.base.SITE_COLUMNS`` and more).
    max_ports
        Ports a site may hold; the country's sourced cap (:func:`max_ports_per_site`) if None.

    Returns
    -------
    tuple
        The new site table (with ``iso_3166_2``) and the figures for the plan's summary:
        ``site_places`` (cap, merges, moves, splits, ports per site) and ``outside_country``.
    """
    cap = max_ports_per_site(ground.country) if max_ports is None else int(max_ports)
    frame = sites.copy()
    frame["_order"] = np.where(frame["corridor"].astype(str) != "", 0, 1)
    frame = frame.sort_values("_order", kind="stable").drop(columns="_order")
    frame = frame.reset_index(drop=True)
    n0 = len(frame)
    taken: set[tuple[float, float]] = set()
    spots = _Spots(ground, taken)
    frame, moved_out, dropped = _inside(frame, spots)
    frame, merged, moved_apart = _one_per_point(frame, spots)
    frame, added = _cap(frame, spots, cap)
    where = locate(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), ground.country)
    frame["state"] = where.region
    frame["iso_3166_2"] = where.iso_3166_2
    ports = frame["ports"].to_numpy(dtype=float)
    ports = ports[ports > 0]
    info = {
        "site_places": {
            "max_ports_per_site": cap,
            "max_ports_source": f"data/policy_facts.csv {CAP_FACTS.get(ground.country, '')}",
            "sites_from_strategy": n0,
            "sites": len(frame),
            "merged_same_point": merged,
            "moved_off_occupied_point": moved_apart,
            "added_by_cap": added,
            "ports_per_site": {
                "median": float(np.median(ports)) if ports.size else 0.0,
                "p95": float(np.percentile(ports, 95)) if ports.size else 0.0,
                "max": int(ports.max()) if ports.size else 0,
            },
        },
        "outside_country": {
            "moved": moved_out,
            "dropped": dropped,
            **{f"ground_{k}": v for k, v in ground.meta.get("outside_country", {}).items()},
        },
    }
    logger.info("national sites: %s", info["site_places"])
    return frame, info


def _place(
    frame: pd.DataFrame, rows: list[list[int]], found: list[list[tuple[float, float, int]]]
) -> None:
    """Write each ``found[j]`` spots ``(lon, lat, node)`` into ``rows[j]`` of ``frame`` (node -1:
    keep ``node_idx``); rows without a spot stay where they are."""
    pairs = [(r, f) for rr, ff in zip(rows, found, strict=True) for r, f in zip(rr, ff, strict=False)]
    if not pairs:
        return
    rows_at = np.array([r for r, _ in pairs], dtype=np.int64)
    spot = np.array([f for _, f in pairs], dtype=float).reshape(-1, 3)
    lon, lat = frame["lon"].to_numpy(float).copy(), frame["lat"].to_numpy(float).copy()
    node = frame["node_idx"].to_numpy(np.int64).copy()
    lon[rows_at], lat[rows_at] = spot[:, 0], spot[:, 1]
    node[rows_at] = np.where(spot[:, 2] >= 0, spot[:, 2], node[rows_at]).astype(np.int64)
    frame["lon"], frame["lat"], frame["node_idx"] = lon, lat, node


def _find(
    spots: _Spots, frame: pd.DataFrame, rows: np.ndarray, n: np.ndarray, region: np.ndarray
) -> list[list[tuple[float, float, int]]]:
    """Free spots for ``n[j]`` sites near each of ``rows`` (corridor sites: corridor nodes)."""
    found: list[list[tuple[float, float, int]]] = [[] for _ in range(rows.size)]
    corridor = frame["corridor"].astype(str).to_numpy()[rows] != ""
    x, y = frame["x_m"].to_numpy(float), frame["y_m"].to_numpy(float)
    need = np.asarray(n, dtype=np.int64).copy()
    for j in np.flatnonzero(corridor).tolist():
        found[j] = spots.corridor(x[rows[j]], y[rows[j]], int(need[j]))
        need[j] -= len(found[j])
    lon, lat = frame["lon"].to_numpy(float)[rows], frame["lat"].to_numpy(float)[rows]
    more = spots.cells(lon, lat, need, region)
    return [a + b for a, b in zip(found, more, strict=True)]


def _inside(frame: pd.DataFrame, spots: _Spots) -> tuple[pd.DataFrame, int, int]:
    """Move sites outside the country to the nearest free inside spot; drop those without one."""
    where = locate(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), spots.country)
    for lon, lat in frame.loc[where.inside, ["lon", "lat"]].to_numpy():
        spots.taken.add(_key(lon, lat))
    outside = np.flatnonzero(~where.inside)
    found = _find(spots, frame, outside, np.ones(outside.size, np.int64), where.region[outside])
    drop = [int(r) for r, f in zip(outside, found, strict=True) if not f]
    _place(frame, [[r] for r in outside.tolist()], found)
    frame = frame.drop(index=drop).reset_index(drop=True)
    _reproject(frame, spots.ground)
    return frame, outside.size - len(drop), len(drop)


def _point_key(frame: pd.DataFrame) -> pd.Series:
    return (
        frame["lon"].round(_DECIMALS).astype(str) + "," + frame["lat"].round(_DECIMALS).astype(str)
    )


def _one_per_point(frame: pd.DataFrame, spots: _Spots) -> tuple[pd.DataFrame, int, int]:
    """Merge same-kind sites at one point; move other kinds off an occupied point."""
    key = _point_key(frame)
    first_kind = frame.groupby(key, sort=False)["kind"].transform("first")
    other = np.flatnonzero((frame["kind"] != first_kind).to_numpy())
    region = locate(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), spots.country).region
    found = _find(spots, frame, other, np.ones(other.size, np.int64), region[other])
    _place(frame, [[r] for r in other.tolist()], found)
    _reproject(frame, spots.ground)
    key = _point_key(frame)
    sums = [c for c in (*_PORT_COLUMNS, *ADDITIVE) if c in frame.columns]
    totals = frame.groupby(key, sort=False)[sums].sum()
    merged = frame.loc[~key.duplicated()].copy()
    merged[sums] = totals.loc[key[~key.duplicated()].to_numpy()].to_numpy()
    for col in _PORT_COLUMNS:
        if col in merged.columns:
            merged[col] = merged[col].astype(np.int64)
    return merged.reset_index(drop=True), len(frame) - len(merged), int(other.size)


def _even(total: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Split each ``total`` into ``parts`` near-equal integers, larger ones first (flattened)."""
    idx = np.repeat(np.arange(total.size), parts)
    j = np.arange(idx.size) - np.repeat(np.cumsum(parts) - parts, parts)
    return total[idx] // parts[idx] + (j < total[idx] % parts[idx])


def _cap(frame: pd.DataFrame, spots: _Spots, cap: int) -> tuple[pd.DataFrame, int]:
    """Split sites above ``cap`` ports into even parts; move the extra parts to free spots."""
    ports = frame["ports"].to_numpy(dtype=np.int64)
    parts = np.maximum(1, -(-ports // cap))
    if (parts == 1).all():
        return frame, 0
    out = frame.loc[np.repeat(frame.index.to_numpy(), parts)].reset_index(drop=True)
    j = np.arange(len(out)) - np.repeat(np.cumsum(parts) - parts, parts)
    new_ports = _even(ports, parts)
    share = new_ports / np.repeat(np.maximum(ports, 1), parts)
    for col in ("dc_ports", "dc_piles"):
        if col in out.columns:
            out[col] = _even(frame[col].to_numpy(dtype=np.int64), parts)
    out["ports"] = new_ports
    out["ac_ports"] = new_ports - out["dc_ports"].to_numpy()
    if "ac_piles" in out.columns:
        out["ac_piles"] = new_ports - out["dc_piles"].to_numpy()
    for col in ADDITIVE:
        if col in out.columns:
            out[col] = out[col].to_numpy(dtype=float) * share
    out["site_id"] = [f"{s}-{k + 1}" if k else s for s, k in zip(out["site_id"], j, strict=True)]
    region = locate(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), spots.country).region
    big = np.flatnonzero(parts > 1)
    found = _find(spots, frame, big, parts[big] - 1, region[big])
    starts = np.cumsum(parts) - parts
    rows = [list(range(int(starts[r]) + 1, int(starts[r] + parts[r]))) for r in big.tolist()]
    short = sum(len(r) - len(f) for r, f in zip(rows, found, strict=True))
    if short:
        logger.warning("%d split sites found no free spot and stay at their origin", short)
    _place(out, rows, found)
    _reproject(out, spots.ground)
    return out, int(parts.sum() - parts.size)


def _reproject(frame: pd.DataFrame, ground: Ground) -> None:
    """Recompute ``x_m``/``y_m`` from ``lon``/``lat`` in the ground's CRS."""
    from pyproj import Transformer

    if len(frame) == 0:
        return
    x, y = Transformer.from_crs("EPSG:4326", ground.crs, always_xy=True).transform(
        frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    )
    frame["x_m"], frame["y_m"] = np.asarray(x), np.asarray(y)


def settle_plan(plan: Plan) -> Plan:
    """:func:`settle_sites` on a national plan's sites; the figures go into its summary."""
    if plan.ground.scale != "national" or "site_places" in plan.summary:
        return plan
    sites, info = settle_sites(plan.ground, plan.sites)
    return dataclasses.replace(plan, sites=sites, summary={**plan.summary, **info})


__all__ = ["CAP_FACTS", "max_ports_per_site", "settle_plan", "settle_sites"]
