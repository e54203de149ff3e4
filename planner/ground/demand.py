"""Demand proxies: where charging is needed, as weighted points on the network.

Demand is measured in **person-equivalents**: the total demand of an area equals the resident
population that GeoNames places attribute to the area (below), and the configured weights decide
where that total sits. Four sources are computed per network node, each in its own unit (kept,
unweighted, in :attr:`DemandPoints.components`):

``population`` (residents)
    Every GeoNames place (CC-BY 4.0) within ``place_margin_km`` of the network spreads its
    population with an exponential density ``P / (2 pi b^2 k) * exp(-r / b)`` truncated at
    ``r = cutoff_decay_lengths * b`` (``k`` normalises the truncated kernel to ``P``). The decay
    length is ``b = max(decay_km, sqrt(P / (2 pi max_density_per_km2)))``, so big cities spread
    further instead of piling up. Densities are evaluated on a square grid (``grid_cell_m``) and
    only cells inside the convex hull of the network's nodes count: when a city is much bigger
    than the extract only the share of its kernel that falls inside the extract is counted. With
    ``combine_places="max"`` (default) a cell takes the largest density of any place, because
    GeoNames lists districts inside their city (Shanghai and Puxi and Huangpu ...), which a sum
    would count twice; ``"sum"`` adds them. Each cell's residents go to its nearest node.
``poi`` (person-equivalents per point of interest)
    Each POI of the network counts ``poi_person_equivalents[category]`` at its nearest node
    (within ``poi_snap_m``).
``road`` (class-weighted km)
    Each directed edge adds ``length_km * road_class_weights[highway]`` (a relative daily
    traffic, residential street = 1), half to each end node.
``user`` (the file's own ``demand`` unit)
    Optional points from :func:`read_user_points`, at their nearest node (within
    ``user_snap_m``).

Each source ``k`` becomes a share ``s_k = c_k / sum(c_k)``; demand at a node is
``T * sum_k(w_k * s_k) / sum_k(w_k)`` over the sources present, with ``w_k`` the ``*_weight``
and ``T`` the population total. Without any resident in range (``T = 0``) ``T`` falls back to the
POI and user totals (then to the class-weighted km) and a warning is logged. The weights and
person-equivalents per POI and road class are planner assumptions, not measurements: calibrate
them with local counts where available.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from planner.core._points import lonlat_table
from planner.core.errors import DataError, InputError, describe
from planner.core.fields import check_params, param
from planner.ground.network import RoadNetwork, snap_to_nodes
from planner.io.scenario import params_from_mapping

logger = logging.getLogger(__name__)

DEMAND_UNIT = "person-equivalents"
SOURCES = ("population", "poi", "road", "user")

DEFAULT_POI_PERSON_EQUIVALENTS: Mapping[str, float] = MappingProxyType(
    {"amenity": 5.0, "shop": 5.0, "office": 10.0, "tourism": 5.0, "parking": 20.0, "fuel": 20.0}
)
# Relative daily traffic of a road class (residential street = 1): planner assumption.
DEFAULT_ROAD_CLASS_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 50.0,
        "motorway_link": 10.0,
        "trunk": 30.0,
        "trunk_link": 6.0,
        "primary": 20.0,
        "primary_link": 4.0,
        "secondary": 10.0,
        "secondary_link": 2.0,
        "tertiary": 5.0,
        "tertiary_link": 1.0,
        "unclassified": 2.0,
        "residential": 1.0,
        "living_street": 0.5,
        "service": 0.5,
    }
)


@dataclass(frozen=True, eq=False)
class DemandPoints:
    """Demand at points snapped to network nodes.

    Attributes
    ----------
    node_idx
        Index of the nearest network node of each point, int64, shape ``(m,)``.
    x_m, y_m, lon, lat
        Point coordinates (projected metres and WGS84 degrees).
    demand
        Non-negative demand of each point in ``unit`` (person-equivalents: residents, plus
        points of interest and road traffic converted to residents by the configured weights).
    region
        Region code (US state, Chinese province) of each point, ``""`` where unknown; object array.
    components
        Per-source demand before weighting (``"population"``, ``"poi"``, ``"road"``, ``"user"``).
    """

    node_idx: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    demand: np.ndarray
    region: np.ndarray
    components: dict[str, np.ndarray] = field(default_factory=dict)
    unit: str = DEMAND_UNIT

    @property
    def total(self) -> float:
        """Total demand."""
        return float(self.demand.sum())


# Peak residential density of a place's kernel when ``max_density_per_km2`` is not set, by
# country. US: the densest large-city cores reach ~10,000/km2 (Census 2020 urban areas; Manhattan
# is an outlier at ~29,000). CN: the central districts of Shanghai reach ~30,000/km2 (Huangpu
# ~32,000, Jing'an ~25,000, 2020 census district figures).
MAX_DENSITY_PER_KM2: dict[str, float] = {"US": 10_000.0, "CN": 30_000.0}


@dataclass(frozen=True)
class DemandConfig:
    """Parameters of :func:`build_demand` (see the module notes for the model).

    ``poi_person_equivalents`` and ``road_class_weights`` may name only some keys: the others
    keep their defaults (:data:`DEFAULT_POI_PERSON_EQUIVALENTS`,
    :data:`DEFAULT_ROAD_CLASS_WEIGHTS`).
    """

    population_weight: float = param(0.6, low=0.0)
    poi_weight: float = param(0.2, low=0.0)
    road_weight: float = param(0.2, low=0.0)
    user_weight: float = param(1.0, low=0.0)
    decay_km: float = param(1.5, low=0.0, low_open=True)
    max_density_per_km2: float | None = param(None, low=0.0, low_open=True)
    cutoff_decay_lengths: float = param(4.0, low=0.0, low_open=True)
    place_margin_km: float = param(25.0, low=0.0)
    min_population: int = param(1000, low=0)
    combine_places: Literal["max", "sum"] = param("max")
    grid_cell_m: float = param(250.0, low=0.0, low_open=True)
    poi_snap_m: float = param(500.0, low=0.0)
    user_snap_m: float = param(2000.0, low=0.0)
    poi_person_equivalents: Mapping[str, float] = field(
        default_factory=lambda: DEFAULT_POI_PERSON_EQUIVALENTS
    )
    road_class_weights: Mapping[str, float] = field(
        default_factory=lambda: DEFAULT_ROAD_CLASS_WEIGHTS
    )

    def __post_init__(self) -> None:
        check_params(self)
        for name, defaults in (
            ("poi_person_equivalents", DEFAULT_POI_PERSON_EQUIVALENTS),
            ("road_class_weights", DEFAULT_ROAD_CLASS_WEIGHTS),
        ):
            object.__setattr__(self, name, _merge_table(name, getattr(self, name), defaults))

    def __hash__(self) -> int:
        values = (getattr(self, f.name) for f in dataclasses.fields(self))
        return hash(
            tuple(tuple(sorted(v.items())) if isinstance(v, Mapping) else v for v in values)
        )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, where: str = "demand") -> DemandConfig:
        """Build a config from a scenario table; unknown keys raise :class:`InputError`."""
        return params_from_mapping(cls, mapping, where=where)


def _merge_table(
    name: str, table: Mapping[str, Any], defaults: Mapping[str, float]
) -> Mapping[str, float]:
    """Defaults overridden by ``table``; unknown keys and bad values raise InputError."""
    if not isinstance(table, Mapping):
        raise InputError(f"{name}: expected a table of key = number, got {describe(table)}")
    unknown = sorted(set(table) - set(defaults))
    if unknown:
        raise InputError(
            f"{name}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"valid keys are {', '.join(sorted(defaults))}"
        )
    merged = dict(defaults)
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise InputError(f"{name}: key {key!r} expected a number >= 0, got {value!r}")
        merged[key] = float(value)
    return MappingProxyType(merged)


def build_demand(
    network: RoadNetwork,
    *,
    config: DemandConfig | None = None,
    user_points: str | Path | pd.DataFrame | None = None,
    country: str | None = None,
    places: pd.DataFrame | None = None,
) -> DemandPoints:
    """Build demand points on the network's nodes from places, POIs, roads and user points.

    Parameters
    ----------
    network
        The road network.
    config
        Model parameters; ``None`` uses :class:`DemandConfig` defaults.
    user_points
        Optional user demand: a CSV/GeoJSON path (see :func:`read_user_points`) or a frame
        with ``lon``, ``lat``, ``demand``.
    country
        ISO code (``"US"``, ``"CN"``) whose GeoNames places are used; ``None`` uses every
        country's places near the network.
    places
        Places already loaded with :func:`nearby_places` (reading GeoNames takes seconds);
        ``None`` loads them.

    Returns
    -------
    DemandPoints
        One point per node with positive demand, in node order.
    """
    config = config or DemandConfig()
    if config.max_density_per_km2 is None:
        peak = MAX_DENSITY_PER_KM2.get(str(country or "").upper(), MAX_DENSITY_PER_KM2["US"])
        config = dataclasses.replace(config, max_density_per_km2=peak)
    if not isinstance(network, RoadNetwork):
        raise InputError(f"network: expected a RoadNetwork, got {type(network).__name__}")
    places = _places_for(network, places, config=config, country=country)
    components: dict[str, np.ndarray] = {
        "population": population_at_nodes(network, places, config=config),
        "poi": poi_at_nodes(network, config=config),
        "road": road_at_nodes(network, config=config),
    }
    if user_points is not None:
        frame = (
            _check_points(user_points, Path("<user_points frame>"))
            if isinstance(user_points, pd.DataFrame)
            else read_user_points(user_points)
        )
        components["user"] = user_at_nodes(network, frame, config=config)
    demand = _combine(components, config)
    keep = np.flatnonzero(demand > 0)
    region = _nearest_region(network, places)[keep]
    parts = ", ".join(f"{k} {v.sum():.0f}" for k, v in components.items())
    logger.info(
        "demand %s: %d points, total %.0f (%s)", network.name, keep.size, demand.sum(), parts
    )
    return DemandPoints(
        node_idx=keep.astype(np.int64),
        x_m=network.x_m[keep],
        y_m=network.y_m[keep],
        lon=network.lon[keep],
        lat=network.lat[keep],
        demand=demand[keep],
        region=region,
        components={k: v[keep] for k, v in components.items()},
    )


def _places_for(
    network: RoadNetwork, places: pd.DataFrame | None, *, config: DemandConfig, country: str | None
) -> pd.DataFrame:
    """The given places (checked) or those loaded around the network."""
    if places is None:
        return nearby_places(
            network,
            margin_km=config.place_margin_km,
            country=country,
            min_population=config.min_population,
        )
    if not {"population", "x_m", "y_m", "admin1"} <= set(places.columns):
        raise InputError(
            "places: expected a frame from nearby_places (population, x_m, y_m, admin1), "
            f"got columns {', '.join(map(str, places.columns))}"
        )
    return places


def nearby_places(
    network: RoadNetwork, *, margin_km: float, country: str | None, min_population: int = 1000
) -> pd.DataFrame:
    """GeoNames places within ``margin_km`` of the network's box, with projected ``x_m, y_m``."""
    from pyproj import Transformer

    from planner.io.places import expand_bbox, load_places

    countries = [country.upper()] if country else None
    bbox = expand_bbox(network.bounds_lonlat(), margin_km)
    places = load_places(countries, min_population=min_population, bbox_lonlat=bbox)
    x, y = Transformer.from_crs("EPSG:4326", network.crs, always_xy=True).transform(
        places["lon"].to_numpy(float), places["lat"].to_numpy(float)
    )
    return places.assign(x_m=np.asarray(x, dtype=float), y_m=np.asarray(y, dtype=float))


