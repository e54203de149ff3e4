"""National corridor networks on real geometry: US Interstates and China's National Expressways.

The geometry is the Travel Mapping waypoint table ``data/highway_waypoints.csv.gz`` (one waypoint
per interchange, placed on OpenStreetMap; derived by ``scripts/derive_highways.py``). Highway
data: Travel Mapping project (travelmapping.net) and OpenStreetMap contributors (ODbL 1.0).
:func:`load_corridor_network` turns it into one graph per country:

1. each Travel Mapping route piece (a connected route: one route number, or one part of a route
   number interrupted by another road) is its segments joined in order, every segment turned to
   continue where the previous one ends;
2. waypoints at the same point (to 1e-5 degrees, about a metre) are one node, so routes that
   cross or run together share their junction and concurrency nodes;
3. an edge joins consecutive waypoints of a piece; its length is the geodesic (WGS84 ellipsoid)
   distance between them, so a route's length is measured on its real polyline.

A node is an *exit* (a station candidate) when one of its waypoints is an interchange (not a
hidden shaping point) inside the country's state / province polygons.

Official lengths come from ``us_interstates.csv`` and ``cn_expressways.csv`` (with sources); the
``pieces`` column names the modelled pieces that make each official route.
:func:`route_length_report` compares them.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from planner.core.errors import DataError, InputError, describe
from planner.core.units import KM_PER_MI
from planner.countries import ByCountry, country_codes, get_country

logger = logging.getLogger(__name__)


#: Projected metric CRS of each country's corridor network (equal-area Albers), by code.
CRS: Mapping[str, str] = ByCountry("crs")  # type: ignore[assignment]

#: Tolerance of the length check: a modelled route is accepted within +-3 % of its official length.
LENGTH_TOLERANCE = 0.03

#: Attribution of the highway geometry, for exports and maps.
ATTRIBUTION = (
    "Highway data: Travel Mapping project (travelmapping.net) and OpenStreetMap contributors "
    "(ODbL 1.0)"
)

#: The shipped waypoint table (a country profile may name its own, ``waypoint_file``).
WAYPOINT_TABLE = "highway_waypoints.csv.gz"
# Travel Mapping labels a route's end at an international border with both codes: "USA/CAN",
# "MEX/USA", "CHN/HKG", "AK/YT".
_BORDER_LABEL = re.compile(r"^[A-Z]{2,3}/[A-Z]{2,3}$")
_WAYPOINT_COLUMNS = (
    "country", "piece", "route", "group", "root_pos", "root", "seq", "label", "hidden",
    "in_country", "region", "lon", "lat",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class Route:
    """One corridor route: an ordered path of nodes of its :class:`CorridorNetwork`.

    Attributes
    ----------
    route_id
        Route id, e.g. ``"I-70"``, ``"I-84 (Oregon - Utah)"`` (a route number with several pieces
        carries the piece's name), ``"G4"``.
    name
        Human-readable name.
    official_length_km
        Official length of the route when this piece alone makes it, else ``nan``.
    length_source
        Where the official length comes from, ``""`` when there is none.
    node_idx
        Node indices in route order; consecutive nodes are joined by an edge of the network.
    chainage_m
        Modelled distance along the route at each node in metres, from 0, strictly increasing.
    control_cities
        Kept for compatibility (the former chord networks); empty for waypoint networks.
    official_route
        Id of the official route (row of the length table) this piece belongs to, ``""`` if none.
    """

    route_id: str
    name: str
    official_length_km: float
    length_source: str
    node_idx: np.ndarray
    chainage_m: np.ndarray
    control_cities: tuple[str, ...] = ()
    official_route: str = ""

    @property
    def length_km(self) -> float:
        """Modelled length in kilometres."""
        return float(self.chainage_m[-1]) / 1000.0 if self.chainage_m.size else 0.0

    @property
    def verified(self) -> bool:
        """Whether the official length has a source."""
        src = self.length_source.lower()
        return bool(src) and not src.startswith("unverified")


@dataclass(frozen=True, eq=False)
class CorridorNetwork:
    """A national corridor graph in a projected metric CRS.

    Attributes
    ----------
    country
        ``"us"`` or ``"cn"``.
    crs
        Projected CRS of ``node_x_m``/``node_y_m`` (see :data:`CRS`).
    node_name
        Object array: the waypoint label (exit number or crossing road, ``"25A"``, ``"I-278"``),
        ``""`` for networks read from a PBF.
    node_lon, node_lat
        WGS84 coordinates in degrees.
    node_x_m, node_y_m
        Projected coordinates in metres.
    node_region
        State / province code of each node (``"OH"``, ``"HE"``).
    length_m
        ``(n, n)`` symmetric CSR matrix of edge lengths in metres.
    routes
        The routes, in table order.
    node_exit
        Boolean: the node is a station candidate (an interchange inside the country); ``None``
        means every node is one (networks read from a PBF).
    attribution
        Credit line of the geometry.
    """

    country: str
    crs: str
    node_name: np.ndarray
    node_lon: np.ndarray
    node_lat: np.ndarray
    node_x_m: np.ndarray
    node_y_m: np.ndarray
    node_region: np.ndarray
    length_m: sp.csr_array
    routes: tuple[Route, ...]
    node_exit: np.ndarray | None = field(default=None)
    attribution: str = "OpenStreetMap contributors (ODbL 1.0)"

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_x_m.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return int(sp.triu(self.length_m, k=1).nnz)

    def exits(self) -> np.ndarray:
        """Boolean mask of the station-candidate nodes."""
        if self.node_exit is None:
            return np.ones(self.n_nodes, dtype=bool)
        return np.asarray(self.node_exit, dtype=bool)

    def route(self, route_id: str) -> Route:
        """Return the route ``route_id``; raise :class:`InputError` if there is none."""
        for r in self.routes:
            if r.route_id == route_id:
                return r
        raise InputError(
            f"route_id: expected one of the {len(self.routes)} routes of this network "
            f"(e.g. {self.routes[0].route_id!r}), got {route_id!r}"
        )


def load_corridor_network(
    country: str, *, waypoints: pd.DataFrame | None = None
) -> CorridorNetwork:
    """Build the corridor network of ``country`` from the shipped waypoint table.

    Parameters
    ----------
    country
        ``"us"`` (primary Interstates of the 50 states and DC) or ``"cn"`` (China's one- and
        two-digit National Expressways, mainland).
    waypoints
        A waypoint table with the columns of ``data/highway_waypoints.csv.gz`` (see
        :func:`read_waypoints`); ``None`` reads the shipped one.

    Returns
    -------
    CorridorNetwork
    """
    code = _check_country(country)
    table = read_waypoints(code) if waypoints is None else waypoints
    crs = get_country(code).crs
    return build_corridor_network(table, read_route_table(code), country=code, crs=crs)


def read_waypoints(country: str) -> pd.DataFrame:
    """Return the shipped waypoints of ``country`` (columns as in ``highway_waypoints.csv.gz``)."""
    code = _check_country(country)
    path = get_country(code).path(get_country(code).waypoint_file)
    table = pd.read_csv(path, dtype={"label": str, "group": str}, keep_default_na=False)
    missing = [c for c in _WAYPOINT_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(
            f"{path.name}: expected columns {list(_WAYPOINT_COLUMNS)}, missing {missing}"
        )
    return table[table["country"] == code].reset_index(drop=True)


def read_route_table(country: str) -> pd.DataFrame:
    """Return the shipped official-length table of ``country`` with unified columns.

    Columns: ``route_id``, ``name``, ``official_length_km``, ``length_source``, ``pieces`` (the
    modelled route ids that make the official route, a tuple), ``length_check`` (``""`` when the
    route is held to the +-3 % length check, else why it is not).
    """
    profile = get_country(_check_country(country))
    path = profile.path(profile.route_table)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    length = f"official_length_{profile.route_length_unit}"
    needed = ["route_id", "name", "length_source", "pieces", length]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise DataError(f"{path.name}: expected columns {needed}, missing {missing}")
    km = pd.to_numeric(raw[length], errors="coerce")
    if profile.route_length_unit == "mi":
        km = km * KM_PER_MI
    table = pd.DataFrame(
        {
            "route_id": raw["route_id"],
            "name": raw["name"],
            "official_length_km": km.astype(float),
            "length_source": raw["length_source"],
            "pieces": [tuple(p.strip() for p in s.split(";") if p.strip()) for s in raw["pieces"]],
            "length_check": raw.get("length_check", ""),
        }
    )
    bad = table.loc[~(table["official_length_km"] > 0), "route_id"].tolist()
    if bad:
        raise DataError(f"{path.name}: expected a positive official length, rows {bad} lack one")
    if not table["route_id"].is_unique:
        raise DataError(f"{path.name}: route_id values must be unique")
    return table


def build_corridor_network(
    waypoints: pd.DataFrame, lengths: pd.DataFrame, *, country: str, crs: str
) -> CorridorNetwork:
    """Build a corridor graph from a waypoint table and an official-length table.

    Parameters
    ----------
    waypoints
        One country's waypoints (columns as in :func:`read_waypoints`).
    lengths
        Official lengths (columns as returned by :func:`read_route_table`).
    country
        Country code stored on the network.
    crs
        Projected metric CRS of the node coordinates.

    Returns
    -------
    CorridorNetwork
    """
    if len(waypoints) == 0:
        raise InputError(f"waypoints: expected the waypoints of {country!r}, got an empty table")
    # 1. each piece: its segments in order, each turned to continue the previous one
    pieces = [_trim_abroad(_piece_order(g)) for _, g in waypoints.groupby("piece", sort=True)]
    ordered = pd.concat(pieces, ignore_index=True)
    # 2. waypoints at one point (1e-5 degrees) are one node
    key = np.round(ordered["lon"].to_numpy(float) * 1e5).astype(np.int64) * 100_000_000 + np.round(
        (ordered["lat"].to_numpy(float) + 90.0) * 1e5
    ).astype(np.int64)
    uniq, first, node_of = np.unique(key, return_index=True, return_inverse=True)
    exit_wp = (ordered["hidden"].to_numpy() == 0) & (ordered["in_country"].to_numpy() == 1)
    node_exit = np.bincount(node_of, weights=exit_wp, minlength=uniq.size) > 0
    lon = ordered["lon"].to_numpy(float)[first]
    lat = ordered["lat"].to_numpy(float)[first]
    x, y = _project(lon, lat, "EPSG:4326", crs)
    # 3. edges between consecutive waypoints of a piece, geodesic lengths
    routes, edges = _routes_and_edges(ordered, node_of, lengths)
    n = uniq.size
    uv = np.array(list(edges), dtype=np.int64).reshape(-1, 2)
    w = np.fromiter(edges.values(), float, len(edges))
    length = sp.csr_array(
        (np.r_[w, w], (np.r_[uv[:, 0], uv[:, 1]], np.r_[uv[:, 1], uv[:, 0]])), shape=(n, n)
    )
    net = CorridorNetwork(
        country=country,
        crs=crs,
        node_name=ordered["label"].astype(str).to_numpy(object)[first],
        node_lon=lon,
        node_lat=lat,
        node_x_m=x,
        node_y_m=y,
        node_region=ordered["region"].astype(str).to_numpy(object)[first],
        length_m=length,
        routes=tuple(routes),
        node_exit=node_exit,
        attribution=ATTRIBUTION,
    )
    logger.debug(
        "%s corridor network: %d nodes (%d exits), %d edges, %d routes",
        country, net.n_nodes, int(node_exit.sum()), net.n_edges, len(routes),
    )  # fmt: skip
    return net


def _piece_order(piece: pd.DataFrame) -> pd.DataFrame:
    """Rows of one piece in route order: segments by ``root_pos``, each turned to join the last."""
    segments = [g.sort_values("seq") for _, g in piece.groupby("root_pos", sort=True)]
    if len(segments) > 1:
        # turn the first segment so that its end is the end nearer to the second segment
        head, nxt = segments[0], segments[1]
        ends = nxt[["lon", "lat"]].to_numpy(float)[[0, -1]]
        if _nearest(head.iloc[0], ends) < _nearest(head.iloc[-1], ends):
            segments[0] = head.iloc[::-1]
    out = [segments[0]]
    for seg in segments[1:]:
        tail = out[-1].iloc[-1]
        if _dist_deg(tail, seg.iloc[-1]) < _dist_deg(tail, seg.iloc[0]):
            seg = seg.iloc[::-1]
        out.append(seg)
    return pd.concat(out)


def _trim_abroad(piece: pd.DataFrame) -> pd.DataFrame:
    """Cut a piece's end that runs on abroad to a border crossing (G94 on the Hong Kong-Zhuhai-
    Macau Bridge): the waypoints outside the country beyond the first one past the border go.

    The modelled route then ends just past the border (the border lies on its last edge, so ends
    measured to it are not shortened), where the plan's obligation ends. Only ends labelled as a
    border crossing are cut; a coastal end outside a coarse polygon stays.
    """
    inside = piece["in_country"].to_numpy() == 1
    if not inside.any():
        return piece
    labels = piece["label"].astype(str).to_numpy()
    lo, hi = 0, len(piece)
    first, last = int(np.argmax(inside)), len(piece) - 1 - int(np.argmax(inside[::-1]))
    if not inside[0] and _BORDER_LABEL.match(labels[0]):
        lo = max(first - 1, 0)
    if not inside[-1] and _BORDER_LABEL.match(labels[-1]):
        hi = min(last + 2, len(piece))
    if (lo, hi) != (0, len(piece)):
        logger.debug(
            "%s: %d waypoints abroad beyond a border crossing cut",
            piece["route"].iloc[0], len(piece) - (hi - lo),
        )  # fmt: skip
    return piece.iloc[lo:hi]


def _nearest(row: pd.Series, points: np.ndarray) -> float:
    return float(np.min(np.hypot(points[:, 0] - row["lon"], points[:, 1] - row["lat"])))


def _dist_deg(a: pd.Series, b: pd.Series) -> float:
    return math.hypot(float(a["lon"]) - float(b["lon"]), float(a["lat"]) - float(b["lat"]))


def _routes_and_edges(
    ordered: pd.DataFrame, node_of: np.ndarray, lengths: pd.DataFrame
) -> tuple[list[Route], dict[tuple[int, int], float]]:
    """One :class:`Route` per piece and the undirected edges (geodesic metres) they walk."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    lon, lat = ordered["lon"].to_numpy(float), ordered["lat"].to_numpy(float)
    piece = ordered["piece"].to_numpy()
    names = _piece_ids(ordered)
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in lengths.to_dict("records")
    ]
    owner = {p: row for row in records for p in row["pieces"]}
    solo = {p for row in records for p in row["pieces"] if len(row["pieces"]) == 1}
    edges: dict[tuple[int, int], float] = {}
    routes = []
    starts = np.flatnonzero(np.r_[True, piece[1:] != piece[:-1]])
    for a, b in zip(starts, np.r_[starts[1:], piece.size], strict=True):
        nodes = node_of[a:b]
        keep = np.r_[True, nodes[1:] != nodes[:-1]]  # one node per point (joints of segments)
        nodes, plon, plat = nodes[keep], lon[a:b][keep], lat[a:b][keep]
        _, _, step = geod.inv(plon[:-1], plat[:-1], plon[1:], plat[1:])
        step = np.asarray(step, float)
        for u, v, d in zip(nodes[:-1].tolist(), nodes[1:].tolist(), step.tolist(), strict=True):
            k = (min(u, v), max(u, v))
            edges[k] = min(d, edges.get(k, math.inf))
        rid = names[piece[a]]
        row = owner.get(rid)
        routes.append(
            Route(
                route_id=rid,
                name=rid if row is None else str(row["name"]),
                official_length_km=(
                    float(row["official_length_km"])
                    if row is not None and rid in solo
                    else math.nan
                ),
                length_source="" if row is None else str(row["length_source"]),
                node_idx=nodes.astype(np.int64),
                chainage_m=np.r_[0.0, np.cumsum(step)],
                official_route="" if row is None else str(row["route_id"]),
            )
        )
    return routes, edges


