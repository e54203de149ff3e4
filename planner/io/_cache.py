"""On-disk cache of online osmnx queries (road graph as GraphML, POIs as a GeoPackage).

An entry is three files in the cache folder named after the query and a hash of it:
``<stem>.graphml`` (osmnx's own GraphML, unsimplified ``drive`` or ``drive_service`` graph),
``<stem>.pois.gpkg`` (points: ``category``, ``name``, ``value``, WGS84) and ``<stem>.json`` (the
query; written last, so an entry without it is incomplete and is fetched again). Reading an entry
needs neither osmnx nor the internet. Files are written atomically (temporary file + rename).

The folder is ``cache_dir`` when given, else ``$PLANNER_CACHE_DIR``, else ``~/.cache/planner``.
osmnx keeps its own HTTP cache (``./cache`` by default, its ``settings.use_cache``); planner leaves
osmnx's settings alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from planner.core.errors import DataError, DownloadError, InputError
from planner.io._atomic import write_json_atomic

logger = logging.getLogger(__name__)

_ENV = "PLANNER_CACHE_DIR"
_FORMAT = 1
POI_TAGS: dict[str, bool | str | list[str]] = {
    "amenity": True,
    "shop": True,
    "office": True,
    "tourism": True,
}
QueryKind = Literal["place", "bbox"]


@dataclass(frozen=True)
class CacheEntry:
    """Paths of one cached query."""

    graphml: Path
    pois: Path
    meta: Path
    query_text: str

    @property
    def complete(self) -> bool:
        """Whether all three files are present (the metadata file is written last)."""
        return self.meta.is_file() and self.graphml.is_file() and self.pois.is_file()


def default_cache_dir() -> Path:
    """Return ``$PLANNER_CACHE_DIR`` or ``~/.cache/planner``."""
    env = os.environ.get(_ENV)
    return Path(env) if env else Path.home() / ".cache" / "planner"


def query_key(
    kind: QueryKind, query: str | tuple[float, ...], *, network_type: str
) -> dict[str, Any]:
    """Return the canonical description of a query (what the cache is keyed by)."""
    value: object = query.strip() if isinstance(query, str) else [round(float(c), 7) for c in query]
    return {"kind": kind, "query": value, "network_type": network_type, "format": _FORMAT}


def cache_entry(cache_dir: str | Path | None, key: dict[str, Any]) -> CacheEntry:
    """Return the file paths of the entry for ``key`` (see :func:`query_key`) in ``cache_dir``."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    text = json.dumps(key, sort_keys=True)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9]+", "-", str(key["query"])).strip("-").lower()[:40] or "query"
    stem = f"{key['kind']}-{slug}-{key['network_type']}-{digest}"
    query_text = f"{key['kind']} {key['query']!r}"
    return CacheEntry(
        folder / f"{stem}.graphml",
        folder / f"{stem}.pois.gpkg",
        folder / f"{stem}.json",
        query_text,
    )


def fetch_osm(
    kind: QueryKind,
    query: str | tuple[float, float, float, float],
    *,
    cache_dir: str | Path | None = None,
    include_service: bool = False,
) -> CacheEntry:
    """Return the cache entry of a query, fetching it with osmnx first when it is not cached.

    Parameters
    ----------
    kind
        ``"place"`` (a geocodable name) or ``"bbox"`` (``(west, south, east, north)`` degrees).
    query
        The place name or the box.
    cache_dir
        Cache folder (see the module notes).
    include_service
        Fetch ``network_type="drive_service"`` instead of ``"drive"``.
    """
    network_type = "drive_service" if include_service else "drive"
    key = query_key(kind, query, network_type=network_type)
    entry = cache_entry(cache_dir, key)
    if entry.complete:
        logger.info("using cached %s from %s", entry.query_text, entry.graphml.parent)
        return entry
    try:
        entry.graphml.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cache_dir: cannot create {entry.graphml.parent} ({exc.strerror}); "
            "give a writable folder"
        ) from None
    logger.info("fetching %s from OpenStreetMap with osmnx (online)", entry.query_text)
    graph, pois = _download(kind, query, network_type=network_type)
    write_entry(entry, graph, pois, key=key)
    return entry


