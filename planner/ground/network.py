"""Road networks: load a drivable OSM street network into projected arrays.

:func:`load_network` dispatches on its source: an OSM XML file (``.osm``, ``.xml``, ``.osm.bz2``,
including osmnx-written XML without ``version`` attributes, read by a streaming parser), an OSM PBF
file (``.osm.pbf``/``.pbf``, read with pyosmium), a place name or a ``(west, south, east, north)``
box (fetched online with osmnx and cached on disk, see :mod:`planner.io._cache`). Every path ends in
the same builder, so a PBF and an XML copy of the same data give the same network.

Rules (documented choices):

- Drivable ways: ``highway`` in :data:`DRIVABLE_HIGHWAYS` (motorway..tertiary, their links,
  unclassified, residential, living_street). ``highway=service`` is left out, as in osmnx's
  ``"drive"`` network type (parking aisles, driveways and alleys would dominate city networks);
  ``include_service=True`` adds service roads except parking aisles, driveways, drive-throughs,
  emergency and private service roads. ``area=yes`` ways are dropped.
- Access (OSRM car profile hierarchy): the first of ``motorcar``, ``motor_vehicle``, ``vehicle``,
  ``access`` that is set decides; ``no``, ``private``, ``agricultural``, ``forestry``,
  ``emergency``, ``psv``, ``bus`` drop the way (``destination``, ``customers``, ``delivery`` stay).
- Direction (OSRM car profile): ``oneway=yes|true|1`` forward only, ``-1|reverse`` backward only;
  roundabouts and motorways (and their links) are one-way unless ``oneway=no``;
  ``oneway=reversible|alternating`` ways are dropped (usable in neither direction at all times).
- Missing nodes: clipped extracts often keep ways whose nodes lie outside the clip. Ways are cut at
  missing nodes and a warning is logged; when more than ``max_missing_share`` (default 20 %) of
  the node references of drivable ways are missing the file is refused as broken.
- The largest strongly connected component is kept; coordinates are projected to the local UTM
  zone. ``length_m`` is the WGS84 geodesic length (at least 1 cm), ``speed_kph`` comes from
  ``maxspeed`` (see :func:`parse_maxspeed_kph`) or the road-class default in
  ``data/road_speeds.csv`` (OSRM car profile), ``travel_time_s = length_m / speed``.
- Graph nodes are the OSM nodes of the kept ways (no simplification); each directed edge joins
  two consecutive nodes of a way.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from planner.core.errors import DataError, InputError, describe
from planner.core.units import KPH_PER_MPH
from planner.ground._motorway_paths import min_csr, motorway_paths
from planner.io._data import data_path
from planner.io._osm import (
    DRIVABLE_HIGHWAYS,
    POI_CATEGORIES,
    osm_stem,
    poi_table,
    read_osm_pbf,
    read_osm_xml,
    segments_from_graph,
    segments_from_ways,
    sniff_osm,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DRIVABLE_HIGHWAYS",
    "POI_CATEGORIES",
    "RoadNetwork",
    "load_network",
    "local_utm_crs",
    "motorway_paths",
    "network_from_bbox",
    "network_from_osm",
    "network_from_place",
    "parse_maxspeed_kph",
    "road_speed_defaults",
    "snap_to_nodes",
]

XML_SUFFIXES = (".osm", ".xml", ".osm.bz2", ".xml.bz2")
PBF_SUFFIXES = (".osm.pbf", ".pbf")
_MIN_LENGTH_M = 0.01


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A drivable road network, largest strongly connected component, in a projected CRS.

    Attributes
    ----------
    name
        Human-readable name of the area (file stem, place name or bbox).
    crs
        Projected metric CRS of ``x_m``/``y_m`` and of the geometries (local UTM zone), e.g.
        ``"EPSG:32617"``.
    node_id
        OSM node ids, shape ``(n,)``, int64. Node ``i`` of every array is this node.
    x_m, y_m
        Projected coordinates in metres.
    lon, lat
        WGS84 coordinates in degrees.
    length_m
        ``(n, n)`` CSR matrix of directed edge lengths in metres (shortest of parallel edges).
    travel_time_s
        ``(n, n)`` CSR matrix of directed edge travel times in seconds, same pattern.
    edges
        One row per directed edge: ``u`` and ``v`` (node indices), ``highway`` (str), ``name``,
        ``ref``, ``speed_kph``, ``length_m``, ``travel_time_s`` and a projected LineString; also
        ``way_id`` (the OSM way).
    pois
        Activity points of interest from the same source: ``category`` (amenity, shop, office,
        parking, fuel, tourism), ``name`` and a projected Point geometry; also ``value`` (the
        tag's value, e.g. ``"restaurant"``). May be empty.
    source
        Where the network came from (file path or query), for provenance.
    """

    name: str
    crs: str
    node_id: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    length_m: sp.csr_array
    travel_time_s: sp.csr_array
    edges: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame
    source: str = field(default="")

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_id.shape[0])

    @cached_property
    def kdtree(self) -> cKDTree:
        """A k-d tree on the projected node coordinates (built once per network)."""
        return cKDTree(np.column_stack([self.x_m, self.y_m]))

    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        """Return ``(west, south, east, north)`` of the nodes in degrees."""
        return (
            float(self.lon.min()),
            float(self.lat.min()),
            float(self.lon.max()),
            float(self.lat.max()),
        )


