"""The ``grid-baseline`` strategy: a naive yardstick with no optimisation and no cost model.

The area is cut into square cells of ``spacing_km``; every cell holding at least
``min_cell_share`` of the demand gets one site at the candidate node nearest to the cell's
demand-weighted centre, with ``ports_per_site`` ports of ``power_kw``. It shows what an
optimiser adds over "a charger every so many kilometres". It has no cost model, so
``capex_usd`` is NaN and ``compare --same capex`` refuses it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from planner.core.fields import check_params, param
from planner.ground.model import Ground
from planner.strategies.base import Plan, StrategySpec


@dataclass(frozen=True)
class GridBaselineParams:
    """Cell size, the demand share a cell needs, and what each site gets."""

    spacing_km: float = param(5.0, low=0.0, low_open=True)
    min_cell_share: float = param(0.001, low=0.0, high=1.0)
    ports_per_site: int = param(4, low=1, high=10000)
    power_kw: float = param(150.0, low=0.0, low_open=True)

    def __post_init__(self) -> None:
        check_params(self)


def run(ground: Ground, params: GridBaselineParams, *, seed: int = 0) -> Plan:
    """One site per demand-holding grid cell (``seed`` is unused: the baseline is deterministic)."""
    d = ground.demand
    w = d.demand.astype(float)
    size = params.spacing_km * 1000.0
    cell = np.floor(np.column_stack([d.x_m, d.y_m]) / size).astype(np.int64)
    _, inverse = np.unique(cell, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    mass = np.bincount(inverse, weights=w)
    cx = np.bincount(inverse, weights=w * d.x_m) / np.maximum(mass, 1e-12)
    cy = np.bincount(inverse, weights=w * d.y_m) / np.maximum(mass, 1e-12)
    keep = mass >= params.min_cell_share * w.sum()
    cand = ground.candidates
    _, idx = cKDTree(np.column_stack([cand.x_m, cand.y_m])).query(
        np.column_stack([cx[keep], cy[keep]])
    )
    nodes = np.unique(np.asarray(cand.node_idx)[np.atleast_1d(idx)])
    n = nodes.size
    ports = np.full(n, params.ports_per_site, dtype=np.int64)
    dc = params.power_kw >= 50
    sites = pd.DataFrame(
        {
            "site_id": [f"G{i + 1:05d}" for i in range(n)],
            "kind": "grid_site",
            "node_idx": nodes,
            "x_m": ground.node_x_m[nodes],
            "y_m": ground.node_y_m[nodes],
            "lon": ground.node_lon[nodes],
            "lat": ground.node_lat[nodes],
            "ports": ports,
            "dc_ports": ports if dc else 0 * ports,
            "ac_ports": 0 * ports if dc else ports,
            "power_kw": params.power_kw,
            "demand_served": np.nan,
            "existing": False,
            "corridor": "",
            "state": "",
            "capex_usd": math.nan,
        }
    )
    summary = {
        "strategy": "grid-baseline",
        "params": dataclasses.asdict(params),
        "sites": n,
        "ports": int(ports.sum()),
        "cells_with_demand": int(keep.sum()),
    }
    return Plan("grid-baseline", ground, sites, pd.DataFrame(), pd.DataFrame(), summary)


SPEC = StrategySpec(
    name="grid-baseline",
    title="Uniform grid baseline (no optimisation, no cost model)",
    params_type=GridBaselineParams,
    run=run,
    has_cost_model=False,
)
