"""Read OSM files (XML and PBF) and apply planner's drivable-way rules (see
:mod:`planner.ground.network`).

Both readers return the same :class:`OsmData`: every node with coordinates, the ``highway`` ways
with the tags the rules need, and activity POIs (nodes, and ways at their polygon centroid).
XML is streamed with :mod:`xml.etree.ElementTree` (osmnx-written files without ``version``
attributes are fine); PBF is read with pyosmium.
"""

from __future__ import annotations

import bz2
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.core.errors import DataError, describe

logger = logging.getLogger(__name__)

DRIVABLE_HIGHWAYS = frozenset(
    {
        *("motorway", "trunk", "primary", "secondary", "tertiary"),
        *("motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link"),
        *("unclassified", "residential", "living_street"),
    }
)
_SERVICE_EXCLUDED = frozenset(
    {"parking_aisle", "parking", "driveway", "drive-through", "drive-thru"}
    | {"emergency_access", "private"}
)
_ACCESS_KEYS = ("motorcar", "motor_vehicle", "vehicle", "access")
_ACCESS_DENIED = frozenset(["no", "private", "agricultural", "forestry", "emergency", "psv", "bus"])
WAY_TAGS = (
    "highway",
    "name",
    "ref",
    "maxspeed",
    "oneway",
    "junction",
    "area",
    "service",
    *_ACCESS_KEYS,
)
POI_CATEGORIES = ("amenity", "shop", "office", "parking", "fuel", "tourism")
_POI_KEYS = ("amenity", "shop", "office", "tourism")
# street furniture and signs: not activity places
_IGNORED_POI_VALUES = frozenset(
    {"bench", "waste_basket", "bicycle_parking", "post_box", "drinking_water", "vending_machine"}
    | {"parking_space", "parking_entrance", "recycling", "telephone", "clock", "waste_disposal"}
    | {"motorcycle_parking", "hunting_stand", "grit_bin", "information", "artwork"}
)
POI_COLUMNS = ["category", "name", "value", "lon", "lat"]


@dataclass(frozen=True, eq=False)
class OsmData:
    """What the file readers return: every node, the highway ways and the POIs."""

    node_id: np.ndarray  # sorted int64
    lon: np.ndarray
    lat: np.ndarray
    ways: list[tuple[int, dict[str, str], list[int]]]  # (way id, tags, node refs)
    poi_nodes: list[tuple[str, str, str, float, float]]  # (category, name, value, lon, lat)
    poi_ways: list[tuple[str, str, str, list[int]]]  # (category, name, value, node refs)


def osm_stem(path: Path) -> str:
    """File name without its OSM suffixes: ``"us_columbus_oh.osm.pbf"`` -> ``"us_columbus_oh"``."""
    name = path.name
    for suffix in (".bz2", ".pbf", ".osm", ".xml"):
        name = name.removesuffix(suffix)
    return name or path.name


def sniff_osm(path: Path) -> str:
    """Return ``"pbf"`` or ``"xml"`` from the file's first bytes; raise DataError otherwise."""
    with path.open("rb") as handle:
        head = handle.read(64)
    if b"OSMHeader" in head[:32]:
        return "pbf"
    if head.startswith(b"BZh"):
        try:
            with bz2.open(path, "rb") as handle:
                head = handle.read(64)
        except (OSError, EOFError) as exc:
            raise DataError(f"OSM file {path}: damaged bz2 file ({exc}); re-download it") from None
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"<?xml", b"<osm")):
        return "xml"
    raise DataError(
        f"OSM file {path}: not an OSM XML or PBF file (starts with {describe(head[:24])}); "
        "give an .osm, .osm.bz2 or .osm.pbf export"
    )


def poi_category(tags: Any) -> tuple[str, str] | None:
    """Return ``(category, value)`` for a POI tag set, ``None`` when it is not an activity POI."""
    amenity = tags.get("amenity")
    if amenity in ("parking", "fuel"):
        return amenity, amenity
    if amenity and amenity not in _IGNORED_POI_VALUES:
        return "amenity", amenity
    for key in ("shop", "office", "tourism"):
        value = tags.get(key)
        if value and value not in _IGNORED_POI_VALUES and value != "no":
            return key, value
    return None


