"""``planner batch``: plan many cities at once, one Dask task per city.

Each city is planned with :func:`planner.plan_city` and written, like ``planner plan`` writes
it, into its own all-or-nothing folder ``<out>/<city>/`` (:func:`planner.io._outdir.output_folder`).
A city whose folder already holds complete results is skipped unless ``overwrite``; a city
that fails (unreadable file, no drivable road) is recorded with its one-line error and the
others go on. The collection files (:func:`write_collection`) are then rebuilt from every
city folder: ``cities.csv`` (one row of figures per city), ``all_sites.gpkg`` (every site,
with a ``city`` column) and ``index.html`` (a map of all cities linking to each city's map).
"""

from __future__ import annotations

import csv
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.core.errors import InputError

logger = logging.getLogger(__name__)

#: Extensions of the OSM extracts ``--osm-dir`` plans (one city each).
OSM_SUFFIXES = (".osm.pbf", ".osm.bz2", ".osm")
#: Files every complete city folder holds.
CITY_FILES = ("sites.geojson", "summary.json", "map.html")
#: The figures of ``cities.csv``, after ``city``, ``status``, ``error`` and ``source``.
FIGURES = (
    "sites",
    "ports",
    "capex_usd",
    "within_radius_covered_share",
    "within_radius_mean_distance_m",
    "nodes",
    "demand_points",
    "seconds",
    "cpu_seconds",
)
COLLECTION_FILES = ("cities.csv", "all_sites.gpkg", "index.html")


@dataclass(frozen=True)
class CityJob:
    """One city of a batch: where its network comes from and where its plan goes."""

    city: str
    source: str | tuple[float, float, float, float]
    out: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    overwrite: bool = False
    offline_assets: bool = False


