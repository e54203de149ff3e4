"""The fleet-based part of the ``eu-afir`` strategy: BEVs and PHEVs per region, power they need.

AFIR Art. 3(1) asks, for every light-duty battery-electric vehicle registered, at least 1.3 kW of
publicly accessible recharging power and 0.8 kW for every plug-in hybrid. planner applies it per
state / province (the Member State's role). The regions' tables hold one EV figure each, of a
different kind per country (the profile's ``ev_stock_basis``): battery-electric only in the
US (AFDC 2023), all new-energy vehicles in China (provinces brought to the Ministry of Public
Security's national total); the other kind follows from a sourced national ratio in
``data/policy_facts.csv``.

:func:`community_points` then sites the normal-power points of the community part inside each
region, on demand nodes that stand inside that region's polygon on a national ground, so a site
keeps its region when :func:`planner.ground.sites.settle_sites` labels it by polygon.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from planner.core.errors import InputError
from planner.countries import get_country
from planner.ground.model import Ground
from planner.strategies._regions import region_codes
from planner.strategies._us_community import (
    community_sites_for_region,
    region_weights,
    site_frame,
)

if TYPE_CHECKING:
    from planner.strategies.eu_afir import EuAfirParams

FLEET_COLUMNS = ("region", "name", "ev_stock", "bev", "phev", "fleet_kw")


def fleet_table(ground: Ground, params: EuAfirParams) -> pd.DataFrame:
    """Per region holding demand: BEVs, PHEVs and the fleet-based power they need (kW).

    The EVs are the region's ``ev_stock`` (its area's share of it on a city ground, see
    :func:`planner.strategies._us_community.region_weights`), split by the country profile's
    ``ev_stock_basis``:
    US ``phev = bev x us_phev_per_bev``; China ``bev = nev x cn_bev_share_of_nev`` and the rest
    PHEV. ``fleet_kw = kw_per_bev x bev + kw_per_phev x phev``.
    """
    basis = get_country(ground.country).ev_stock_basis
    regions = region_weights(ground)
    stock = pd.to_numeric(regions["ev_stock"], errors="coerce").fillna(0.0).to_numpy(float)
    if stock.sum() <= 0:
        raise InputError(
            f"ground.regions: eu-afir needs EV stock per region, found none on {ground.name}; "
            "plan on a ground whose regions carry ev_stock (the national grounds, or a city "
            "inside a US state or Chinese province)"
        )
    evs = regions["weight"].to_numpy(float)  # the ground's own EVs (area share on a city)
    if basis == "bev":
        bev, phev = evs, evs * params.us_phev_per_bev
    else:
        bev = evs * params.cn_bev_share_of_nev
        phev = evs - bev
    return pd.DataFrame(
        {
            "region": regions["region"].to_numpy(dtype=object),
            "name": regions["name"].to_numpy(dtype=object),
            "ev_stock": evs,
            "bev": bev,
            "phev": phev,
            "fleet_kw": params.kw_per_bev * bev + params.kw_per_phev * phev,
        }
    )


def inside_region_points(ground: Ground) -> np.ndarray:
    """Boolean per demand point: its node stands inside its own region's polygon (national
    ground), or every point (city ground, or where a region has no node inside it)."""
    codes = region_codes(ground.demand.region)
    if ground.scale != "national":
        return np.ones(codes.size, dtype=bool)
    from planner.ground.boundaries import locate

    nodes = np.asarray(ground.demand.node_idx, dtype=np.int64)
    where = locate(ground.node_lon[nodes], ground.node_lat[nodes], ground.country).region
    ok = region_codes(where) == codes
    for code in np.unique(codes[~ok]):  # a region with no node inside: keep all its points
        mine = codes == code
        if not ok[mine].any():
            ok[mine] = True
    return ok


def community_points(
    ground: Ground, params: EuAfirParams, need_kw: pd.Series, *, seed: int
) -> pd.DataFrame:
    """Community sites of normal-power points covering ``need_kw`` (kW per region code).

    Each region gets ``ceil(need / normal_point_kw)`` points on about ``points / per site``
    sites, placed by demand-weighted k-means of its demand points whose nodes stand inside the
    region (:func:`inside_region_points`).
    """
    codes = region_codes(ground.demand.region)
    inside = inside_region_points(ground)
    single = list(need_kw.index) == [""]
    frames = [_community_frame(ground, params, np.empty(0, np.int64), np.empty(0, np.int64), "")]
    for code, kw in need_kw.items():
        points = math.ceil(max(float(kw), 0.0) / params.normal_point_kw - 1e-9)
        members = np.arange(codes.size) if single else np.flatnonzero((codes == code) & inside)
        nodes, ports, served = community_sites_for_region(
            ground,
            members,
            points,
            ports_per_site=params.community_points_per_site,
            seed=seed,
            max_iter=params.cluster_max_iter,
        )
        frame = _community_frame(ground, params, nodes, ports, str(code))
        frames.append(frame.assign(demand_served=served))
    return pd.concat(frames, ignore_index=True)


def _community_frame(
    ground: Ground, params: EuAfirParams, nodes: np.ndarray, ports: np.ndarray, code: str
) -> pd.DataFrame:
    return site_frame(
        ground,
        nodes,
        kind="afir_community",
        dc_ports=0,
        ac_ports=ports,
        power_kw=params.normal_point_kw,
        capex_usd=np.asarray(ports, dtype=float) * params.normal_point_capex_usd,
        state=code,
    )
