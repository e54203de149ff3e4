"""Region codes shared by the strategies: clean codes, and the region of a node.

* :func:`region_codes` turns any column of region codes into ``str`` codes, ``""`` for missing.
* :func:`nearest_point_value` gives each node the value (e.g. the region code) of the demand
  point nearest to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from planner.ground.model import Ground


def region_codes(values: Any) -> np.ndarray:
    """Region codes as an object array of str, ``""`` for missing."""
    return pd.Series(values, dtype=object).fillna("").astype(str).to_numpy(dtype=object)


def nearest_point_value(ground: Ground, nodes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` (one per demand point) of the demand point nearest to each of ``nodes``.

    Parameters
    ----------
    ground
        Ground whose demand points and node coordinates are used (projected metres).
    nodes
        Node indices.
    values
        One value per demand point of ``ground``, e.g. its region code.

    Returns
    -------
    numpy.ndarray
        One value per node; an object array of ``""`` when there are no nodes or no demand points.
    """
    from scipy.spatial import cKDTree

    d = ground.demand
    if nodes.size == 0 or d.demand.size == 0:
        return np.full(nodes.size, "", dtype=object)
    _, idx = cKDTree(np.column_stack([d.x_m, d.y_m])).query(
        np.column_stack([ground.node_x_m[nodes], ground.node_y_m[nodes]])
    )
    return values[idx]
