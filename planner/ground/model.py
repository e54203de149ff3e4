"""The ground a strategy plans on: a city street network or a national corridor network.

A :class:`Ground` bundles what every strategy needs, in one projected metric CRS: the network
(nodes and directed edge lengths), demand points, candidate sites, highway corridors, regions
(states or provinces with their EV stock) and optional existing stations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner.ground.candidates import Candidates
from planner.ground.demand import DemandPoints

logger = logging.getLogger(__name__)

Scale = Literal["city", "national"]
#: A registered country code (:func:`planner.countries.country_codes`), lower case.
Country = str

REGION_COLUMNS = ("region", "name", "population", "ev_stock", "ev_source", "ev_fallback")


@dataclass(frozen=True, eq=False)
class Corridor:
    """One highway corridor: an ordered path of network nodes.

    Attributes
    ----------
    corridor_id
        Route id, e.g. ``"I-70"`` or ``"G4"``.
    node_idx
        Ground node indices in route order (consecutive nodes are adjacent on the network).
    chainage_m
        Distance along the route at each node in metres; starts at 0, non-decreasing.
    flow_veh_day
        Traffic on each of the ``len(node_idx) - 1`` segments in vehicles per day.
    official_length_km
        The route's official length where known (for the length check), else ``None``.
    source
        Where the route's facts come from.
    """

    corridor_id: str
    node_idx: np.ndarray
    chainage_m: np.ndarray
    flow_veh_day: np.ndarray
    official_length_km: float | None = None
    source: str = ""

    @property
    def length_m(self) -> float:
        """Modelled route length in metres."""
        return float(self.chainage_m[-1]) if self.chainage_m.size else 0.0


@dataclass(frozen=True, eq=False)
class ExistingStations:
    """Existing charging stations already snapped to the ground.

    ``node_idx`` is the nearest ground node, ``dc_ports``/``ac_ports`` the port counts.
    """

    name: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    node_idx: np.ndarray
    dc_ports: np.ndarray
    ac_ports: np.ndarray
    region: np.ndarray

    def __len__(self) -> int:
        return int(self.node_idx.shape[0])


@dataclass(frozen=True, eq=False)
class Ground:
    """Everything a strategy needs to plan one area, in one projected metric CRS.

    Attributes
    ----------
    name
        Area name shown in outputs.
    scale
        ``"city"`` (an OSM street network) or ``"national"`` (a corridor network).
    country
        Whose facts apply by default: a registered country code (:mod:`planner.countries`).
    crs
        Projected metric CRS of all ``*_m`` coordinates.
    node_x_m, node_y_m, node_lon, node_lat
        Node coordinates.
    length_m
        ``(n, n)`` CSR matrix of directed edge lengths in metres.
    demand
        Demand points snapped to nodes.
    candidates
        Candidate sites.
    corridors
        Highway corridors (may be empty at city scale when the area has no motorway).
    regions
        One row per region with :data:`REGION_COLUMNS`.
    existing
        Existing stations, or ``None``.
    edges
        Optional GeoDataFrame of network edges for maps (WGS84 or projected), may be ``None``.
    meta
        Free-form provenance (source file, counts) copied into ``summary.json``.
    evaluation
        Points on which comparison metrics are measured when they differ from ``demand``: at
        national scale the populated places themselves, since demand cells (~250 km2) are
        coarser than the 1-10 km distance bands. ``None`` means ``demand``.
    travel_time_s
        ``(n, n)`` CSR matrix of directed edge travel times in seconds, same pattern as
        ``length_m`` (city grounds; ``None`` on national grounds), for drive-time radii.
    """

    name: str
    scale: Scale
    country: Country
    crs: str
    node_x_m: np.ndarray
    node_y_m: np.ndarray
    node_lon: np.ndarray
    node_lat: np.ndarray
    length_m: sp.csr_array
    demand: DemandPoints
    candidates: Candidates
    corridors: tuple[Corridor, ...]
    regions: pd.DataFrame
    existing: ExistingStations | None = None
    edges: object | None = None
    meta: dict[str, object] = field(default_factory=dict)
    evaluation: DemandPoints | None = None
    travel_time_s: sp.csr_array | None = None

    def extra_credits(self) -> list[str]:
        """Data credits beyond OpenStreetMap and GeoNames: a national ground's boundaries and
        census population (:func:`planner.ground.boundaries.national_credit`) and its corridor
        geometry (``meta["corridor_attribution"]``, Travel Mapping)."""
        from planner.ground.boundaries import national_credit

        credits = [national_credit(self.scale, self.country)]
        credits.append(str(self.meta.get("corridor_attribution") or ""))
        return [c for c in credits if c]

    @property
    def n_nodes(self) -> int:
        """Number of network nodes."""
        return int(self.node_x_m.shape[0])
