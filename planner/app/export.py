"""Write a plan's files: sites and corridors as GeoJSON, ``regions.csv``, ``summary.json``;
or its tables in any vector format (:func:`write_plan_layers`: GeoPackage with one layer per
table, FlatGeobuf, GeoParquet, ...).

The tables are GeoDataFrames in WGS84 (:func:`sites_frame`, :func:`corridors_frame`,
:func:`regions_frame`), coordinates rounded to 6 decimals (~0.1 m); every format is written from
them. GeoJSON follows RFC 7946 and carries a foreign member ``attribution`` crediting
OpenStreetMap (ODbL) and GeoNames (CC-BY 4.0), and on national plans Natural Earth / FTChinese
boundaries and the US Census / leiii/census population; GeoPackage and FlatGeobuf layers carry it
as their description, GeoParquet in its metadata. Every file is written atomically. National plans
add ``iso_3166_2`` beside ``state`` (the ISO 3166-2 code of the state / province polygon the site
stands in, see :mod:`planner.ground.sites`).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from planner import ATTRIBUTION
from planner.core.errors import InputError, OutputError, describe
from planner.core.units import M_PER_MI
from planner.io._atomic import _jsonable, write_json_atomic, write_text_atomic
from planner.strategies.base import Plan

logger = logging.getLogger(__name__)

# Columns that are geometry or internal indices, not properties.
_NON_PROPERTIES = frozenset({"node_idx", "x_m", "y_m", "lon", "lat"})
WGS84 = "EPSG:4326"
PLAN_PRODUCTS = (
    "sites.geojson",
    "corridors.geojson",
    "regions.csv",
    "summary.json",
    "map.html",
    "plan.gpkg",
    "sites.parquet",
    "corridors.parquet",
    "regions.parquet",
)
#: The formats :func:`write_plan` writes a plan's tables in (``planner ... --format``).
PLAN_FORMATS = ("geojson", "gpkg", "parquet")


def _clean(value: Any) -> Any:
    """A JSON-safe scalar: numpy types to Python, NaN to ``None``."""
    value = _jsonable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _attribution(plan: Plan) -> str:
    """OpenStreetMap and GeoNames, plus the ground's other sources (national boundaries, census
    population, Travel Mapping highways)."""
    return "; ".join([ATTRIBUTION, *plan.ground.extra_credits()])


def sites_frame(plan: Plan) -> gpd.GeoDataFrame:
    """The plan's sites as WGS84 points (rounded to 6 decimals, ~0.1 m) with their properties.

    The properties are the columns of ``plan.sites`` less the internal node index and the
    projected and geographic coordinates, which the geometry carries.
    """
    sites = plan.sites
    props = [c for c in sites.columns if c not in _NON_PROPERTIES]
    lon = np.round(sites["lon"].to_numpy(dtype=float), 6)
    lat = np.round(sites["lat"].to_numpy(dtype=float), 6)
    return gpd.GeoDataFrame(
        sites[props].reset_index(drop=True), geometry=shapely.points(lon, lat), crs=WGS84
    )


def corridors_frame(plan: Plan) -> gpd.GeoDataFrame:
    """The ground's corridors as WGS84 lines with the plan's corridor table as properties.

    A corridor the table does not list (a strategy without a corridor rule) gets its modelled
    ``length_mi`` only.
    """
    ground = plan.ground
    table = plan.corridors.set_index("corridor") if len(plan.corridors) else pd.DataFrame()
    rows, lines = [], []
    for corridor in ground.corridors:
        coords = np.column_stack(
            [ground.node_lon[corridor.node_idx], ground.node_lat[corridor.node_idx]]
        ).round(6)
        props: dict[str, Any] = {"corridor": corridor.corridor_id}
        if corridor.corridor_id in table.index:
            row = table.loc[corridor.corridor_id]
            if isinstance(row, pd.DataFrame):
                row = row.iloc[0]
            props.update({str(k): v for k, v in row.items()})
        else:
            props["length_mi"] = round(corridor.length_m / M_PER_MI, 3)
        rows.append(props)
        lines.append(shapely.LineString(coords) if len(coords) >= 2 else None)
    frame = pd.DataFrame(rows, columns=None if rows else ["corridor", "length_mi"])
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(lines, crs=WGS84), crs=WGS84)


def regions_frame(plan: Plan) -> gpd.GeoDataFrame:
    """The plan's per-region table as a GeoDataFrame: on a national plan each state's or
    province's polygon (:func:`planner.ground.boundaries.load_boundaries`), else empty geometry."""
    regions = plan.regions.reset_index(drop=True)
    shapes: list[Any] = [None] * len(regions)
    if plan.ground.scale == "national" and "region" in regions.columns:
        from planner.ground.boundaries import load_boundaries

        bounds = load_boundaries(plan.ground.country, include_sar=True)
        by_code = dict(zip(bounds["region"], bounds.geometry, strict=True))
        shapes = [by_code.get(str(code)) for code in regions["region"]]
    return gpd.GeoDataFrame(regions, geometry=gpd.GeoSeries(shapes, crs=WGS84), crs=WGS84)


