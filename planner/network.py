"""Road networks: load a drivable OSM street network into projected arrays.

CONTRACT (owned by the network helper; keep the dataclass fields stable).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A drivable road network, largest strongly connected component, in a projected CRS.

    Attributes
    ----------
    name
        Human-readable name of the area (file stem, place name or bbox).
    crs
        Projected metric CRS of ``x_m``/``y_m`` and of the geometries (local UTM zone), e.g.
        ``"EPSG:32617"``.
    node_id
        OSM node ids, shape ``(n,)``, int64. Node ``i`` of every array is this node.
    x_m, y_m
        Projected coordinates in metres.
    lon, lat
        WGS84 coordinates in degrees.
    length_m
        ``(n, n)`` CSR matrix of directed edge lengths in metres (shortest of parallel edges).
    travel_time_s
        ``(n, n)`` CSR matrix of directed edge travel times in seconds, same pattern.
    edges
        One row per directed edge: ``u`` and ``v`` (node indices), ``highway`` (str), ``name``,
        ``ref``, ``speed_kph``, ``length_m``, ``travel_time_s`` and a projected LineString.
    pois
        Activity points of interest from the same source: ``category`` (amenity, shop, office,
        parking, fuel, tourism), ``name`` and a projected Point geometry. May be empty.
    """

    name: str
    crs: str
    node_id: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    length_m: sp.csr_array
    travel_time_s: sp.csr_array
    edges: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_id.shape[0])