def population_at_nodes(
    network: RoadNetwork, places: pd.DataFrame, *, config: DemandConfig
) -> np.ndarray:
    """Residents per node from place kernels evaluated on a grid inside the network's hull."""
    from scipy.spatial import cKDTree

    cx, cy, cell_m = _hull_grid(network, config.grid_cell_m)
    density = np.zeros(cx.size)
    if cx.size == 0 or len(places) == 0:
        return np.zeros(network.n_nodes)
    tree = cKDTree(np.column_stack([cx, cy]))
    c = config.cutoff_decay_lengths
    norm = 1.0 - (1.0 + c) * math.exp(-c)
    for pop, px, py in places[["population", "x_m", "y_m"]].itertuples(index=False):
        peak = config.max_density_per_km2 or MAX_DENSITY_PER_KM2["US"]
        b_km = max(config.decay_km, math.sqrt(pop / (2 * math.pi * peak)))
        cells = np.asarray(tree.query_ball_point([px, py], r=c * b_km * 1000.0), dtype=np.int64)
        if cells.size == 0:
            continue
        r_km = np.hypot(cx[cells] - px, cy[cells] - py) / 1000.0
        rho = pop / (2 * math.pi * b_km**2 * norm) * np.exp(-r_km / b_km)
        if config.combine_places == "max":
            density[cells] = np.maximum(density[cells], rho)
        else:
            density[cells] += rho
    residents = density * (cell_m / 1000.0) ** 2
    node, _ = snap_to_nodes(network, cx, cy)
    return np.bincount(node, weights=residents, minlength=network.n_nodes)