#: The tables of a plan, in the order they are written, with their builders.
LAYERS = {"sites": sites_frame, "corridors": corridors_frame, "regions": regions_frame}


def plan_layers(plan: Plan) -> tuple[str, ...]:
    """The layers a plan has: ``sites``, then ``corridors`` and ``regions`` when not empty."""
    present = {
        "sites": True,
        "corridors": bool(plan.ground.corridors),
        "regions": len(plan.regions) > 0,
    }
    return tuple(name for name in LAYERS if present[name])


def feature_collection(
    frame: gpd.GeoDataFrame, *, name: str, attribution: str = ATTRIBUTION
) -> dict[str, Any]:
    """Return ``frame`` (WGS84) as an RFC 7946 FeatureCollection dict crediting the data."""
    props = frame.drop(columns=frame.geometry.name).to_dict(orient="records")
    features = [
        {
            "type": "Feature",
            "geometry": geom,
            "properties": {str(k): _clean(v) for k, v in rec.items()},
        }
        for geom, rec in zip(_geometries(frame.geometry), props, strict=True)
    ]
    return {
        "type": "FeatureCollection",
        "name": name,
        "attribution": attribution,
        "features": features,
    }


def _geometries(geometry: gpd.GeoSeries) -> list[dict[str, Any] | None]:
    """GeoJSON geometry dicts (points straight from their coordinate array: 10^5 sites)."""
    if len(geometry) and (geometry.geom_type == "Point").all():
        xy = shapely.get_coordinates(geometry.array).tolist()
        return [{"type": "Point", "coordinates": pair} for pair in xy]
    return [None if g is None else shapely.geometry.mapping(g) for g in geometry.array]


def sites_feature_collection(plan: Plan) -> dict[str, Any]:
    """Return the plan's sites as an RFC 7946 FeatureCollection (a dict)."""
    return feature_collection(
        sites_frame(plan),
        name=f"{plan.strategy} sites, {plan.ground.name}",
        attribution=_attribution(plan),
    )


def corridors_feature_collection(plan: Plan) -> dict[str, Any]:
    """Return the plan's corridors as LineStrings with ``Plan.corridors`` columns as properties."""
    return feature_collection(
        corridors_frame(plan),
        name=f"{plan.strategy} corridors, {plan.ground.name}",
        attribution=_attribution(plan),
    )


def write_geojson(collection: dict[str, Any], path: str | Path) -> Path:
    """Write a FeatureCollection atomically (compact separators, UTF-8)."""
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return write_text_atomic(path, text + "\n")


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame as CSV atomically."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return write_text_atomic(path, buffer.getvalue())


def plan_attribution(plan: Plan) -> str:
    """The credit line of a plan's files and ``summary.json``: OpenStreetMap, GeoNames and the
    ground's other sources."""
    return _attribution(plan)


