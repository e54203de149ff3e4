"""Synthetic plans for map tests and the map benchmark (no network, no data files)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pyproj import Transformer

from planner.core.units import M_PER_MI
from planner.ground.candidates import Candidates
from planner.ground.demand import DemandPoints
from planner.ground.model import REGION_COLUMNS, Corridor, Ground
from planner.strategies.base import Plan

US_KINDS = ("corridor_dc", "community_l2", "community_dc", "existing")
CN_KINDS = ("pile_station", "service_area", "swap_station")
_CITY = {"us": (-83.0, 39.96, "EPSG:32617"), "cn": (121.47, 31.23, "EPSG:32651")}
_NATION = {"us": (-98.0, 39.0, "EPSG:5070", 2.2e6), "cn": (110.0, 32.0, "EPSG:3415", 1.6e6)}


def synthetic_ground(
    *,
    scale: Literal["city", "national"] = "city",
    country: Literal["us", "cn"] = "us",
    n_nodes: int = 400,
    n_demand: int = 300,
    seed: int = 0,
) -> Ground:
    """A ground of random nodes around a city (10 km) or a country, two corridors, demand."""
    rng = np.random.default_rng(seed)
    if scale == "city":
        lon0, lat0, crs = _CITY[country]
        half_m = 10_000.0
    else:
        lon0, lat0, crs, half_m = _NATION[country]
    to_m = Transformer.from_crs(4326, crs, always_xy=True)
    to_deg = Transformer.from_crs(crs, 4326, always_xy=True)
    x0, y0 = to_m.transform(lon0, lat0)
    x, y = _scatter(rng, n_nodes, x0, y0, half_m, clustered=scale == "national")
    lon, lat = to_deg.transform(x, y)
    band = 0.01 * half_m
    east_west = np.flatnonzero(np.abs(y - y0) < band)
    north_south = np.flatnonzero(np.abs(x - x0) < band)
    corridors = (
        _corridor("I-70" if country == "us" else "G30", east_west[np.argsort(x[east_west])], x, y),
        _corridor(
            "I-71" if country == "us" else "G4", north_south[np.argsort(y[north_south])], x, y
        ),
    )
    pick = rng.integers(0, n_nodes, n_demand)
    demand = DemandPoints(
        node_idx=pick.astype(np.int64),
        x_m=x[pick],
        y_m=y[pick],
        lon=np.asarray(lon)[pick],
        lat=np.asarray(lat)[pick],
        demand=rng.gamma(2.0, 50.0, n_demand),
        region=np.array(["OH"] * n_demand, dtype=object),
    )
    empty = np.zeros(0)
    return Ground(
        name=f"Synthetic {scale} ({country})",
        scale=scale,
        country=country,
        crs=crs,
        node_x_m=x,
        node_y_m=y,
        node_lon=np.asarray(lon),
        node_lat=np.asarray(lat),
        length_m=sp.csr_array((n_nodes, n_nodes)),
        demand=demand,
        candidates=Candidates(empty.astype(np.int64), empty, empty, empty.astype(object)),
        corridors=corridors,
        regions=pd.DataFrame(columns=list(REGION_COLUMNS)),
    )


def _scatter(
    rng: np.random.Generator, n: int, x0: float, y0: float, half_m: float, *, clustered: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in a box, or (national) 70 % around 80 Zipf-weighted "cities"."""
    x = x0 + rng.uniform(-half_m, half_m, n)
    y = y0 + rng.uniform(-half_m * 0.6, half_m * 0.6, n)
    if clustered:
        centres = np.column_stack([x[:80], y[:80]])
        weight = 1.0 / np.arange(1, 81)
        pick = rng.choice(80, size=n, p=weight / weight.sum())
        near = rng.random(n) < 0.7
        spread = rng.normal(0.0, half_m * 0.015, (n, 2))
        x = np.where(near, centres[pick, 0] + spread[:, 0], x)
        y = np.where(near, centres[pick, 1] + spread[:, 1], y)
    return x, y


def _corridor(corridor_id: str, idx: np.ndarray, x: np.ndarray, y: np.ndarray) -> Corridor:
    steps = np.hypot(np.diff(x[idx]), np.diff(y[idx]))
    return Corridor(
        corridor_id=corridor_id,
        node_idx=idx.astype(np.int64),
        chainage_m=np.concatenate([[0.0], np.cumsum(steps)]),
        flow_veh_day=np.full(idx.size - 1, 20_000.0),
    )


def synthetic_plan(
    ground: Ground,
    *,
    n_sites: int = 40,
    strategy: str = "us-nevi",
    seed: int = 0,
    names: tuple[str, ...] = (),
    realistic: bool = False,
) -> Plan:
    """A plan with ``n_sites`` sites on random ground nodes, kinds cycling through the strategy's.

    ``names`` (if given) fill a ``name`` column, cycling: use it to plant hostile strings.
    ``realistic`` draws kinds with the shares the strategies produce instead of cycling.
    """
    rng = np.random.default_rng(seed)
    china = strategy.startswith("china")
    kinds = CN_KINDS if china else US_KINDS
    node = rng.integers(0, ground.n_nodes, n_sites)
    if realistic:  # shares roughly as the strategies produce them
        shares = (0.9, 0.02, 0.08) if china else (0.05, 0.7, 0.15, 0.1)
        kind = rng.choice(np.array(kinds, dtype=object), size=n_sites, p=shares)
    else:
        kind = np.array(kinds, dtype=object)[np.arange(n_sites) % len(kinds)]
    dc = np.where(np.isin(kind, ["corridor_dc", "community_dc", "service_area"]), 4, 0)
    ac = np.where(np.isin(kind, ["community_l2", "pile_station"]), 8, 0)
    sites = pd.DataFrame(
        {
            "site_id": [f"S-{i:06d}" for i in range(n_sites)],
            "kind": kind,
            "node_idx": node,
            "x_m": ground.node_x_m[node],
            "y_m": ground.node_y_m[node],
            "lon": ground.node_lon[node],
            "lat": ground.node_lat[node],
            "ports": dc + ac,
            "dc_ports": dc,
            "ac_ports": ac,
            "power_kw": np.where(dc > 0, 150.0, 11.5),
            "demand_served": rng.gamma(2.0, 30.0, n_sites),
            "existing": kind == "existing",
            "corridor": np.where(kind == "corridor_dc", ground.corridors[0].corridor_id, ""),
            "state": "OH",
            "capex_usd": (dc * 150_000 + ac * 8_000).astype(float),
        }
    )
    if names:
        sites["name"] = [names[i % len(names)] for i in range(n_sites)]
    corridors = pd.DataFrame(
        {
            "corridor": [c.corridor_id for c in ground.corridors],
            "length_mi": [c.length_m / M_PER_MI for c in ground.corridors],
            "max_gap_mi": [42.0, 61.5],
            "compliant": [True, False],
            "stations": [5, 3],
        }
    )
    return Plan(strategy, ground, sites, corridors, pd.DataFrame(), {"strategy": strategy})
