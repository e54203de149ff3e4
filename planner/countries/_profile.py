"""The country profile: every fact and data file that makes one country's plans.

A :class:`CountryProfile` is pure data (file names, CRS, boxes, fact names); the ground
builders (:mod:`planner.ground.regions`, :mod:`planner.ground.boundaries`,
:mod:`planner.ground.corridors`,
:mod:`planner.ground.national_demand`, :mod:`planner.ground.build`, ...) read it and hold no country
branch of their own. It imports nothing of planner beyond :mod:`planner.io._data` and
:mod:`planner.core.errors`, so any module may depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from planner.core.errors import DataError
from planner.io._data import data_path

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class CountryProfile:
    """One country's facts and data files.

    Attributes
    ----------
    code
        Lower-case code used on the command line and in outputs (``"us"``).
    name
        Name shown in outputs (``"United States"``).
    crs
        Projected metric CRS of the national ground (an equal-area projection).
    bbox
        Lon/lat box ``(west, south, east, north)`` in which the country's facts apply to a city.
    osm_bbox
        Lon/lat box of the country's motorways when read from a country-wide PBF.
    default_strategy
        Strategy of ``planner national`` when none is given.
    region_file
        Region table (states, provinces): one row per region with population and EV stock.
    boundary_file
        GeoJSON of the region polygons (``region``, ``iso_3166_2``, ``name``).
    credit
        Credit of the boundaries and census data, shown with national plans.
    route_table
        Official lengths of the corridor routes (``route_id``, ``name``, ``length_source``,
        ``pieces``, and ``official_length_<unit>``).
    route_length_unit
        ``"mi"`` or ``"km"``: the unit of the route table's official lengths.
    demand_file
        National demand points (``lon``, ``lat``, ``population``, ``region``), or, with
        ``demand_spread_over_places``, one row per prefecture with ``in_lon``/``in_lat`` too.
    demand_source
        Description of the demand in ``summary.json``.
    max_ports_fact, mean_flow_fact
        Names of the policy facts (``data/policy_facts.csv``): the cap of ports at one site and
        the mean corridor traffic the gravity model is calibrated to.
    population_param
        Field of the us-nevi parameters holding the country's census population.
    boundary_extra
        Regions of the boundary file that are not planned (China's SARs and Taiwan), kept only
        when asked for.
    waypoint_file
        Corridor waypoints (rows of this country have ``country == code``).
    demand_spread_over_places
        Spread each demand row's population over its populated places (China's prefectures).
    places_file
        Populated places (``name``, ``lon``, ``lat``, ``population``, ``admin1``) where GeoNames
        has none for the country; ``None`` reads GeoNames.
    ev_national_series
        Monthly national EV stock series to which regional figures are brought (China).
    ev_stock_basis
        What a region's ``ev_stock`` counts: ``"bev"`` (battery-electric only, the US) or
        ``"nev"`` (battery-electric and plug-in hybrid, China).
    admin1_numeric
        GeoNames admin-1 codes are numbers (zero-padded to two digits) rather than letters.
    ref_style
        Road refs as ``"dash"`` (``"I-70"``) or ``"compact"`` (``"G4"``).
    map_views
        Named views of national maps, ``(name, (south, west, north, east))``, the first opening
        the map (the US: Lower 48, Alaska, Hawaii); empty: the map fits the plan.
    data_dir
        Folder of the data files; ``None`` is planner's shipped ``data/``.
    """

    code: str
    name: str
    crs: str
    bbox: Box
    osm_bbox: Box
    default_strategy: str
    region_file: str
    boundary_file: str
    credit: str
    route_table: str
    route_length_unit: Literal["mi", "km"]
    demand_file: str
    demand_source: str
    max_ports_fact: str
    mean_flow_fact: str
    population_param: str
    boundary_extra: tuple[str, ...] = ()
    waypoint_file: str = "highway_waypoints.csv.gz"
    demand_spread_over_places: bool = False
    places_file: str | None = None
    ev_national_series: str | None = None
    ev_stock_basis: Literal["bev", "nev"] = "bev"
    admin1_numeric: bool = False
    ref_style: Literal["dash", "compact"] = "dash"
    map_views: tuple[tuple[str, Box], ...] = ()
    data_dir: Path | None = None

    def path(self, name: str) -> Path:
        """The path of the data file ``name`` of this country."""
        if self.data_dir is None:
            return data_path(name)
        path = Path(self.data_dir) / name
        if not path.exists():
            raise DataError(
                f"country {self.code!r}: data file {name!r} is missing from {path.parent}"
            )
        return path

    def contains(self, lon: float, lat: float) -> bool:
        """Whether the point lies in the country's :attr:`bbox`."""
        west, south, east, north = self.bbox
        return west <= lon <= east and south <= lat <= north