def write_plan(
    plan: Plan, out_dir: str | Path, *, formats: Sequence[str] = ("geojson",)
) -> dict[str, Path]:
    """Write a plan's files into ``out_dir``: its tables in each of ``formats``, ``regions.csv``
    and ``summary.json``.

    ``formats`` among :data:`PLAN_FORMATS`: ``geojson`` writes ``sites.geojson`` and
    ``corridors.geojson``, ``gpkg`` one ``plan.gpkg`` with a layer per table, ``parquet``
    ``sites.parquet``, ``corridors.parquet`` and ``regions.parquet`` (GeoParquet). Corridors and
    regions are written only when the plan has them. Returns the written paths by product name.
    """
    out = Path(out_dir)
    written = {
        name: write_plan_layers(plan, out / name, layers=layers)
        for name, layers in plan_files(plan, formats).items()
    }
    if len(plan.regions):
        written["regions.csv"] = write_csv(plan.regions, out / "regions.csv")
    summary = dict(plan.summary)
    summary.setdefault("attribution", _attribution(plan))
    written["summary.json"] = write_json_atomic(out / "summary.json", summary)
    logger.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written


def check_formats(formats: Sequence[str], *, option: str = "formats") -> tuple[str, ...]:
    """``formats`` without repeats, each one of :data:`PLAN_FORMATS`; else :class:`InputError`
    naming ``option``."""
    items = (formats,) if isinstance(formats, str) else tuple(formats)
    bad = [f for f in items if f not in PLAN_FORMATS]
    if bad or not items:
        shown = repr(",".join(map(str, items))) if option.startswith("--") else describe(formats)
        raise InputError(
            f"{option}: expected one or more of {', '.join(PLAN_FORMATS)}, got {shown}; "
            "e.g. geojson,gpkg"
        )
    return tuple(dict.fromkeys(items))