def read_osm_xml(path: Path) -> OsmData:
    """Stream an OSM XML file (optionally bz2) into :class:`OsmData`."""
    ids: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    ways: list[tuple[int, dict[str, str], list[int]]] = []
    poi_nodes: list[tuple[str, str, str, float, float]] = []
    poi_ways: list[tuple[str, str, str, list[int]]] = []
    opener: Any = bz2.open if path.name.lower().endswith(".bz2") else open
    try:
        with opener(path, "rb") as handle:
            events = ET.iterparse(handle, events=("start", "end"))
            _, root = next(events)
            if root.tag != "osm":
                raise DataError(
                    f"OSM file {path}: root element is <{root.tag}>, not <osm>; "
                    "give an OSM XML export"
                )
            for event, elem in events:
                if event != "end" or elem.tag not in ("node", "way", "relation"):
                    continue
                if elem.tag == "node" and elem.get("lat") is not None:
                    lon, lat = float(elem.get("lon", "nan")), float(elem.get("lat", "nan"))
                    ids.append(int(elem.get("id", "0")))
                    lons.append(lon)
                    lats.append(lat)
                    if len(elem):
                        tags = {t.get("k", ""): t.get("v", "") for t in elem.iter("tag")}
                        cat = poi_category(tags)
                        if cat:
                            poi_nodes.append((cat[0], tags.get("name", ""), cat[1], lon, lat))
                elif elem.tag == "way":
                    tags = {t.get("k", ""): t.get("v", "") for t in elem.iter("tag")}
                    refs = [int(nd.get("ref", "0")) for nd in elem.iter("nd")]
                    _add_way(int(elem.get("id", "0")), tags, refs, ways, poi_ways)
                root.clear()
    except ET.ParseError as exc:
        raise DataError(
            f"OSM file {path}: not valid OSM XML ({exc}); give an .osm export"
        ) from None
    except (OSError, EOFError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"OSM file {path}: cannot be read as OSM XML ({exc})") from None
    return _osm_data(path, ids, lons, lats, ways, poi_nodes, poi_ways)


def osmium_source(path: Path) -> Any:
    """``path`` as a libosmium input of the format its first bytes show (libosmium would pick
    the format by the extension, and fail on a PBF named ``.osm``)."""
    import osmium

    if sniff_osm(path) == "pbf":
        return osmium.io.File(str(path), "pbf")
    return osmium.io.File(str(path), "osm.bz2" if path.name.lower().endswith(".bz2") else "osm")


def read_osm_pbf(path: Path) -> OsmData:
    """Read an OSM PBF file with pyosmium into :class:`OsmData`."""
    import osmium

    ids: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    ways: list[tuple[int, dict[str, str], list[int]]] = []
    poi_nodes: list[tuple[str, str, str, float, float]] = []
    poi_ways: list[tuple[str, str, str, list[int]]] = []
    untagged: list[int] = []  # node ids without tags
    refs: list[int] = []  # the nodes of every way
    try:
        obj: Any
        source = osmium_source(path)
        for obj in osmium.FileProcessor(source, osmium.osm.NODE | osmium.osm.WAY):
            if obj.is_node():
                loc = obj.location
                if not loc.valid():
                    continue
                ids.append(obj.id)
                lons.append(loc.lon)
                lats.append(loc.lat)
                if not obj.tags:
                    untagged.append(obj.id)
                    continue
                cat = poi_category(obj.tags)
                if cat:
                    name = obj.tags.get("name", "") or ""
                    poi_nodes.append((cat[0], name, cat[1], loc.lon, loc.lat))
                continue
            nodes = [n.ref for n in obj.nodes]
            refs.extend(nodes)
            if "highway" in obj.tags or any(k in obj.tags for k in _POI_KEYS):
                tags = {k: obj.tags[k] for k in (*WAY_TAGS, *_POI_KEYS) if k in obj.tags}
                _add_way(obj.id, tags, nodes, ways, poi_ways)
    except RuntimeError as exc:
        raise DataError(f"OSM file {path}: not a readable OSM PBF file ({exc})") from None
    _check_truncation(path, np.asarray(untagged, dtype=np.int64), np.asarray(refs, np.int64))
    return _osm_data(path, ids, lons, lats, ways, poi_nodes, poi_ways)


#: Share of untagged nodes used by no way above which a PBF is reported as cut short. An extract
#: (osmium extract, Geofabrik, Overpass) keeps an untagged node only for the ways that use it:
#: the shared extracts of Columbus, Bangor and Felton have none. A PBF is written nodes first,
#: then ways, in blocks of 8,000; a file cut at a block boundary is still readable, but the nodes
#: of its lost ways are left unused (3.1 % of Columbus's when its last 443 ways are cut off).
TRUNCATION_ORPHAN_SHARE = 0.01


def _check_truncation(path: Path, untagged: np.ndarray, refs: np.ndarray) -> None:
    """Refuse a PBF whose ways are all missing; warn when many nodes belong to no way."""
    if untagged.size == 0:
        return
    orphans = int(np.setdiff1d(untagged, refs).size)
    if refs.size == 0:
        raise DataError(
            f"OSM file {path}: {untagged.size:,} nodes but no ways: the file ends before its "
            "ways (cut short?); download or export it again"
        )
    if orphans > TRUNCATION_ORPHAN_SHARE * untagged.size:
        logger.warning(
            "OSM file %s: %d of %d untagged nodes belong to no way: the file looks cut short "
            "(ways missing at its end); the network may be incomplete: download it again",
            path,
            orphans,
            untagged.size,
        )