def _hull_grid(network: RoadNetwork, cell_m: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Centres of grid cells inside the convex hull of the nodes (cells grow past 250,000)."""
    import shapely

    x0, x1 = float(network.x_m.min()), float(network.x_m.max())
    y0, y1 = float(network.y_m.min()), float(network.y_m.max())
    cell_m = max(cell_m, math.sqrt((x1 - x0) * (y1 - y0) / 250_000.0))
    gx, gy = np.meshgrid(
        np.arange(x0 + cell_m / 2, x1, cell_m), np.arange(y0 + cell_m / 2, y1, cell_m)
    )
    hull = shapely.convex_hull(shapely.multipoints(np.column_stack([network.x_m, network.y_m])))
    if hull.area <= 0:
        return np.array([]), np.array([]), cell_m
    inside = shapely.contains_xy(hull, gx.ravel(), gy.ravel())
    return gx.ravel()[inside], gy.ravel()[inside], cell_m


def poi_at_nodes(network: RoadNetwork, *, config: DemandConfig) -> np.ndarray:
    """Person-equivalents of the network's POIs at their nearest node (within ``poi_snap_m``)."""
    pois = network.pois
    out = np.zeros(network.n_nodes)
    if len(pois) == 0:
        return out
    node, dist = snap_to_nodes(network, pois.geometry.x.to_numpy(), pois.geometry.y.to_numpy())
    value = pois["category"].map(dict(config.poi_person_equivalents)).fillna(0.0).to_numpy(float)
    ok = dist <= config.poi_snap_m
    np.add.at(out, node[ok], value[ok])
    return out


def road_at_nodes(network: RoadNetwork, *, config: DemandConfig) -> np.ndarray:
    """Class-weighted km of the edges at each node (half of each directed edge to each end)."""
    edges = network.edges
    weight = edges["highway"].map(dict(config.road_class_weights)).fillna(0.0).to_numpy(float)
    half = edges["length_m"].to_numpy(float) / 1000.0 * weight / 2.0
    n = network.n_nodes
    return np.bincount(edges["u"].to_numpy(), half, n) + np.bincount(edges["v"].to_numpy(), half, n)


def user_at_nodes(
    network: RoadNetwork, points: pd.DataFrame, *, config: DemandConfig
) -> np.ndarray:
    """User demand at the nearest node of each point; points beyond ``user_snap_m`` are dropped."""
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", network.crs, always_xy=True).transform(
        points["lon"].to_numpy(float), points["lat"].to_numpy(float)
    )
    node, dist = snap_to_nodes(network, np.asarray(x), np.asarray(y))
    ok = dist <= config.user_snap_m
    if (~ok).any():
        logger.warning(
            "user demand: %d of %d points lie more than %.0f m from the network and are ignored",
            int((~ok).sum()),
            ok.size,
            config.user_snap_m,
        )
    out = np.zeros(network.n_nodes)
    np.add.at(out, node[ok], points["demand"].to_numpy(float)[ok])
    return out