# ----------------------------------------------------------------------------- public entry points


def load_network(
    source: str | Path | Sequence[float],
    *,
    name: str | None = None,
    cache_dir: str | Path | None = None,
    include_service: bool = False,
) -> RoadNetwork:
    """Load a drivable road network from a file, a place name or a bounding box.

    Parameters
    ----------
    source
        An OSM XML (``.osm``, ``.xml``, ``.osm.bz2``) or PBF (``.osm.pbf``, ``.pbf``) file; an
        existing file with another suffix is sniffed. A ``(west, south, east, north)`` sequence in
        degrees is fetched online as a box, any other string online as a place name (osmnx).
    name
        Area name; defaults to the file stem, the place name or the box.
    cache_dir
        Cache folder for online queries (see :func:`network_from_place`).
    include_service
        Keep ``highway=service`` roads (see the module notes).

    Returns
    -------
    RoadNetwork
    """
    if isinstance(source, list | tuple):
        box = _check_bbox(source)
        return network_from_bbox(
            box, name=name, cache_dir=cache_dir, include_service=include_service
        )
    if not isinstance(source, str | Path):
        raise InputError(
            f"source: expected an OSM file path, a place name or a (west, south, east, north) box, "
            f"got {describe(source)}"
        )
    path = Path(source)
    lower = str(source).lower()
    looks_like_file = (
        isinstance(source, Path)
        or path.exists()
        or lower.endswith(XML_SUFFIXES + PBF_SUFFIXES)
        or "/" in lower
        or "\\" in lower
        or re.search(r"\.[a-z0-9]{1,5}$", lower) is not None
    )
    if looks_like_file:
        return network_from_osm(path, name=name, include_service=include_service)
    return network_from_place(
        str(source), name=name, cache_dir=cache_dir, include_service=include_service
    )


