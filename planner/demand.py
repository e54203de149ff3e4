"""Demand proxies: where charging is needed, as weighted points on the network.

CONTRACT (owned by the demand helper; keep the dataclass fields stable).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)

DEMAND_UNIT = "person-equivalents"


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