def _combine(components: dict[str, np.ndarray], config: DemandConfig) -> np.ndarray:
    """Weighted mix of the sources' shares, scaled to the population total (module notes)."""
    totals = {k: float(v.sum()) for k, v in components.items()}
    weights = {k: float(getattr(config, f"{k}_weight")) for k in components if totals[k] > 0}
    if not weights or sum(weights.values()) <= 0:
        raise InputError(
            "demand weights: every source with data has weight 0 (or no source has data); "
            "give population_weight, poi_weight, road_weight or user_weight > 0"
        )
    total = totals["population"]
    if total <= 0:
        total = totals["poi"] + totals.get("user", 0.0) or totals["road"]
        logger.warning(
            "demand: no GeoNames resident in range of the network; the total falls back to "
            "POI and user person-equivalents (%.0f)",
            total,
        )
    mix = sum(w * components[k] / totals[k] for k, w in weights.items())
    return np.asarray(total * mix / sum(weights.values()), dtype=float)


def _nearest_region(network: RoadNetwork, places: pd.DataFrame) -> np.ndarray:
    """GeoNames admin-1 code of the nearest place of each node, ``""`` without places."""
    if len(places) == 0:
        return np.full(network.n_nodes, "", dtype=object)
    from scipy.spatial import cKDTree

    tree = cKDTree(places[["x_m", "y_m"]].to_numpy(float))
    _, idx = tree.query(np.column_stack([network.x_m, network.y_m]))
    return places["admin1"].astype(str).to_numpy(dtype=object)[idx]


