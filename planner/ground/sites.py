"""Sites of a national plan as real places: inside the country, one per point, of real size.

:func:`settle_sites` runs after a strategy has placed its sites on a national ground:

1. **Inside the country.** Each site is located in the state / province polygons
   (:func:`planner.ground.boundaries.locate`). A site outside every polygon moves to the nearest
   free inside spot (below) within :data:`MAX_MOVE_KM`, or is dropped; both are counted.
2. **One site per point.** Sites of one kind at one point are one site: their ports, costs and
   served demand are summed. A site of another kind at an occupied point, or a site without
   ports (a swap station: a unit of capacity), moves to the nearest free spot (the first site at
   a point stays: corridor sites come first).
3. **Real size.** A site with more ports than the country's cap (``us_max_ports_per_site``,
   164, the largest real US site; ``cn_max_piles_per_station``, 258, in ``data/policy_facts.csv``)
   keeps the cap and its other ports go to the next-best free spots as sites of their own, ports
   split evenly (DC and AC each exactly) and costs and served demand with them.
4. **Labels.** ``state`` is the region of the polygon each site stands in and ``iso_3166_2``
   its ISO 3166-2 code.

A corridor site outside the country moves along its own corridor's line to the nearest point
inside (100 m in from the border: a station cannot stand at sea, so an embedded chord across a
strait keeps no station there). A free spot of a corridor site is the nearest corridor node
(an interchange) not taken; of any other site the centre of the nearest H3 resolution-8 cell
(~0.74 km2, centres ~0.8 km apart) around it, in the same region, that no site holds. Spilled
sites keep the ``node_idx`` of the site they came from (national grounds measure distances
straight-line, from ``x_m``/``y_m``).
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
import shapely
import shapely.ops
from pyproj import Transformer
from scipy.spatial import cKDTree

from planner.ground.boundaries import locate

if TYPE_CHECKING:
    from planner.ground.model import Ground
    from planner.strategies.base import Plan

logger = logging.getLogger(__name__)

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
#: How far inside the border a corridor site brought ashore stands, metres.
_ASHORE_M = 100.0
_DECIMALS = 6  # a point is its lon/lat rounded as the exported GeoJSON rounds it


def max_ports_per_site(country: str) -> int:
    """The cap of ports at one site of ``country`` (its row of ``data/policy_facts.csv``)."""
    from planner.io.facts import fact_value

    return int(fact_value(_cap_fact(country)))


def _cap_fact(country: str) -> str:
    """The policy fact capping one site's ports in ``country`` (the fallback country's if the
    country is not registered)."""
    from planner.countries import FALLBACK, country_codes, get_country

    return get_country(country if country in country_codes() else FALLBACK).max_ports_fact


def _key(lon: float, lat: float) -> tuple[float, float]:
    return (round(float(lon), _DECIMALS), round(float(lat), _DECIMALS))


class _Spots:
    """Free spots for moved and spilled sites; remembers every point taken."""

    def __init__(self, ground: Ground, taken: set[tuple[float, float]]) -> None:
        self.ground, self.taken, self.country = ground, taken, ground.country
        paths = {c.corridor_id: np.asarray(c.node_idx, np.int64) for c in ground.corridors}
        self.paths = dict(paths)
        self.land: shapely.Geometry | None = None
        self.to_lonlat = Transformer.from_crs(ground.crs, "EPSG:4326", always_xy=True)
        paths[""] = np.concatenate([np.zeros(0, np.int64), *paths.values()])
        self.pools: dict[str, tuple[np.ndarray, cKDTree | None]] = {}
        for cid, path in paths.items():
            nodes = np.unique(path)
            nodes = nodes[
                locate(ground.node_lon[nodes], ground.node_lat[nodes], self.country).inside
            ]
            xy = np.column_stack([ground.node_x_m[nodes], ground.node_y_m[nodes]])
            self.pools[cid] = (nodes, cKDTree(xy) if nodes.size else None)

    def ashore(self, x_m: float, y_m: float, corridor_id: str) -> tuple[float, float, int] | None:
        """The point of corridor ``corridor_id``'s line nearest ``(x_m, y_m)`` that lies inside
        the country, :data:`_ASHORE_M` in from the border: ``(lon, lat, -1)``, or None."""
        path = self.paths.get(corridor_id)
        if path is None or path.size < 2:
            return None
        if self.land is None:
            from planner.ground.boundaries import load_boundaries

            land = load_boundaries(self.country).to_crs(self.ground.crs).union_all()
            self.land = shapely.buffer(land, -_ASHORE_M)
            shapely.prepare(self.land)
        line = shapely.linestrings(self.ground.node_x_m[path], self.ground.node_y_m[path])
        on_land = shapely.intersection(line, self.land)
        if on_land.is_empty:
            return None
        spot = shapely.ops.nearest_points(on_land, shapely.Point(x_m, y_m))[0]
        lon, lat = self.to_lonlat.transform(spot.x, spot.y)
        key = _key(lon, lat)
        if key in self.taken or not locate([lon], [lat], self.country).inside[0]:
            return None
        self.taken.add(key)
        return (*key, -1)

    def corridor(
        self, x_m: float, y_m: float, n: int, corridor_id: str
    ) -> list[tuple[float, float, int]]:
        """Up to ``n`` free nodes of corridor ``corridor_id`` (of any corridor if it is not one)
        nearest ``(x_m, y_m)``: ``(lon, lat, node)``."""
        out: list[tuple[float, float, int]] = []
        nodes, tree = self.pools.get(corridor_id, self.pools[""])
        if tree is None:
            return out
        k = min(nodes.size, max(8, 4 * n))
        dist, idx = tree.query([x_m, y_m], k=k)
        for d, i in zip(np.atleast_1d(dist), np.atleast_1d(idx), strict=True):
            node = int(nodes[i])
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
        origin = [
            h3.latlng_to_cell(float(lat[i]), float(lon[i]), H3_RESOLUTION) for i in range(len(n))
        ]
        done = dict.fromkeys(todo, 0)
        k = {i: max(1, math.ceil(math.sqrt(int(n[i]) / 3))) for i in todo}
        while todo:
            owner, cells = [], []
            for i in todo:
                ring_cells = [
                    c for r in range(done[i], k[i] + 1) for c in h3.grid_ring(origin[i], r)
                ]
                owner += [i] * len(ring_cells)
                cells += ring_cells
            centres = np.array([h3.cell_to_latlng(c) for c in cells]).reshape(-1, 2)
            where = locate(centres[:, 1], centres[:, 0], self.country).region
            lons = np.round(centres[:, 1], _DECIMALS).tolist()
            lats = np.round(centres[:, 0], _DECIMALS).tolist()
            for i, lon_c, lat_c, got in zip(owner, lons, lats, where, strict=True):
                want = str(region[i])
                if len(out[i]) >= n[i] or got == "" or (want and got != want):
                    continue
                if (lon_c, lat_c) in self.taken:
                    continue
                self.taken.add((lon_c, lat_c))
                out[i].append((lon_c, lat_c, -1))
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
        A ground whose demand mostly lies outside its country (a synthetic ground) is not on the
        map: its sites come back unchanged with no figures.
    """
    if not _on_the_map(ground):
        return sites, {}
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
    where = _where(frame, ground.country)
    frame["state"] = where.region
    frame["iso_3166_2"] = where.iso_3166_2
    ports = frame["ports"].to_numpy(dtype=float)
    ports = ports[ports > 0]
    info = {
        "site_places": {
            "max_ports_per_site": cap,
            "max_ports_source": f"data/policy_facts.csv {_cap_fact(ground.country)}",
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
            **{f"ground_{k}": v for k, v in _ground_outside(ground).items()},
        },
    }
    logger.info("national sites: %s", info["site_places"])
    return frame, info