@dataclass(frozen=True)
class CityResult:
    """What became of one city: ``status`` is ``planned``, ``skipped`` or ``failed``;
    ``seconds`` and ``cpu_seconds`` (the process's CPU time, its optimizer threads included)
    of a planned city's task."""

    city: str
    status: str
    error: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def city_name(text: str) -> str:
    """A folder name for a city: letters, digits, ``.``, ``-`` and ``_`` (others become ``_``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", text.strip()).strip("._")
    return name or "city"


def osm_dir_sources(osm_dir: str | Path) -> dict[str, str]:
    """The OSM extracts of ``osm_dir`` by city name (the file name without its extension)."""
    folder = Path(osm_dir)
    if not folder.is_dir():
        raise InputError(
            f"--osm-dir: expected a folder of OSM extracts, got {str(folder)!r} which is not a "
            "folder; give a folder holding .osm, .osm.bz2 or .osm.pbf files"
        )
    sources: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        suffix = next((s for s in OSM_SUFFIXES if path.name.endswith(s)), None)
        if suffix and path.is_file():
            sources.setdefault(city_name(path.name[: -len(suffix)]), str(path))
    if not sources:
        raise InputError(
            f"--osm-dir: no .osm, .osm.bz2 or .osm.pbf file in {folder}; give the folder of "
            "the extracts"
        )
    return sources


def places_sources(path: str | Path) -> dict[str, str | tuple[float, float, float, float]]:
    """The cities of a places CSV: a ``place`` column (a name osmnx geocodes) or ``west``,
    ``south``, ``east``, ``north`` columns (degrees); an optional ``name`` names the folder."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--places: cannot read {path} ({exc}); give a readable CSV") from None
    box = ("west", "south", "east", "north")
    sources: dict[str, str | tuple[float, float, float, float]] = {}
    for i, row in enumerate(rows, start=2):
        place = (row.get("place") or "").strip()
        try:
            source: Any = place or tuple(float(row[k]) for k in box)
        except (KeyError, TypeError, ValueError):
            raise InputError(
                f"--places: line {i} of {path} has neither a place nor four numbers "
                f"west,south,east,north; got {dict(row)!r}; fill one of them"
            ) from None
        name = city_name(row.get("name") or place or "_".join(f"{v:g}" for v in source))
        sources[name] = source
    if not sources:
        raise InputError(
            f"--places: {path} has no rows; expected a header with place (or west,south,"
            "east,north) and one row per city"
        )
    return sources


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished city plan (its folders are written all-or-nothing)."""
    return all((folder / name).is_file() for name in CITY_FILES)


def plan_city_job(job: CityJob) -> CityResult:
    """Plan and write one city (a Dask task); never raises: failures come back as results."""
    if is_complete(job.out) and not job.overwrite:
        return CityResult(job.city, "skipped")
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        _plan_and_write(job)
    except Exception as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        logger.warning("%s failed: %s", job.city, message)
        return CityResult(job.city, "failed", f"{type(exc).__name__}: {message}")
    return CityResult(
        job.city,
        "planned",
        seconds=round(time.perf_counter() - t0, 3),
        cpu_seconds=round(time.process_time() - cpu0, 3),
    )


def _plan_and_write(job: CityJob) -> None:
    """``planner plan`` for one city: :func:`planner.plan_city`, its files and its map."""
    from planner.app.api import plan_city
    from planner.app.export import PLAN_PRODUCTS, write_plan
    from planner.app.maps import city_map, write_map
    from planner.io._atomic import write_json_atomic
    from planner.io._outdir import output_folder

    options = dict(job.options)
    radius_min = options.get("radius_min")
    keep = [job.source] if isinstance(job.source, str) else []
    with output_folder(
        job.out, products=PLAN_PRODUCTS, replaces=PLAN_PRODUCTS, overwrite=job.overwrite, keep=keep
    ) as stage:
        net, load_s, network_layer = _network_and_layer(job.source, options.get("cache_dir"))
        plan = plan_city(net, **options)
        core = _with_load_time(plan.core, load_s)
        radius_m = float(plan.summary.get("params", {}).get("radius_km", 0.0)) * 1000.0
        coverage_radius = (radius_min * 60.0 if radius_min else radius_m) or None
        drawn = coverage_radius if plan.strategy == "coverage" else None
        # the service area (~10 % of a large city's task) is drawn meanwhile by an idle worker
        area = _service_area_aside(core, drawn)
        write_plan(core, stage)
        m = city_map(
            core,
            edges=core.ground.edges,
            coverage_radius_m=drawn,
            offline_assets=job.offline_assets,
            service_area=area,
            network=network_layer,
        )
        path = write_map(m, stage / "map.html", offline_assets=job.offline_assets)
        summary = {**core.summary, "map_html_bytes": path.stat().st_size}
        write_json_atomic(stage / "summary.json", summary)


#: Networks from this many nodes up have their map's service area computed as a task of its
#: own (:func:`planner.app._dask.aside`): ~0.2 s of work and more, against ~0.02 s for a task.
ASIDE_MIN_NODES = 5_000


def _network_and_layer(source: Any, cache_dir: Any) -> tuple[Any, float, Any]:
    """The city's network, its load time in seconds and, for a large network, its map layer
    made meanwhile by an idle worker (:func:`planner.app._dask.aside`), else ``None``."""
    import functools

    from planner.app._dask import aside
    from planner.app.maps._layers import edges_layer_json
    from planner.ground.network import load_network

    t0 = time.perf_counter()
    net = load_network(source, cache_dir=cache_dir)
    seconds = round(time.perf_counter() - t0, 3)
    if net.x_m.size < ASIDE_MIN_NODES or net.edges is None or not len(net.edges):
        return net, seconds, None
    return net, seconds, aside(functools.partial(edges_layer_json, net.edges, crs=net.crs))


def _with_load_time(plan: Any, seconds: float) -> Any:
    """``plan`` with the network's load time in its ``timings_s``, as ``planner plan`` has it
    (:func:`planner.plan_city` was given the loaded network)."""
    import dataclasses

    timings = dict(plan.summary.get("timings_s", {}))
    timings["loading network"] = seconds
    return dataclasses.replace(plan, summary={**plan.summary, "timings_s": timings})


def _service_area_aside(plan: Any, radius_m: float | None) -> Any:
    """The service area of ``plan``'s map as a task of its own on a Dask cluster (its ground
    sent without the map's network edges), or ``None``: the map computes it itself."""
    import dataclasses
    import functools

    from planner.app._dask import aside
    from planner.app.maps._layers import service_area_geometry

    if radius_m is None or not len(plan.sites) or plan.ground.node_x_m.size < ASIDE_MIN_NODES:
        return None
    slim = dataclasses.replace(plan, ground=dataclasses.replace(plan.ground, edges=None))
    return aside(functools.partial(service_area_geometry, slim, radius_m=radius_m))


def city_row(job: CityJob, result: CityResult) -> dict[str, Any]:
    """One row of ``cities.csv``: the city's status and, when it has a plan, its figures."""
    row: dict[str, Any] = {
        "city": job.city,
        "status": result.status,
        "error": result.error,
        "source": job.source if isinstance(job.source, str) else ",".join(map(str, job.source)),
    }
    row.update(dict.fromkeys(FIGURES, ""))
    if result.status == "failed" or not is_complete(job.out):
        return row
    summary = json.loads((job.out / "summary.json").read_text(encoding="utf-8"))
    sites = _read_sites(job.out)
    ground = summary.get("ground", {})
    row.update(
        sites=len(sites),
        ports=int(sites["ports"].sum()) if "ports" in sites else "",
        capex_usd=float(sites["capex_usd"].sum()) if "capex_usd" in sites else "",
        within_radius_covered_share=summary.get("within_radius_covered_share", ""),
        within_radius_mean_distance_m=summary.get("within_radius_mean_distance_m", ""),
        nodes=ground.get("nodes", ""),
        demand_points=ground.get("demand_points", ""),
        seconds=result.seconds if result.status == "planned" else "",
        cpu_seconds=result.cpu_seconds if result.status == "planned" else "",
    )
    return row


def _read_sites(folder: Path) -> Any:
    import geopandas as gpd

    return gpd.read_file(folder / "sites.geojson", engine="pyogrio")


def failed_count(results: Sequence[CityResult]) -> int:
    """How many cities failed."""
    return sum(r.status == "failed" for r in results)