def _download(kind: QueryKind, query: Any, *, network_type: str) -> tuple[Any, pd.DataFrame]:
    """Run the osmnx queries (the only function here that touches the network)."""
    import osmnx as ox
    import requests  # osmnx's HTTP client
    from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError

    _resolve_host(ox.settings.nominatim_url if kind == "place" else "", kind, query)
    _resolve_host(ox.settings.overpass_url, kind, query)
    # osmnx's response errors (and some of requests') are ValueErrors: caught first
    offline = (requests.RequestException, ResponseStatusCodeError)
    try:
        if kind == "place":
            graph = ox.graph_from_place(
                query, network_type=network_type, simplify=False, retain_all=True
            )
        else:
            graph = ox.graph_from_bbox(
                tuple(query), network_type=network_type, simplify=False, retain_all=True
            )
    except offline as exc:
        raise _download_error(kind, query, _reason(exc)) from None
    except (InsufficientResponseError, ValueError, TypeError) as exc:
        raise DataError(
            f"{kind} {query!r}: osmnx found no drivable road ({_reason(exc)}); check the query"
        ) from None
    try:
        if kind == "place":
            features = ox.features_from_place(query, tags=POI_TAGS)
        else:
            features = ox.features_from_bbox(tuple(query), tags=POI_TAGS)
    except offline as exc:
        raise _download_error(kind, query, _reason(exc)) from None
    except InsufficientResponseError:  # an area without POIs
        features = None
    return graph, features_to_pois(features)


def _resolve_host(url: str, kind: QueryKind, query: Any) -> None:
    """Fail at once when the host of ``url`` cannot be resolved (offline): osmnx would wait a
    minute for Overpass's status before failing. Skipped behind a proxy, which resolves names
    itself."""
    host = urlsplit(url).hostname
    proxied = any(
        os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
    )
    if not host or proxied:
        return
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        raise _download_error(kind, query, f"cannot resolve {host}: no network or DNS") from None


def _download_error(kind: QueryKind, query: Any, reason: str) -> DownloadError:
    return DownloadError(
        f"{kind} {query!r}: OpenStreetMap could not be queried ({reason}); check the network "
        "connection, or plan from a local extract with --osm"
    )


def _reason(exc: Exception) -> str:
    """The gist of a download error, in a few words."""
    text = " ".join(str(exc).split("<", 1)[0].split())  # no HTML body of an error page
    host = re.search(r"Failed to resolve '([^']+)'", text)
    if host:
        return f"cannot resolve {host[1]}: no network or DNS"
    return f"{type(exc).__name__}: {text[:120]}"


def features_to_pois(features: Any) -> pd.DataFrame:
    """Turn an osmnx features GeoDataFrame into ``category, name, value, lon, lat`` (centroids)."""
    from planner.io._osm import poi_category

    columns = ["category", "name", "value", "lon", "lat"]
    if features is None or len(features) == 0:
        return pd.DataFrame(columns=columns)
    projected = features.to_crs(features.estimate_utm_crs())
    centroids = projected.geometry.centroid.to_crs("EPSG:4326")
    keys = [k for k in ("amenity", "shop", "office", "tourism", "name") if k in features.columns]
    records = features[keys].astype(object).where(features[keys].notna(), None).to_dict("records")
    rows = []
    for tags, point in zip(records, centroids, strict=True):
        cat = poi_category({k: v for k, v in tags.items() if isinstance(v, str)})
        if cat and point is not None and not point.is_empty:
            rows.append((cat[0], tags.get("name") or "", cat[1], point.x, point.y))
    return pd.DataFrame(rows, columns=columns)


def write_entry(entry: CacheEntry, graph: Any, pois: pd.DataFrame, *, key: dict[str, Any]) -> None:
    """Write an osmnx graph (GraphML) and a POI table (GeoPackage) as a complete cache entry."""
    import osmnx as ox

    tmp_graph = entry.graphml.with_name(f".{entry.graphml.name}.{os.getpid()}.tmp")
    tmp_pois = entry.pois.with_name(f".{entry.pois.stem}.{os.getpid()}.tmp.gpkg")
    try:
        ox.save_graphml(graph, tmp_graph)
        os.replace(tmp_graph, entry.graphml)
        write_pois(tmp_pois, pois)
        os.replace(tmp_pois, entry.pois)
    finally:
        tmp_graph.unlink(missing_ok=True)
        tmp_pois.unlink(missing_ok=True)
    write_json_atomic(
        entry.meta,
        {
            **key,
            "graph_nodes": graph.number_of_nodes(),
            "graph_edges": graph.number_of_edges(),
            "pois": len(pois),
        },
    )