def _on_the_map(ground: Ground) -> bool:
    """Whether the ground is on its country's map: its demand's regions are the country's and
    most of its demand stands inside (a synthetic ground, e.g. of the tests, is left as its
    strategy planned it)."""
    from planner.ground.boundaries import load_boundaries

    d = ground.demand
    codes = set(np.asarray(d.region, dtype=str).tolist()) - {""}
    if d.lon.size == 0 or not codes <= set(load_boundaries(ground.country)["region"]):
        return False
    share = float(locate(d.lon, d.lat, ground.country).inside.mean())
    if share < 0.5:
        logger.info("%s: %.0f %% of the demand in %s: sites not settled", ground.name,
                    100 * share, ground.country)  # fmt: skip
    return share >= 0.5


def _ground_outside(ground: Ground) -> dict[str, Any]:
    """The ground's own outside-country counts (demand moved/dropped, candidates dropped)."""
    value = ground.meta.get("outside_country", {})
    return dict(value) if isinstance(value, dict) else {}


def _where(frame: pd.DataFrame, country: str) -> Any:
    return locate(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), country)


def _place(
    frame: pd.DataFrame, rows: list[list[int]], found: list[list[tuple[float, float, int]]]
) -> None:
    """Write each ``found[j]`` spots ``(lon, lat, node)`` into ``rows[j]`` of ``frame`` (node -1:
    keep ``node_idx``); rows without a spot stay where they are."""
    pairs = [
        (r, f) for rr, ff in zip(rows, found, strict=True) for r, f in zip(rr, ff, strict=False)
    ]
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
    corridor = frame["corridor"].astype(str).to_numpy()[rows]
    x, y = frame["x_m"].to_numpy(float), frame["y_m"].to_numpy(float)
    need = np.asarray(n, dtype=np.int64).copy()
    for j in np.flatnonzero(corridor != "").tolist():
        found[j] = spots.corridor(x[rows[j]], y[rows[j]], int(need[j]), str(corridor[j]))
        need[j] -= len(found[j])
    lon, lat = frame["lon"].to_numpy(float)[rows], frame["lat"].to_numpy(float)[rows]
    more = spots.cells(lon, lat, need, region)
    return [a + b for a, b in zip(found, more, strict=True)]


