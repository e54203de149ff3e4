"""State and province polygons: which region, if any, a point stands in.

planner ships compact copies of the Natural Earth admin-1 polygons in ``data/``
(``boundaries_us.geojson``: 50 states + DC, 1:50m, public domain; ``boundaries_cn.geojson``: 31
mainland provinces + Hong Kong, Macau, Taiwan, Natural Earth 1:10m as simplified by
FTChinese/map-geojson, MIT (c) 2016 FTChinese), derived by ``scripts/derive_geo.py`` from
``../shared/data/geo/boundaries`` (topology-preserving simplification at 0.0001 degrees,
coordinates rounded to 6 decimals; none of the 85,395 US tract centres and the Chinese
prefecture and GeoNames points changes region against the full-resolution polygons).

:func:`load_boundaries` returns them as a GeoDataFrame; :func:`locate` gives the region and ISO
3166-2 code of many lon/lat points at once (prepared polygons, ``shapely.contains_xy``). Where
the Chinese polygons overlap (about 340 km2 along some provincial borders), the polygon listed
first in the file wins.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike

from planner.core.errors import InputError
from planner.countries import CountryProfile, get_country

logger = logging.getLogger(__name__)

BOUNDARY_COLUMNS = ("region", "iso_3166_2", "name", "geometry")


def national_credit(scale: str, country: str) -> str:
    """The boundary and census credit of a national plan of ``country`` (``""`` otherwise)."""
    return get_country(country).credit if scale == "national" else ""


def _check_country(country: str) -> CountryProfile:
    return get_country(country)


@functools.lru_cache(maxsize=4)
def _read(profile: CountryProfile, include_sar: bool) -> gpd.GeoDataFrame:
    frame = gpd.read_file(profile.path(profile.boundary_file))
    if profile.boundary_extra and not include_sar:
        frame = frame[~frame["region"].isin(profile.boundary_extra)]
    frame = frame[list(BOUNDARY_COLUMNS)].reset_index(drop=True)
    return frame.set_crs(4326, allow_override=True)


def load_boundaries(country: str, *, include_sar: bool = False) -> gpd.GeoDataFrame:
    """Return the state / province polygons of ``country``.

    Parameters
    ----------
    country
        ``"us"`` (50 states + DC) or ``"cn"`` (31 mainland provinces).
    include_sar
        China only: add Hong Kong, Macau and Taiwan (regions ``HK``, ``MO``, ``TW``).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per region, columns :data:`BOUNDARY_COLUMNS`: ``region`` (planner's code, as in
        ``data/us_states.csv`` / ``data/cn_provinces.csv``), ``iso_3166_2`` (the source polygons'
        own code: ``US-CA``, ``CN-44``), ``name``, ``geometry``; CRS EPSG:4326; in file order.
    """
    return _read(_check_country(country), bool(include_sar)).copy()


@dataclass(frozen=True, eq=False)
class Located:
    """Where points stand: ``region`` and ``iso_3166_2`` per point, ``""`` outside."""

    region: np.ndarray
    iso_3166_2: np.ndarray

    @property
    def inside(self) -> np.ndarray:
        """Whether each point stands in a region."""
        return self.region != ""


@functools.lru_cache(maxsize=4)
def _prepared(
    profile: CountryProfile, include_sar: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Prepared polygons, their bounds, region and ISO codes, in file order."""
    frame = _read(profile, include_sar)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    shapely.prepare(geoms)
    return (
        geoms,
        shapely.bounds(geoms),
        frame["region"].to_numpy(dtype=object),
        frame["iso_3166_2"].to_numpy(dtype=object),
    )


def locate(lon: ArrayLike, lat: ArrayLike, country: str, *, include_sar: bool = False) -> Located:
    """Region and ISO 3166-2 code of each lon/lat point of ``country``.

    Parameters
    ----------
    lon, lat
        WGS84 degrees, one value per point.
    country
        ``"us"`` or ``"cn"``.
    include_sar
        China only: also locate points in Hong Kong, Macau and Taiwan.

    Returns
    -------
    Located
        Object arrays aligned with the points; ``""`` for points in no polygon. A point on two
        overlapping polygons takes the one listed first in the boundary file.
    """
    x = np.asarray(lon, dtype=float).ravel()
    y = np.asarray(lat, dtype=float).ravel()
    if x.shape != y.shape:
        raise InputError(
            f"lon, lat: expected arrays of one length, got {x.size} and {y.size}; "
            "pass one value per point"
        )
    geoms, bounds, regions, isos = _prepared(_check_country(country), bool(include_sar))
    first = np.full(x.size, -1, dtype=np.int64)
    for k, (geom, (west, south, east, north)) in enumerate(zip(geoms, bounds, strict=True)):
        cand = np.flatnonzero((first < 0) & (x >= west) & (x <= east) & (y >= south) & (y <= north))
        if cand.size:
            first[cand[shapely.contains_xy(geom, x[cand], y[cand])]] = k
    found = first >= 0
    region = np.full(x.size, "", dtype=object)
    iso = np.full(x.size, "", dtype=object)
    region[found], iso[found] = regions[first[found]], isos[first[found]]
    return Located(region, iso)


__all__ = [
    "BOUNDARY_COLUMNS",
    "Located",
    "load_boundaries",
    "locate",
    "national_credit",
]