def network_from_osm(
    path: str | Path,
    *,
    name: str | None = None,
    include_service: bool = False,
    max_missing_share: float = 0.2,
) -> RoadNetwork:
    """Load a drivable road network from an OSM XML or PBF file (offline).

    Parameters
    ----------
    path
        The file. XML may be bz2-compressed; osmnx-written XML (no ``version``) is fine.
    name
        Area name; defaults to the file name without its OSM suffixes.
    include_service
        Keep ``highway=service`` roads (see the module notes).
    max_missing_share
        Largest share of drivable-way node references that may point to nodes absent from the
        file (normal at the edge of clipped extracts) before the file is refused as broken.

    Returns
    -------
    RoadNetwork

    Raises
    ------
    DataError
        Missing file, not an OSM file, too many missing node references, no drivable road.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"OSM file {path} does not exist; give an existing .osm, .osm.bz2 or .osm.pbf file"
        )
    kind = sniff_osm(path)
    data = read_osm_pbf(path) if kind == "pbf" else read_osm_xml(path)
    label = name or osm_stem(path)
    # 1. drivable ways -> directed node-to-node segments
    u, v, attrs = segments_from_ways(
        data, path=path, include_service=include_service, max_missing_share=max_missing_share
    )
    # 2. strongly connected core, projection, lengths, speeds, matrices, edge geometries
    pois = poi_table(data)
    return _assemble(label, str(path), data.node_id, data.lon, data.lat, u, v, attrs, pois)


def network_from_place(
    place: str,
    *,
    name: str | None = None,
    cache_dir: str | Path | None = None,
    include_service: bool = False,
) -> RoadNetwork:
    """Fetch the drivable network and POIs of a place with osmnx (online, cached on disk).

    The osmnx graph (``network_type="drive"`` or ``"drive_service"``, unsimplified) is saved as
    GraphML and the POIs as a GeoPackage under ``cache_dir`` (default ``$PLANNER_CACHE_DIR`` or
    ``~/.cache/planner``), keyed by the query; a cached query never touches the network.
    """
    from planner.io import _cache

    if not isinstance(place, str) or not place.strip():
        raise InputError(
            f"place: expected a place name such as 'Columbus, Ohio', got {describe(place)}"
        )
    entry = _cache.fetch_osm(
        "place", place.strip(), cache_dir=cache_dir, include_service=include_service
    )
    return _network_from_cache(entry, name=name or place.strip(), include_service=include_service)


def network_from_bbox(
    bbox: tuple[float, float, float, float],
    *,
    name: str | None = None,
    cache_dir: str | Path | None = None,
    include_service: bool = False,
) -> RoadNetwork:
    """Fetch the drivable network and POIs inside ``(west, south, east, north)`` degrees.

    Online through osmnx, cached on disk like :func:`network_from_place`.
    """
    from planner.io import _cache

    box = _check_bbox(bbox)
    entry = _cache.fetch_osm("bbox", box, cache_dir=cache_dir, include_service=include_service)
    label = name or "bbox " + ",".join(f"{c:.4f}" for c in box)
    return _network_from_cache(entry, name=label, include_service=include_service)


def snap_to_nodes(
    network: RoadNetwork, x_m: float | np.ndarray, y_m: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the nearest node index and the distance in metres of each projected point.

    Parameters
    ----------
    network
        The network.
    x_m, y_m
        Projected coordinates in the network's CRS (scalars or arrays of the same shape).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Node indices (int64) and straight-line distances (metres), shaped like ``x_m``.
    """
    x = np.asarray(x_m, dtype=float)
    y = np.asarray(y_m, dtype=float)
    if x.shape != y.shape:
        raise InputError(
            f"x_m, y_m: expected arrays of the same shape, got {x.shape} and {y.shape}"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InputError("x_m, y_m: expected finite projected coordinates, got NaN or infinity")
    dist, idx = network.kdtree.query(np.column_stack([x.ravel(), y.ravel()]))
    return idx.astype(np.int64).reshape(x.shape), np.asarray(dist, dtype=float).reshape(x.shape)


def parse_maxspeed_kph(value: object) -> float:
    """Parse an OSM ``maxspeed`` value into km/h; NaN when it holds no number.

    ``"50"`` and ``"50 km/h"`` are km/h, ``"30 mph"`` is converted, ``"10 knots"`` too; lists
    such as ``"50;60"`` give the mean of their parts. Zone codes (``"RU:urban"``), ``"none"``,
    ``"signals"`` and ``"walk"`` give NaN, so the road-class default applies.
    """
    if isinstance(value, list | tuple):
        value = ";".join(map(str, value))
    if not isinstance(value, str) or not value:
        return float("nan")
    speeds = []
    for part in re.split(r"[;|]", value):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph|knots)?\s*", part, re.I)
        if match is None:
            continue
        speed = float(match[1])
        unit = (match[2] or "").lower()
        speed *= KPH_PER_MPH if unit == "mph" else 1.852 if unit == "knots" else 1.0
        if 0.0 < speed <= 300.0:
            speeds.append(speed)
    return float(np.mean(speeds)) if speeds else float("nan")


def road_speed_defaults() -> dict[str, float]:
    """Return the default speed in km/h of each road class from ``data/road_speeds.csv``."""
    with data_path("road_speeds.csv").open(encoding="utf-8", newline="") as handle:
        return {row["highway"]: float(row["speed_kph"]) for row in csv.DictReader(handle)}