def _add_way(
    way_id: int,
    tags: dict[str, str],
    refs: list[int],
    ways: list[tuple[int, dict[str, str], list[int]]],
    poi_ways: list[tuple[str, str, str, list[int]]],
) -> None:
    if "highway" in tags:
        ways.append((way_id, {k: tags[k] for k in WAY_TAGS if k in tags}, refs))
    cat = poi_category(tags)
    if cat:
        poi_ways.append((cat[0], tags.get("name", ""), cat[1], refs))


def _osm_data(
    path: Path,
    ids: list[int],
    lons: list[float],
    lats: list[float],
    ways: list[tuple[int, dict[str, str], list[int]]],
    poi_nodes: list[tuple[str, str, str, float, float]],
    poi_ways: list[tuple[str, str, str, list[int]]],
) -> OsmData:
    node_id = np.asarray(ids, dtype=np.int64)
    lon, lat = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"OSM file {path}: {int(bad.sum())} node(s) have coordinates outside WGS84 "
            f"(lon -180..180, lat -90..90), e.g. node {node_id[first]} at lon {lon[first]}, "
            f"lat {lat[first]}; the file is corrupt: re-export it"
        )
    order = np.argsort(node_id, kind="stable")
    return OsmData(
        node_id[order],
        lon[order],
        lat[order],
        ways,
        poi_nodes,
        poi_ways,
    )


def is_drivable(tags: dict[str, str], include_service: bool) -> bool:
    """Apply the drivable-way rules of the module notes to one way's tags."""
    hw = tags.get("highway", "")
    if hw == "service":
        if not include_service or tags.get("service", "") in _SERVICE_EXCLUDED:
            return False
    elif hw not in DRIVABLE_HIGHWAYS:
        return False
    if tags.get("area") == "yes" or tags.get("oneway") in ("reversible", "alternating"):
        return False
    access = next((tags[k] for k in _ACCESS_KEYS if tags.get(k)), "yes")
    return access not in _ACCESS_DENIED


def _direction(tags: dict[str, str]) -> int:
    """Return +1 (forward only), -1 (backward only) or 0 (both ways) for a drivable way."""
    oneway = tags.get("oneway", "")
    if oneway in ("yes", "true", "1"):
        return 1
    if oneway in ("-1", "reverse"):
        return -1
    if oneway == "no":
        return 0
    implied = tags.get("junction") in ("roundabout", "circular") or tags.get("highway") in (
        "motorway",
        "motorway_link",
    )
    return 1 if implied else 0