def read_user_points(path: str | Path) -> pd.DataFrame:
    """Read user demand points: CSV with ``lon, lat, demand`` or GeoJSON/GPKG points.

    CSV columns may also be called ``longitude``/``latitude`` (any case). Spatial files need a
    ``demand`` property and point geometries (reprojected to WGS84).

    Returns
    -------
    pandas.DataFrame
        ``lon``, ``lat``, ``demand`` (float, demand >= 0).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"user_points: file {path} does not exist; give a CSV or GeoJSON file")
    if path.suffix.lower() in (".csv", ".txt"):
        try:
            raw = pd.read_csv(path, encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"user_points: {path} is not a readable CSV ({exc})") from None
        raw.columns = [str(c).strip().lower() for c in raw.columns]
        frame = raw.rename(columns={"longitude": "lon", "lng": "lon", "latitude": "lat"})
    else:
        frame = _read_spatial_points(path)
    return _check_points(frame, path)


def user_points_from_frame(frame: pd.DataFrame, *, weight: str = "demand") -> pd.DataFrame:
    """User demand points from a table in memory, checked as :func:`read_user_points` does.

    Parameters
    ----------
    frame
        A GeoDataFrame of points (any CRS; reprojected to WGS84) or a DataFrame with ``lon``
        and ``lat`` columns.
    weight
        The column holding each point's demand (person-equivalents, >= 0).

    Returns
    -------
    pandas.DataFrame
        ``lon``, ``lat``, ``demand`` (float).
    """
    import geopandas as gpd

    if not isinstance(frame, pd.DataFrame):
        raise InputError(
            f"demand: expected a GeoDataFrame of points with a {weight!r} column or a file "
            f"path, got {type(frame).__name__}; pass e.g. geopandas.read_file('demand.geojson')"
        )
    label = Path(f"<{type(frame).__name__} of {len(frame)} rows>")
    if weight not in frame.columns:
        raise DataError(
            f"demand: {label} has no weight column {weight!r} (has "
            f"{', '.join(map(str, frame.columns))}); pass demand_column= naming it"
        )
    table = frame.drop(columns=["demand"], errors="ignore") if weight != "demand" else frame
    table = table.rename(columns={weight: "demand"})
    if isinstance(table, gpd.GeoDataFrame):
        table = lonlat_table(table, what="demand", source=label)
    return _check_points(table, label)


def _read_spatial_points(path: Path) -> pd.DataFrame:
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError and friends
        raise DataError(
            f"user_points: {path} is not a readable GeoJSON/GeoPackage ({exc})"
        ) from None
    return lonlat_table(gdf, what="user_points", source=path)


def _check_points(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    missing = [c for c in ("lon", "lat", "demand") if c not in frame.columns]
    if missing:
        raise DataError(
            f"user_points: {path} lacks column(s) {', '.join(missing)} (has "
            f"{', '.join(map(str, frame.columns))}); give lon, lat and demand"
        )
    frame = frame[["lon", "lat", "demand"]]
    if len(frame) == 0:
        raise DataError(
            f"user_points: {path} holds no points; give at least one lon, lat, demand row"
        )
    out = frame.apply(pd.to_numeric, errors="coerce").astype(float)
    bad = ~np.isfinite(out.to_numpy()).all(axis=1)
    bad |= ~out["lon"].between(-180, 180) | ~out["lat"].between(-90, 90) | (out["demand"] < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"user_points: {path} row {row + 1} has lon/lat/demand {frame.iloc[row].tolist()}; "
            "expected numbers with -180 <= lon <= 180, -90 <= lat <= 90, demand >= 0"
        )
    return out.reset_index(drop=True)