def local_utm_crs(lon: float, lat: float) -> str:
    """Return the WGS84 UTM zone of a point as ``"EPSG:326zz"`` (north) or ``"EPSG:327zz"``."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


# ----------------------------------------------------------------------------- builder


def _assemble(
    name: str,
    source: str,
    node_id: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    attrs: dict[str, np.ndarray],
    pois: pd.DataFrame,
) -> RoadNetwork:
    """Build a :class:`RoadNetwork` from directed segments between node positions."""
    from pyproj import Transformer

    # 1. largest strongly connected component, nodes renumbered 0..n-1
    keep = _largest_scc(u, v, node_id.size, name)
    index = np.full(node_id.size, -1, dtype=np.int64)
    index[keep] = np.arange(int(keep.sum()))
    on = keep[u] & keep[v]
    u, v = index[u[on]], index[v[on]]
    attrs = {k: a[on] for k, a in attrs.items()}
    node_id, lon, lat = node_id[keep], lon[keep], lat[keep]
    # 2. project to the local UTM zone
    crs = local_utm_crs(float(np.mean(lon)), float(np.mean(lat)))
    to_crs = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = (np.asarray(c, dtype=float) for c in to_crs.transform(lon, lat))
    # 3. lengths, speeds, travel times, edge geometries
    length = np.maximum(_geodesic_m(lon[u], lat[u], lon[v], lat[v]), _MIN_LENGTH_M)
    speed = _edge_speeds(attrs["highway"], attrs["maxspeed"])
    travel = length / (speed / 3.6)
    columns = {"u": u, "v": v, **{k: attrs[k] for k in ("highway", "name", "ref", "way_id")}}
    segments = np.stack([np.column_stack([x[u], y[u]]), np.column_stack([x[v], y[v]])], axis=1)
    edges = gpd.GeoDataFrame(
        {**columns, "speed_kph": speed, "length_m": length, "travel_time_s": travel},
        geometry=shapely.linestrings(segments),
        crs=crs,
    )
    # 4. POIs projected to the same CRS
    px, py = to_crs.transform(pois["lon"].to_numpy(float), pois["lat"].to_numpy(float))
    poi_frame = gpd.GeoDataFrame(
        pois[["category", "name", "value"]].reset_index(drop=True),
        geometry=shapely.points(np.asarray(px), np.asarray(py)),
        crs=crs,
    )
    n = node_id.size
    logger.info("network %s: %d nodes, %d edges, %d POIs (%s)", name, n, len(edges), len(pois), crs)
    return RoadNetwork(name, crs, node_id, x, y, lon, lat, min_csr(u, v, length, n),
                       min_csr(u, v, travel, n), edges, poi_frame, source)  # fmt: skip


def _largest_scc(u: np.ndarray, v: np.ndarray, n: int, name: str) -> np.ndarray:
    if u.size == 0:
        raise DataError(
            f"network {name!r}: the drivable ways have no usable segments; give a larger extract"
        )
    graph = sp.csr_array((np.ones(u.size), (u, v)), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(labels)
    best = int(np.argmax(sizes))
    if sizes[best] < 2:
        raise DataError(
            f"network {name!r}: no two drivable nodes are mutually reachable; give a larger extract"
        )
    logger.debug("largest strongly connected component: %d of %d nodes", sizes[best], n)
    return labels == best


def _geodesic_m(
    lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
) -> np.ndarray:
    """Ellipsoidal (WGS84) geodesic distance in metres, vectorised (pyproj.Geod)."""
    from pyproj import Geod

    _, _, dist = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist, dtype=float)


def _edge_speeds(highway: np.ndarray, maxspeed: np.ndarray) -> np.ndarray:
    """Speed of each edge in km/h: parsed ``maxspeed``, else the road-class default."""
    defaults = road_speed_defaults()
    values, inverse = np.unique(maxspeed.astype(str), return_inverse=True)
    parsed = np.array([parse_maxspeed_kph(s) for s in values])[inverse]
    classes, cls_inv = np.unique(highway.astype(str), return_inverse=True)
    fallback = np.array([defaults.get(c, defaults.get("default", 25.0)) for c in classes])[cls_inv]
    return np.where(np.isfinite(parsed), parsed, fallback).astype(float)


# ----------------------------------------------------------------------------- online / cache


def _check_bbox(bbox: Iterable[float]) -> tuple[float, float, float, float]:
    try:
        box = tuple(float(c) for c in bbox)
    except (TypeError, ValueError):
        box = ()
    if len(box) != 4 or not (-180 <= box[0] < box[2] <= 180 and -90 <= box[1] < box[3] <= 90):
        raise InputError(
            f"bbox: expected (west, south, east, north) in degrees with west < east and south < "
            f"north, got {describe(bbox)}"
        )
    return box  # type: ignore[return-value]


def _network_from_cache(entry: Any, *, name: str, include_service: bool) -> RoadNetwork:
    """Build a network from a cached osmnx query (GraphML + POI GeoPackage)."""
    from planner.io import _cache

    nodes, edges = _cache.read_graph(entry)
    node_id, lon, lat, u, v, attrs = segments_from_graph(
        nodes, edges, include_service=include_service, label=entry.query_text
    )
    pois = _cache.read_pois(entry)
    return _assemble(name, entry.query_text, node_id, lon, lat, u, v, attrs, pois)