def _piece_ids(ordered: pd.DataFrame) -> dict[int, str]:
    """Route id of each piece: the route number, with the piece's group when it has several."""
    first = ordered.drop_duplicates("piece")[["piece", "route", "group"]]
    count = first["route"].value_counts()
    return {
        int(p): (r if count[r] == 1 or not g else f"{r} ({g})")
        for p, r, g in first.itertuples(index=False)
    }


def _project(a: object, b: object, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays from ``src`` to ``dst`` (x/lon first)."""
    from pyproj import Transformer

    u, v = Transformer.from_crs(src, dst, always_xy=True).transform(
        np.asarray(a, float), np.asarray(b, float)
    )
    return np.asarray(u, float), np.asarray(v, float)


def route_length_report(net: CorridorNetwork) -> pd.DataFrame:
    """Compare every official route's modelled length with its official length.

    An official route is the sum of the pieces named in the length table (``pieces`` column).

    Returns
    -------
    pandas.DataFrame
        One row per official route: ``route_id``, ``pieces``, ``official_km``, ``modelled_km``,
        ``ratio`` (modelled / official), ``within_3pct``, ``verified``, ``source``,
        ``excluded`` (why the route is left out of the length check, ``""`` when it is held to it).
    """
    by_piece = {r.route_id: r for r in net.routes}
    rows = []
    table = read_route_table(net.country)
    for rid, pieces, official_km, source, check in zip(
        table["route_id"].astype(str),
        table["pieces"].tolist(),
        table["official_length_km"].astype(float),
        table["length_source"].astype(str),
        table["length_check"].astype(str),
        strict=True,
    ):
        modelled = sum(by_piece[p].length_km for p in pieces if p in by_piece)
        ratio = modelled / official_km
        rows.append(
            (
                rid,
                ";".join(pieces),
                official_km,
                modelled,
                ratio,
                abs(ratio - 1.0) <= LENGTH_TOLERANCE,
                not source.lower().startswith("unverified"),
                source,
                check,
            )
        )
    cols = [
        "route_id", "pieces", "official_km", "modelled_km", "ratio", "within_3pct", "verified",
        "source", "excluded",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def component_report(net: CorridorNetwork) -> pd.DataFrame:
    """Connected components of the network, largest first.

    Returns
    -------
    pandas.DataFrame
        One row per component: ``component``, ``nodes``, ``routes`` (sorted ids, ``;``-joined).
    """
    n_comp, labels = connected_components(net.length_m, directed=False)
    routes: dict[int, set[str]] = {c: set() for c in range(n_comp)}
    for r in net.routes:
        routes[int(labels[r.node_idx[0]])].add(r.route_id)
    sizes = np.bincount(labels, minlength=n_comp)
    rows = [(c, int(sizes[c]), ";".join(sorted(routes[c]))) for c in range(n_comp)]
    frame = pd.DataFrame(rows, columns=["component", "nodes", "routes"])
    return frame.sort_values("nodes", ascending=False, kind="stable").reset_index(drop=True)


def _check_country(country: object) -> str:
    code = str(country).lower() if isinstance(country, str) else None
    if code not in country_codes():
        raise InputError(
            f"country: expected one of {', '.join(map(repr, country_codes()))}, got "
            f"{describe(country)}; pass country='us' or 'cn'"
        )
    return str(code)