def plan_files(plan: Plan, formats: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The vector files :func:`write_plan` writes for ``formats``, with the layers of each."""
    layers = plan_layers(plan)
    files: dict[str, tuple[str, ...]] = {}
    for fmt in check_formats(formats):
        if fmt == "gpkg":
            files["plan.gpkg"] = layers
            continue
        for layer in layers:
            if fmt == "geojson" and layer == "regions":
                continue  # regions.csv holds them
            files[f"{layer}.{fmt}"] = (layer,)
    return files


# --- any vector format: GeoPackage, FlatGeobuf, GeoParquet, GeoJSON, ... ----------------------

#: Drivers chosen by file extension; other extensions are left to pyogrio's own detection.
DRIVERS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".fgb": "FlatGeobuf",
    ".parquet": "Parquet",
    ".geoparquet": "Parquet",
}
#: Drivers that hold several layers in one file.
MULTI_LAYER_DRIVERS = frozenset({"GPKG", "SQLite", "OpenFileGDB"})
# Drivers whose layers take a DESCRIPTION creation option (shown by QGIS): the attribution.
_DESCRIBED = frozenset({"GPKG", "FlatGeobuf"})


def vector_driver(path: str | Path, driver: str | None = None) -> str:
    """The driver that writes ``path``: ``driver`` if given, else chosen by the extension.

    ``.geojson``/``.json`` (GeoJSON), ``.gpkg`` (GPKG), ``.fgb`` (FlatGeobuf) and
    ``.parquet``/``.geoparquet`` (GeoParquet, through pyarrow) are known; any other extension
    pyogrio recognises (``.shp``, ``.csv``, ``.kml``, ...) works too.
    """
    import pyogrio

    writable = {"Parquet", *pyogrio.list_drivers(write=True)}
    if driver is not None:
        if driver not in writable:
            raise InputError(
                f"driver: expected a vector format pyogrio writes (e.g. GPKG, FlatGeobuf, "
                f"GeoJSON, Parquet), got {describe(driver)}; or leave it out to use the extension"
            )
        return driver
    name = Path(path).name.lower()
    for suffix, known in DRIVERS.items():
        if name.endswith(suffix):
            return known
    try:
        return str(pyogrio.raw.detect_write_driver(str(path)))
    except ValueError:
        raise InputError(
            f"path: cannot tell a vector format from the extension of {path}; use .geojson, "
            ".gpkg, .fgb or .parquet, or pass driver= (e.g. driver='GPKG')"
        ) from None


def write_plan_layers(
    plan: Plan,
    path: str | Path,
    *,
    driver: str | None = None,
    layers: Sequence[str] | None = None,
) -> Path:
    """Write a plan's tables to one vector file, atomically.

    Parameters
    ----------
    plan
        The plan.
    path
        The file; its extension chooses the format unless ``driver`` is given.
    driver
        A pyogrio driver name (``"GPKG"``, ``"FlatGeobuf"``, ``"GeoJSON"``, ...) or
        ``"Parquet"`` (GeoParquet).
    layers
        Tables to write, among ``sites``, ``corridors`` and ``regions``. By default every table
        the plan has (:func:`plan_layers`) in a multi-layer format (GeoPackage), ``sites``
        alone in the others, which hold one table per file.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    drv = vector_driver(path, driver)
    names = _layer_names(plan, drv, layers)
    if not path.parent.is_dir():
        raise OutputError(
            f"path: expected a file in an existing folder, got {path}; create {path.parent} first"
        )
    frames = {name: LAYERS[name](plan) for name in names}
    if drv == "GeoJSON":
        (name,) = names
        title = f"{plan.strategy} {name}, {plan.ground.name}"
        collection = feature_collection(frames[name], name=title, attribution=_attribution(plan))
        return write_geojson(collection, path)
    with _staging(path) as tmp:
        for name, frame in frames.items():
            _write_layer(frame, tmp, driver=drv, layer=name, attribution=_attribution(plan))
    logger.info("wrote %s (%s: %s)", path, drv, ", ".join(names))
    return path


def _layer_names(plan: Plan, driver: str, layers: Sequence[str] | None) -> tuple[str, ...]:
    multi = driver in MULTI_LAYER_DRIVERS
    if layers is None:
        return plan_layers(plan) if multi else ("sites",)
    names = (layers,) if isinstance(layers, str) else tuple(layers)
    unknown = [n for n in names if n not in LAYERS]
    if unknown or not names or len(set(names)) < len(names):
        raise InputError(
            f"layers: expected distinct names among {', '.join(LAYERS)}, got {describe(layers)}"
        )
    if len(names) > 1 and not multi:
        raise InputError(
            f"layers: a {driver} file holds one table, got {', '.join(names)}; write one file "
            "per layer or use a .gpkg"
        )
    return names


def _write_layer(
    frame: gpd.GeoDataFrame, path: Path, *, driver: str, layer: str, attribution: str
) -> None:
    """Append ``layer`` to the file at ``path`` (GeoParquet through pyarrow, the rest pyogrio)."""
    import pyogrio

    if driver == "Parquet":
        _write_geoparquet(frame, path, attribution=attribution)
        return
    options: dict[str, str] = {}
    if driver in _DESCRIBED:
        options["DESCRIPTION"] = attribution
    if driver == "CSV":
        options["GEOMETRY"] = "AS_XY"  # X and Y columns (no geometry is written otherwise)
    if driver == "FlatGeobuf" and frame.geometry.isna().any():
        options["SPATIAL_INDEX"] = "NO"  # its spatial index cannot hold empty geometries
    pyogrio.write_dataframe(
        frame, path, layer=layer, driver=driver, append=path.exists(), layer_options=options
    )


def _write_geoparquet(frame: gpd.GeoDataFrame, path: Path, *, attribution: str) -> None:
    """GeoParquet with the attribution in the file's key-value metadata."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    buffer.seek(0)
    table = pq.read_table(buffer)
    meta = {**(table.schema.metadata or {}), b"attribution": attribution.encode("utf-8")}
    pq.write_table(table.replace_schema_metadata(meta), path)


@contextlib.contextmanager
def _staging(path: Path) -> Iterator[Path]:
    """A path in a temporary folder beside ``path``; every file written there (a shapefile has
    several) then replaces its namesake beside ``path``, so no reader sees a half-written file."""
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield folder / path.name
        for made in sorted(folder.iterdir()):
            os.chmod(made, 0o644)
            os.replace(made, path.parent / made.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
