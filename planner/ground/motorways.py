"""Real motorway corridors from an OpenStreetMap PBF (data © OpenStreetMap contributors, ODbL 1.0).

:func:`corridor_network_from_pbf` streams a country-wide ``.osm.pbf`` with pyosmium in two passes
(the wanted ways and their node references, then the locations of those nodes only), so memory grows
with the motorway network, not with the file. It returns the same
:class:`~planner.ground.corridors.CorridorNetwork` as the embedded tables, routes named by ``ref``
(``"I 70"`` becomes ``"I-70"``):

1. every way is sampled every ``grid_m / 2`` metres and its samples are binned into square cells
   of ``grid_m`` (default 1 km) in the country's projected CRS: the two carriageways of a dual
   carriageway, and crossing roads at an interchange, fall into the same cells;
2. each ``ref`` becomes one route per connected piece: the shortest path between the two cells of
   the piece farthest apart (a ring road such as a beltway is closed by a second, disjoint path);
3. the union of the route paths is the graph; chains of degree-2 cells are contracted into edges
   no longer than ``max_segment_km``. Edge lengths are distances between cell centroids (the mean
   of the samples in a cell), summed along the contracted chain.

Ways without a ``ref`` are not part of any route and are dropped.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.core.errors import DataError, InputError, describe
from planner.countries import country_codes, get_country
from planner.ground.corridors import CRS, CorridorNetwork, Route
from planner.io._osm import osmium_source

logger = logging.getLogger(__name__)

_HIGHWAYS = ("motorway", "trunk", "primary", "motorway_link", "trunk_link")
_MIN_PIECE_KM = 1.0
Cell = tuple[int, int]


@dataclass(frozen=True)
class _Ways:
    """Wanted ways: their refs and node-id sequences."""

    refs: list[tuple[str, ...]]
    nodes: list[np.ndarray]


def corridor_network_from_pbf(
    path: str | Path,
    *,
    country: str | None = None,
    highway: Sequence[str] = ("motorway", "trunk"),
    max_segment_km: float = 10.0,
    grid_m: float = 1000.0,
) -> CorridorNetwork:
    """Build a corridor network from the motorways (and trunks) of an OSM PBF.

    Parameters
    ----------
    path
        An ``.osm.pbf`` (or any file libosmium reads), e.g. a Geofabrik country extract.
    country
        ``"us"`` or ``"cn"`` (sets the projected CRS and the ref style); ``None`` infers it from
        where the roads are.
    highway
        ``highway=*`` values to keep.
    max_segment_km
        Longest edge after contraction, in kilometres.
    grid_m
        Cell size in metres used to merge carriageways and junctions.

    Returns
    -------
    CorridorNetwork
        Routes named by normalised ``ref``; a ref in several disconnected pieces gives
        ``"I-69"``, ``"I-69 (2)"``, ... longest first. ``node_name`` and ``node_region`` are ``""``.
    """
    from pyproj import Transformer

    src = _check_inputs(path, country, highway, max_segment_km, grid_m)
    ways = _read_ways(src, tuple(highway))
    locations = _read_locations(src, {int(n) for arr in ways.nodes for n in arr})
    code = _check_country(country, locations)
    to_xy = Transformer.from_crs("EPSG:4326", CRS[code], always_xy=True)
    cells = _CellGraph(grid_m)
    for refs, polyline in _projected_ways(ways, locations, to_xy):
        cells.add_way(polyline, tuple(_normal_ref(r, code) for r in refs))
    paths = _route_paths(cells)
    net = _contract(cells, paths, max_segment_km * 1000.0, code)
    if net.n_edges == 0:
        raise DataError(
            f"{src.name}: its {len(ways.nodes)} {'/'.join(highway)} ways form no route of "
            f">= {_MIN_PIECE_KM:g} km; give a country-wide .osm.pbf (e.g. a Geofabrik extract)"
        )
    logger.info(
        "%s: %d motorway ways -> %d routes, %d nodes, %d edges",
        src.name,
        len(ways.nodes),
        len(net.routes),
        net.n_nodes,
        net.n_edges,
    )
    return net


def _check_inputs(
    path: str | Path,
    country: str | None,
    highway: Sequence[str],
    max_segment_km: float,
    grid_m: float,
) -> Path:
    problems = []
    src = Path(path)
    if not src.is_file():
        problems.append(f"path: expected an existing .osm.pbf file, got {str(src)!r}")
    if country is not None and country not in CRS:
        codes = ", ".join(map(repr, country_codes()))
        problems.append(f"country: expected one of {codes} or None, got {describe(country)}")
    if isinstance(highway, str) or not highway or not set(highway) <= set(_HIGHWAYS):
        problems.append(
            f"highway: expected a tuple of values from {_HIGHWAYS}, got {describe(highway)}"
        )
    if not (
        isinstance(max_segment_km, int | float)
        and math.isfinite(max_segment_km)
        and max_segment_km > 0
    ):
        problems.append(
            f"max_segment_km: expected a positive number, got {describe(max_segment_km)}"
        )
    if not (isinstance(grid_m, int | float) and 10.0 <= grid_m <= 10_000.0):
        problems.append(f"grid_m: expected metres between 10 and 10000, got {describe(grid_m)}")
    if problems:
        raise InputError("; ".join(problems))
    return src


def _read_ways(path: Path, highway: tuple[str, ...]) -> _Ways:
    """Pass 1: refs and node ids of the wanted ways (no locations)."""
    import osmium

    refs: list[tuple[str, ...]] = []
    nodes: list[np.ndarray] = []
    wanted = osmium.filter.TagFilter(*[("highway", h) for h in highway])
    try:
        way: Any
        for way in osmium.FileProcessor(osmium_source(path), osmium.osm.WAY).with_filter(wanted):
            ref = way.tags.get("ref") or ""
            refs.append(tuple(r.strip() for r in ref.split(";") if r.strip()))
            nodes.append(np.fromiter((n.ref for n in way.nodes), np.int64))
    except RuntimeError as err:
        raise DataError(f"{path.name}: libosmium could not read the file ({err})") from err
    if not nodes:
        raise DataError(
            f"{path.name}: no ways with highway in {highway}; "
            "is this an OSM extract with motorways?"
        )
    return _Ways(refs, nodes)


def _read_locations(path: Path, ids: set[int]) -> dict[int, tuple[float, float]]:
    """Pass 2: lon/lat of the needed nodes only."""
    import osmium

    out: dict[int, tuple[float, float]] = {}
    reader = osmium.FileProcessor(osmium_source(path), osmium.osm.NODE).with_filter(
        osmium.filter.IdFilter(ids)
    )
    node: Any
    for node in reader:
        if node.location.valid():
            out[node.id] = (node.location.lon, node.location.lat)
    if len(out) < len(ids):
        logger.warning(
            "%s: %d of %d way nodes have no location", path.name, len(ids) - len(out), len(ids)
        )
    if len(out) < 2:
        raise DataError(f"{path.name}: the motorway ways refer to nodes that are not in the file")
    return out


def _check_country(country: str | None, locations: dict[int, tuple[float, float]]) -> str:
    if country is not None:
        return country
    lon, lat = np.median(np.array(list(locations.values())), axis=0)
    for code in country_codes():
        w, s, e, n = get_country(code).osm_bbox
        if w <= lon <= e and s <= lat <= n:
            return code
    raise InputError(
        f"country: could not infer it from the data (median lon {lon:.2f}, lat {lat:.2f}); "
        "pass country='us' or country='cn'"
    )


def _projected_ways(
    ways: _Ways, locations: dict[int, tuple[float, float]], to_xy: object
) -> Iterable[tuple[tuple[str, ...], np.ndarray]]:
    """Yield each way (split where node locations are missing) as an (n, 2) projected polyline."""
    for refs, ids in zip(ways.refs, ways.nodes, strict=True):
        have = np.array([int(i) in locations for i in ids])
        for run in np.split(np.arange(ids.size), np.flatnonzero(~have)):
            run = run[have[run]]
            if run.size < 2:
                continue
            lonlat = np.array([locations[int(i)] for i in ids[run]])
            x, y = to_xy.transform(lonlat[:, 0], lonlat[:, 1])  # type: ignore[attr-defined]
            yield refs, np.column_stack([x, y])


def _normal_ref(ref: str, country: str) -> str:
    """``"I 70"`` -> ``"I-70"`` (US style); Chinese refs lose spaces (``"G 4"`` -> ``"G4"``)."""
    ref = " ".join(ref.split())
    if get_country(country).ref_style == "compact":
        return ref.replace(" ", "").upper()
    m = re.fullmatch(r"([A-Za-z]+)[ -]?(\d+[A-Za-z]?)(.*)", ref)
    return f"{m.group(1).upper()}-{m.group(2)}{m.group(3)}" if m else ref


class _CellGraph:
    """Grid cells touched by the ways, their centroids, adjacency and the refs on each edge."""

    def __init__(self, grid_m: float) -> None:
        self.grid_m = grid_m
        self._sum: dict[Cell, np.ndarray] = defaultdict(lambda: np.zeros(3))
        self.edge_refs: dict[tuple[Cell, Cell], set[str]] = defaultdict(set)

    def add_way(self, polyline: np.ndarray, refs: tuple[str, ...]) -> None:
        step = self.grid_m / 2.0
        seg = np.diff(polyline, axis=0)
        n = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / step)).astype(int)
        t = np.concatenate([np.arange(k) / k for k in n])
        start = np.repeat(polyline[:-1], n, axis=0)
        pts = np.vstack([start + np.repeat(seg, n, axis=0) * t[:, None], polyline[-1:]])
        ij = np.floor(pts / self.grid_m).astype(np.int64)
        for (i, j), (x, y) in zip(ij.tolist(), pts.tolist(), strict=True):
            acc = self._sum[(i, j)]
            acc += (x, y, 1.0)
        cells = [tuple(c) for c in ij.tolist()]
        for a, b in itertools.pairwise(cells):
            if a != b:
                key = (a, b) if a < b else (b, a)
                self.edge_refs[key].update(refs)  # type: ignore[arg-type]

    def centroid(self, cell: Cell) -> np.ndarray:
        acc = self._sum[cell]
        return acc[:2] / acc[2]

    def length(self, a: Cell, b: Cell) -> float:
        return float(np.hypot(*(self.centroid(a) - self.centroid(b))))


def _route_paths(cells: _CellGraph) -> dict[str, list[Cell]]:
    """One ordered cell path per connected piece of every ref."""
    adjacency: dict[str, dict[Cell, set[Cell]]] = defaultdict(lambda: defaultdict(set))
    for (a, b), refs in cells.edge_refs.items():
        for ref in refs:
            adjacency[ref][a].add(b)
            adjacency[ref][b].add(a)
    out: dict[str, list[Cell]] = {}
    for ref in sorted(adjacency):
        _stitch(adjacency[ref], cells, ref)
        pieces = [
            p for p in _pieces(adjacency[ref], cells) if _path_m(p, cells) >= _MIN_PIECE_KM * 1e3
        ]
        pieces.sort(key=lambda p: -_path_m(p, cells))
        for k, path in enumerate(pieces):
            out[ref if k == 0 else f"{ref} ({k + 1})"] = path
    return out


def _stitch(adj: dict[Cell, set[Cell]], cells: _CellGraph, ref: str) -> None:
    """Join pieces of one ref that come within 2 cells (gaps bridged in OSM by link ramps)."""
    comp = _components(adj)
    best: dict[tuple[int, int], tuple[float, Cell, Cell]] = {}
    for (i, j), c in comp.items():
        for di in range(-2, 3):
            for dj in range(-2, 3):
                other = (i + di, j + dj)
                d = comp.get(other)
                if d is not None and d > c:
                    gap = cells.length((i, j), other)
                    if gap < best.get((c, d), (math.inf,))[0]:
                        best[(c, d)] = (gap, (i, j), other)
    for _, a, b in best.values():
        adj[a].add(b)
        adj[b].add(a)
        cells.edge_refs[(a, b) if a < b else (b, a)].add(ref)


def _components(adj: dict[Cell, set[Cell]]) -> dict[Cell, int]:
    label: dict[Cell, int] = {}
    count = 0
    for start in adj:
        if start in label:
            continue
        stack, label[start] = [start], count
        count += 1
        while stack:
            for v in adj[stack.pop()]:
                if v not in label:
                    label[v] = label[start]
                    stack.append(v)
    return label


def _pieces(adj: dict[Cell, set[Cell]], cells: _CellGraph) -> list[list[Cell]]:
    """Longest shortest path of each connected component (closed into a loop for ring roads)."""
    seen: set[Cell] = set()
    paths = []
    for start in adj:
        if start in seen:
            continue
        dist, _ = _dijkstra(adj, cells, start)
        seen.update(dist)
        s = max(dist, key=dist.__getitem__)
        dist_s, prev = _dijkstra(adj, cells, s)
        t = max(dist_s, key=dist_s.__getitem__)
        path = _walk(prev, t)
        paths.append(_close_ring(adj, cells, path, set(dist)))
    return paths


def _close_ring(
    adj: dict[Cell, set[Cell]], cells: _CellGraph, path: list[Cell], comp: set[Cell]
) -> list[Cell]:
    """If much of the component lies away from the path (a ring road), add a disjoint way back."""
    near = _dilate(set(path), 2)
    if len(path) < 3 or len(comp - near) < 0.3 * len(comp):
        return path
    ends = _dilate({path[0], path[-1]}, 2)
    blocked = near - ends
    sub = {c: {d for d in nbrs if d not in blocked} for c, nbrs in adj.items() if c not in blocked}
    dist, prev = _dijkstra(sub, cells, path[-1])
    if path[0] not in dist:
        return path
    return path + _walk(prev, path[0])[1:]


def _dilate(cells: set[Cell], r: int) -> set[Cell]:
    """Cells within Chebyshev distance ``r`` of ``cells``."""
    return {
        (i + di, j + dj) for i, j in cells for di in range(-r, r + 1) for dj in range(-r, r + 1)
    }


def _dijkstra(
    adj: dict[Cell, set[Cell]], cells: _CellGraph, source: Cell
) -> tuple[dict[Cell, float], dict[Cell, Cell]]:
    dist: dict[Cell, float] = {source: 0.0}
    prev: dict[Cell, Cell] = {}
    heap = [(0.0, source)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v in adj.get(u, ()):
            nd = d + cells.length(u, v)
            if nd < dist.get(v, math.inf):
                dist[v], prev[v] = nd, u
                heapq.heappush(heap, (nd, v))
    return dist, prev


def _walk(prev: dict[Cell, Cell], target: Cell) -> list[Cell]:
    path = [target]
    while path[-1] in prev:
        path.append(prev[path[-1]])
    return path[::-1]


def _path_m(path: list[Cell], cells: _CellGraph) -> float:
    return sum(cells.length(a, b) for a, b in itertools.pairwise(path))


def _contract(
    cells: _CellGraph, paths: dict[str, list[Cell]], max_edge_m: float, country: str
) -> CorridorNetwork:
    """Keep junction/end cells and enough chain cells for edges <= ``max_edge_m``."""
    degree: dict[Cell, set[Cell]] = defaultdict(set)
    for path in paths.values():
        for a, b in itertools.pairwise(path):
            degree[a].add(b)
            degree[b].add(a)
    keep = {c for c, nbrs in degree.items() if len(nbrs) != 2}
    keep.update(p[0] for p in paths.values())
    keep.update(p[-1] for p in paths.values())
    for path in paths.values():
        _keep_spacing(path, keep, cells, max_edge_m)
    for _ in range(5):
        order, edges, routes, split = _assemble(cells, paths, keep)
        if not split:
            break
        keep.update(split)
    return _network(cells, order, edges, routes, country)


def _assemble(
    cells: _CellGraph, paths: dict[str, list[Cell]], keep: set[Cell]
) -> tuple[list[Cell], dict[tuple[int, int], float], list[Route], set[Cell]]:
    """Edges and routes over the kept cells; ``split`` holds cells that separate parallel chains."""
    order = sorted(keep)
    index = {c: i for i, c in enumerate(order)}
    edges: dict[tuple[int, int], float] = {}
    chains: dict[tuple[int, int], tuple[Cell, ...]] = {}
    routes, split = [], set()
    for ref, path in paths.items():
        idx, steps, acc, run = [index[path[0]]], [], 0.0, [path[0]]
        for a, b in itertools.pairwise(path):
            acc += cells.length(a, b)
            run.append(b)
            if b in keep:
                u, v = idx[-1], index[b]
                key, chain = (min(u, v), max(u, v)), tuple(run if u <= v else run[::-1])
                if key in chains and chains[key] != chain:
                    split.add(run[len(run) // 2] if len(run) > 2 else run[0])
                edges[key], chains[key] = acc, chain
                idx.append(v)
                steps.append(acc)
                acc, run = 0.0, [b]
        routes.append(_route(ref, idx, steps))
    split -= keep
    return order, edges, routes, split


def _keep_spacing(path: list[Cell], keep: set[Cell], cells: _CellGraph, max_edge_m: float) -> None:
    """Add cells to ``keep`` so that no run between kept cells along ``path`` exceeds the limit."""
    acc = 0.0
    for a, b in itertools.pairwise(path):
        step = cells.length(a, b)
        if acc + step > max_edge_m and a not in keep:
            keep.add(a)
            acc = 0.0
        acc = 0.0 if b in keep else acc + step


def _route(ref: str, idx: list[int], steps: list[float]) -> Route:
    return Route(
        route_id=ref,
        name=ref,
        official_length_km=math.nan,
        length_source="OpenStreetMap (ODbL); no official length",
        node_idx=np.asarray(idx, dtype=np.int64),
        chainage_m=np.r_[0.0, np.cumsum(steps)],
        control_cities=(),
    )


def _network(
    cells: _CellGraph,
    order: list[Cell],
    edges: dict[tuple[int, int], float],
    routes: list[Route],
    country: str,
) -> CorridorNetwork:
    from pyproj import Transformer

    xy = np.array([cells.centroid(c) for c in order]).reshape(-1, 2)
    lon, lat = Transformer.from_crs(CRS[country], "EPSG:4326", always_xy=True).transform(
        xy[:, 0], xy[:, 1]
    )
    n = len(order)
    if edges:
        uv = np.array(list(edges), dtype=np.int64)
        w = np.fromiter(edges.values(), float, len(edges))
        length = sp.csr_array(
            (np.r_[w, w], (np.r_[uv[:, 0], uv[:, 1]], np.r_[uv[:, 1], uv[:, 0]])), shape=(n, n)
        )
    else:
        length = sp.csr_array((n, n))
    return CorridorNetwork(
        country=country,
        crs=CRS[country],
        node_name=np.array([""] * n, dtype=object),
        node_lon=np.asarray(lon, float),
        node_lat=np.asarray(lat, float),
        node_x_m=xy[:, 0].copy(),
        node_y_m=xy[:, 1].copy(),
        node_region=np.array([""] * n, dtype=object),
        length_m=length,
        routes=tuple(routes),
    )
