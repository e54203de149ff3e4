"""Candidate charging sites: network nodes and parking/fuel POIs, reduced by clustering.

CONTRACT (owned by the candidates helper; keep the dataclass fields stable).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Candidates:
    """Candidate sites snapped to network nodes.

    Attributes
    ----------
    node_idx
        Network node index of each candidate, int64, unique.
    x_m, y_m
        Projected coordinates of those nodes in metres.
    source
        Where each candidate came from: ``"node"``, ``"parking"``, ``"fuel"`` or ``"corridor"``.
    """

    node_idx: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return int(self.node_idx.shape[0])