def segments_from_ways(
    data: OsmData, *, path: Path, include_service: bool, max_missing_share: float
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Cut the drivable ways into directed segments: node positions ``u``, ``v`` and attributes."""
    kept = [w for w in data.ways if is_drivable(w[1], include_service)]
    if not kept:
        kinds = sorted({w[1].get("highway", "") for w in data.ways})
        raise DataError(
            f"OSM file {path}: no drivable road (found {len(data.ways)} highway ways of kinds "
            f"{', '.join(kinds[:8]) or 'none'}); give an extract that contains streets"
        )
    counts = np.fromiter((len(w[2]) for w in kept), dtype=np.int64, count=len(kept))
    flat = np.fromiter(
        chain.from_iterable(w[2] for w in kept), dtype=np.int64, count=int(counts.sum())
    )
    pos = np.searchsorted(data.node_id, flat).clip(0, max(data.node_id.size - 1, 0))
    found = data.node_id[pos] == flat if data.node_id.size else np.zeros(flat.size, dtype=bool)
    n_missing = int((~found).sum())
    if n_missing:
        share = n_missing / flat.size
        message = (
            f"OSM file {path}: {n_missing} of {flat.size} node references of drivable ways "
            f"({share:.1%}) point to nodes missing from the file"
        )
        if share > max_missing_share:
            raise DataError(
                f"{message} (more than {max_missing_share:.0%}): the file is truncated or broken; "
                "re-export it with complete ways (e.g. osmium extract --strategy complete_ways)"
            )
        logger.warning("%s; ways are cut there (normal at the edge of a clipped extract)", message)
    way_of = np.repeat(np.arange(len(kept)), counts)
    ok = (way_of[:-1] == way_of[1:]) & found[:-1] & found[1:] & (pos[:-1] != pos[1:])
    seg_way, a, b = way_of[:-1][ok], pos[:-1][ok], pos[1:][ok]
    direction = np.fromiter((_direction(w[1]) for w in kept), dtype=np.int8, count=len(kept))[
        seg_way
    ]
    fwd, bwd = direction >= 0, direction <= 0
    u = np.concatenate([a[fwd], b[bwd]])
    v = np.concatenate([b[fwd], a[bwd]])
    ways = np.concatenate([seg_way[fwd], seg_way[bwd]])
    attrs = {
        key: np.array([w[1].get(key, "") for w in kept], dtype=object)[ways]
        for key in ("highway", "name", "ref", "maxspeed")
    }
    attrs["way_id"] = np.fromiter((w[0] for w in kept), dtype=np.int64, count=len(kept))[ways]
    return u, v, attrs


def poi_table(data: OsmData) -> pd.DataFrame:
    """Return POIs as ``category, name, value, lon, lat`` (way POIs at their polygon centroid)."""
    frames = [pd.DataFrame(data.poi_nodes, columns=["category", "name", "value", "lon", "lat"])]
    if data.poi_ways and data.node_id.size:
        counts = np.array([len(w[3]) for w in data.poi_ways])
        flat = np.fromiter(chain.from_iterable(w[3] for w in data.poi_ways), dtype=np.int64)
        pos = np.searchsorted(data.node_id, flat).clip(0, data.node_id.size - 1)
        found = data.node_id[pos] == flat
        way_of = np.repeat(np.arange(len(data.poi_ways)), counts)[found]
        lon, lat = _centroids_lonlat(data.lon[pos[found]], data.lat[pos[found]], way_of)
        has = np.unique(way_of)
        meta = pd.DataFrame(
            [data.poi_ways[i][:3] for i in has], columns=["category", "name", "value"]
        )
        frames.append(meta.assign(lon=lon, lat=lat))
    table = (
        pd.concat([f for f in frames if len(f)], ignore_index=True)
        if any(map(len, frames))
        else frames[0]
    )
    return table.astype(
        {"category": object, "name": object, "value": object, "lon": float, "lat": float}
    )


def _centroids_lonlat(
    lon: np.ndarray, lat: np.ndarray, way_of: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Polygon centroid of each way (sorted ``way_of`` groups); vertex mean if degenerate."""
    starts = np.flatnonzero(np.r_[True, way_of[1:] != way_of[:-1]])
    counts = np.diff(np.r_[starts, way_of.size])
    scale = np.cos(np.radians(lat))  # local equirectangular metres, enough for a centroid
    x0, y0 = np.repeat(lon[starts], counts), np.repeat(lat[starts], counts)
    x, y = (lon - x0) * scale * 111_320.0, (lat - y0) * 110_574.0
    nxt = np.arange(x.size) + 1
    nxt[starts + counts - 1] = starts
    cross = x * y[nxt] - x[nxt] * y
    area = np.add.reduceat(cross, starts) / 2.0
    cx = np.add.reduceat((x + x[nxt]) * cross, starts)
    cy = np.add.reduceat((y + y[nxt]) * cross, starts)
    mean_x, mean_y = np.add.reduceat(x, starts) / counts, np.add.reduceat(y, starts) / counts
    poly = np.abs(area) > 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        gx = np.where(poly, cx / (6.0 * area), mean_x)
        gy = np.where(poly, cy / (6.0 * area), mean_y)
    out_lat = lat[starts] + gy / 110_574.0
    return lon[starts] + gx / (111_320.0 * scale[starts]), out_lat


def segments_from_graph(
    nodes: pd.DataFrame, edges: pd.DataFrame, *, include_service: bool, label: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Apply the drivable-way rules to an osmnx graph's tables (directions are already set).

    ``nodes`` has ``osmid, x, y`` (degrees); ``edges`` has ``u``, ``v`` (OSM node ids), ``osmid``
    (the way) and way tags as strings. Returns sorted node ids, lon, lat, the segments' node
    positions ``u``, ``v`` and their attributes, like :func:`segments_from_ways`.
    """
    records = edges.to_dict("records")
    keep = np.fromiter(
        (is_drivable({k: str(r.get(k) or "") for k in WAY_TAGS}, include_service) for r in records),
        dtype=bool,
        count=len(records),
    )
    if not keep.any():
        raise DataError(f"{label}: the query holds no drivable road; try a larger area")
    edges = edges[keep]
    node_id = nodes["osmid"].to_numpy(np.int64)
    order = np.argsort(node_id)
    node_id = node_id[order]
    u = np.searchsorted(node_id, edges["u"].to_numpy(np.int64))
    v = np.searchsorted(node_id, edges["v"].to_numpy(np.int64))
    attrs = {
        k: edges[k].fillna("").astype(str).to_numpy(dtype=object)
        for k in ("highway", "name", "ref", "maxspeed")
    }
    attrs["way_id"] = edges["osmid"].to_numpy(np.int64)
    lon = nodes["x"].to_numpy(float)[order]
    lat = nodes["y"].to_numpy(float)[order]
    return node_id, lon, lat, u, v, attrs