def run_batch(
    jobs: Sequence[CityJob], *, scheduler: str | None = None, n_workers: int | None = None
) -> list[CityResult]:
    """Plan every city of ``jobs`` on a Dask cluster (one task each), in their order.

    ``scheduler``: a scheduler's address, ``None`` for a local cluster, or ``"synchronous"``
    for every city in this process (:func:`planner.app._dask.run_tasks`).
    """
    from planner.app._dask import run_tasks

    # largest extracts first: the longest task starts at once instead of ending the batch alone
    order = sorted(range(len(jobs)), key=lambda i: -source_size(jobs[i].source))
    done = run_tasks(
        plan_city_job,
        [jobs[i] for i in order],
        scheduler=scheduler,
        n_workers=n_workers,
        on_error=lambda job, message: CityResult(job.city, "failed", message),
    )
    results = dict(zip(order, done, strict=True))
    return [results[i] for i in range(len(jobs))]


#: About how many bytes of OSM XML one byte of each format holds (planet files: XML ~1.8 TB,
#: .osm.bz2 ~140 GB, .osm.pbf ~70 GB), so extracts in different formats compare by content.
XML_BYTES_PER_BYTE = {".osm.pbf": 25.0, ".osm.bz2": 13.0, ".osm": 1.0}


def source_size(source: str | tuple[float, ...]) -> float:
    """An extract's size as OSM XML bytes (0 for a place or a box, planned after the files).

    Orders a batch largest first: a city's plan costs roughly in proportion to its network.
    """
    path = Path(source) if isinstance(source, str) else None
    if path is None or not path.is_file():
        return 0.0
    suffix = next((s for s in OSM_SUFFIXES if path.name.endswith(s)), ".osm")
    return path.stat().st_size * XML_BYTES_PER_BYTE[suffix]


def write_collection(
    out: Path,
    jobs: Sequence[CityJob],
    results: Sequence[CityResult],
    *,
    offline_assets: bool = False,
) -> None:
    """``cities.csv``, ``all_sites.gpkg`` and ``index.html`` of the cities in ``out``.

    With ``offline_assets`` the index, like each city's map, draws no web tiles and links the
    copies of Leaflet and its styles in ``out/assets/`` (:func:`planner.app.maps.write_map`).
    """
    import pandas as pd

    from planner.app.export import write_csv

    rows = [city_row(job, result) for job, result in zip(jobs, results, strict=True)]
    write_csv(pd.DataFrame(rows), out / "cities.csv")
    planned = [job for job in jobs if is_complete(job.out)]
    _write_all_sites(out / "all_sites.gpkg", planned)
    _write_index(out / "index.html", planned, rows, offline_assets=offline_assets)


def _write_all_sites(path: Path, jobs: Sequence[CityJob]) -> None:
    """Every site of every planned city, with a ``city`` column, as one GeoPackage layer."""
    import geopandas as gpd
    import pandas as pd

    from planner import ATTRIBUTION
    from planner.app.export import _staging, _write_layer

    frames = []
    for job in jobs:
        sites = _read_sites(job.out)
        sites.insert(0, "city", job.city)
        frames.append(sites)
    if not frames:
        path.unlink(missing_ok=True)
        return
    merged = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    with _staging(path) as staged:
        _write_layer(merged, staged, driver="GPKG", layer="sites", attribution=ATTRIBUTION)


def _write_index(
    path: Path, jobs: Sequence[CityJob], rows: Sequence[dict[str, Any]], *, offline_assets: bool
) -> None:
    """A map of every planned city (its sites' extent) linking to the city's ``map.html``."""
    import folium

    from planner import ATTRIBUTION
    from planner.app.maps import write_map

    figures = {row["city"]: row for row in rows}
    # maxZoom: without a tile layer Leaflet has none (FIELD_NOTES)
    m = folium.Map(tiles=None if offline_assets else "OpenStreetMap", attr=ATTRIBUTION, maxZoom=18)
    bounds: list[list[float]] = []
    for job in jobs:
        west, south, east, north = _read_sites(job.out).total_bounds
        row = figures[job.city]
        link = f'<a href="{job.city}/map.html" target="_blank">{job.city}</a>'
        popup = f"{link}<br>{row['sites']} sites"
        if row["within_radius_covered_share"] != "":
            popup += f", {float(row['within_radius_covered_share']):.0%} of demand covered"
        folium.Rectangle([[south, west], [north, east]], color="#2563eb", weight=2).add_to(m)
        folium.Marker(
            [(south + north) / 2, (west + east) / 2], popup=folium.Popup(popup), tooltip=job.city
        ).add_to(m)
        bounds += [[south, west], [north, east]]
    if bounds:
        m.fit_bounds(bounds)
    failed = [r["city"] for r in rows if r["status"] == "failed"]
    note = f"{len(jobs)} cities planned" + (f"; failed: {', '.join(failed)}" if failed else "")
    title = f'<div style="font:14px sans-serif;padding:4px">planner batch: {note} ' + (
        '(see <a href="cities.csv">cities.csv</a>). ' + ATTRIBUTION + "</div>"
    )
    m.get_root().html.add_child(folium.Element(title))  # type: ignore[attr-defined]
    write_map(m, path, offline_assets=offline_assets)