def write_pois(path: Path, pois: pd.DataFrame) -> None:
    """Write a ``category, name, value, lon, lat`` table as a WGS84 point GeoPackage."""
    import geopandas as gpd

    frame = gpd.GeoDataFrame(
        pois[["category", "name", "value"]].astype(str).reset_index(drop=True),
        geometry=gpd.points_from_xy(pois["lon"].astype(float), pois["lat"].astype(float)),
        crs="EPSG:4326",
    )
    frame.to_file(path, driver="GPKG", layer="pois")


def read_pois(entry: CacheEntry) -> pd.DataFrame:
    """Read the cached POIs as ``category, name, value, lon, lat``."""
    import pyogrio

    frame = pyogrio.read_dataframe(entry.pois)
    if len(frame) == 0:
        return pd.DataFrame(
            {c: pd.Series(dtype=object) for c in ("category", "name", "value")}
        ).assign(lon=pd.Series(dtype=float), lat=pd.Series(dtype=float))
    return pd.DataFrame(
        {
            "category": frame["category"].astype(object),
            "name": frame["name"].fillna("").astype(object),
            "value": frame["value"].astype(object),
            "lon": frame.geometry.x.to_numpy(float),
            "lat": frame.geometry.y.to_numpy(float),
        }
    )


def read_graph(entry: CacheEntry) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read an osmnx GraphML file into node (``osmid, x, y``) and edge tables, without osmnx.

    Edge columns: ``u``, ``v``, ``osmid`` (the way, first id when a list) and the way tags osmnx
    keeps (``highway``, ``name``, ``ref``, ``maxspeed``, ``oneway``, ``access``, ...), as strings.
    """
    keys: dict[str, str] = {}
    nodes: list[tuple[int, float, float]] = []
    edges: list[dict[str, str]] = []
    try:
        for _, elem in ET.iterparse(entry.graphml, events=("end",)):
            tag = elem.tag.rsplit("}", 1)[-1]
            if tag == "key":
                keys[elem.get("id", "")] = elem.get("attr.name", "")
            elif tag == "node":
                data = _data(elem, keys)
                nodes.append((int(elem.get("id", "0")), float(data["x"]), float(data["y"])))
                elem.clear()
            elif tag == "edge":
                data = _data(elem, keys)
                data["u"], data["v"] = elem.get("source", ""), elem.get("target", "")
                edges.append(data)
                elem.clear()
    except (ET.ParseError, KeyError, ValueError) as exc:
        raise DataError(
            f"cached graph {entry.graphml}: unreadable ({exc!r}); delete it to fetch again"
        ) from None
    node_frame = pd.DataFrame(nodes, columns=["osmid", "x", "y"])
    edge_frame = pd.DataFrame(edges)
    for column in ("highway", "name", "ref", "maxspeed", "osmid"):
        if column not in edge_frame:
            edge_frame[column] = ""
    edge_frame["u"] = edge_frame["u"].astype(np.int64)
    edge_frame["v"] = edge_frame["v"].astype(np.int64)
    edge_frame["osmid"] = [_first_int(s) for s in edge_frame["osmid"].fillna("")]
    edge_frame["highway"] = [_first_str(s) for s in edge_frame["highway"].fillna("")]
    return node_frame, edge_frame


def _data(elem: ET.Element, keys: dict[str, str]) -> dict[str, str]:
    return {keys.get(d.get("key", ""), ""): d.text or "" for d in elem if d.tag.endswith("data")}


def _first_int(text: str) -> int:
    match = re.search(r"-?\d+", str(text))
    return int(match.group()) if match else 0


def _first_str(text: str) -> str:
    """``"['primary', 'secondary']"`` (a simplified osmnx edge) -> ``"primary"``."""
    text = str(text)
    if text.startswith("["):
        match = re.search(r"'([^']*)'", text)
        return match.group(1) if match else ""
    return text