def _inside(frame: pd.DataFrame, spots: _Spots) -> tuple[pd.DataFrame, int, int]:
    """Move sites outside the country to the nearest free inside spot; drop those without one."""
    where = _where(frame, spots.country)
    for lon, lat in frame.loc[where.inside, ["lon", "lat"]].to_numpy():
        spots.taken.add(_key(lon, lat))
    outside = np.flatnonzero(~where.inside)
    # corridor sites go ashore along their own road; other sites (and those without a way
    # ashore) to the nearest free spot
    x, y = frame["x_m"].to_numpy(float), frame["y_m"].to_numpy(float)
    corridor = frame["corridor"].astype(str).to_numpy()
    ashore = {int(r): spots.ashore(x[r], y[r], corridor[r]) for r in outside if corridor[r]}
    rest = np.array([r for r in outside if ashore.get(int(r)) is None], dtype=np.int64)
    found = _find(spots, frame, rest, np.ones(rest.size, np.int64), where.region[rest])
    found = [[a] for a in ashore.values() if a is not None] + found
    rows = [r for r, a in ashore.items() if a is not None] + rest.tolist()
    drop = [int(r) for r, f in zip(rows, found, strict=True) if not f]
    _place(frame, [[r] for r in rows], found)
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
    # a site without ports (a swap station) is a unit of its own: it moves rather than merges
    unit = (frame["ports"].to_numpy() == 0) & key.duplicated().to_numpy()
    other = np.flatnonzero((frame["kind"] != first_kind).to_numpy() | unit)
    region = locate(
        frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), spots.country
    ).region
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
    split = np.repeat(parts > 1, parts)
    share = np.where(split, new_ports / np.repeat(np.maximum(ports, 1), parts), 1.0)
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
    region = locate(
        frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), spots.country
    ).region
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
    if len(frame) == 0:
        return
    x, y = Transformer.from_crs("EPSG:4326", ground.crs, always_xy=True).transform(
        frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    )
    frame["x_m"], frame["y_m"] = np.asarray(x), np.asarray(y)


def settle_plan(plan: Plan) -> Plan:
    """:func:`settle_sites` on a national plan's sites; the figures go into its summary."""
    if getattr(plan.ground, "scale", None) != "national" or "site_places" in plan.summary:
        return plan
    sites, info = settle_sites(plan.ground, plan.sites)
    return dataclasses.replace(plan, sites=sites, summary={**plan.summary, **info})


__all__ = ["max_ports_per_site", "settle_plan", "settle_sites"]
