"""The ``china-pile-swap`` strategy: dense public piles, expressway service areas, swap stations.

China's model, as the issue "China's pile-plus-swap strategy" describes it, in three layers:

1. **Public piles.** As many as the NEVs on the ground need at a target ratio of NEVs per
   public pile (or an explicit count), split DC/AC by ``dc_share``, apportioned to regions by NEV
   stock (largest remainder) and grouped into pile stations by demand-weighted clustering.
2. **Expressway service areas** at most ``service_area_spacing_km`` apart on every corridor,
   each with at least ``service_area_min_dc_piles`` DC piles, more where the traffic needs them
   (Erlang C). Their piles count toward the public-pile total, so the total and the DC share hold
   for the whole plan.
3. **Battery-swap stations**: urban ones sited by the optimizer's capacitated coverage model
   (a station swaps at most ``swaps_per_day`` batteries within ``swap_radius_km``), and
   expressway ones on the busiest corridors. Swap demand that no station can serve is reported
   as ``unmet_swaps_day``.

Costs are in CNY (Chinese unit prices) with a configurable ``usd_per_cny``. The strategy runs on
any ground: a city (NEVs = region stock x the area's share of the region's population), a
national ground, and US grounds too (the regions table then holds US EV stock), so both
countries' strategies can be compared on the same ground.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.core.errors import InputError
from planner.ground.model import Ground
from planner.strategies._china_params import ChinaPileSwapParams
from planner.strategies._exits import exit_candidates, exit_preference
from planner.strategies._piles import (
    apportion,
    cluster_pile_stations,
    nevs_per_point,
    point_regions,
    region_nevs,
    split_dc_ac,
)
from planner.strategies._regions import nearest_point_value
from planner.strategies._service_areas import (
    CorridorSites,
    between_exit_nodes,
    busy_enough,
    corridor_table,
    plan_expressway_swaps,
    plan_service_areas,
)
from planner.strategies._swap import UrbanSwaps, swaps_per_day, urban_swaps
from planner.strategies.base import SITE_COLUMNS, Plan, StrategySpec

logger = logging.getLogger(__name__)

EXTRA_COLUMNS = (
    "dc_piles",
    "ac_piles",
    "capacity_swaps_day",
    "assigned_swaps_day",
    "capex_cny",
    "flow_veh_day",  # two-way traffic past a corridor site (vehicles/day); NaN off the corridors
    "at_exit",  # at a real interchange (False: pile stations, service areas between exits)
)
KINDS = ("pile_station", "service_area", "swap_station")


def run(ground: Ground, params: ChinaPileSwapParams, *, seed: int = 0) -> Plan:
    """Plan public piles, service areas and swap stations on ``ground``.

    Parameters
    ----------
    ground
        A city, national or US ground.
    params
        The strategy's parameters.
    seed
        Seed of the clustering and of the optimizer.

    Returns
    -------
    Plan
        Sites of kinds ``pile_station``, ``service_area`` and ``swap_station``; one row per
        corridor; one row per region; a summary with every parameter and total.
    """
    if not isinstance(params, ChinaPileSwapParams):
        raise InputError(
            f"params: expected ChinaPileSwapParams, got {type(params).__name__}; build it with "
            "planner.io.scenario.params_from_mapping(ChinaPileSwapParams, mapping)"
        )
    t0 = time.perf_counter()
    # 1. NEVs on the ground, spread over the demand points.
    point_region, nevs_by_region, nevs, nev_info = _ground_nevs(ground)
    total_piles = (
        int(params.target_piles)
        if params.target_piles is not None
        else round(float(nevs.sum()) / params.nev_per_public_pile)
    )
    # 2. Expressway service areas (their piles count toward the total).
    service = _service_areas(ground, params)
    # 3. Pile stations with the remaining piles, DC total exact over the whole plan.
    piles = _pile_stations(ground, params, nevs, point_region, total_piles, service, seed=seed)
    # 4. Swap stations: urban by capacitated coverage, then along the busiest expressways.
    swap = _urban_swaps(ground, params, nevs, point_region, seed=seed)
    wanted, express = _expressway_swaps(ground, params, service)
    # 5. Tables.
    sites = _site_table(ground, params, piles, service, swap, express)
    # 5b. national sites as real places: inside the country, one per point, capped
    placement: dict[str, Any] = {}
    if ground.scale == "national":
        from planner.ground.sites import settle_sites

        sites, placement = settle_sites(ground, sites)
    corridors = corridor_table(
        ground.corridors, service, express, spacing_m=params.service_area_spacing_km * 1000.0
    )
    corridors.attrs["lower_bound"] = service.lower_bound
    regions = _region_table(ground, sites, nevs_by_region, swap)
    summary = _summary(
        ground,
        params,
        sites,
        corridors,
        swap,
        express,
        nev_info,
        express_demand=float(wanted.value.sum()),
        total_piles=total_piles,
        seconds=time.perf_counter() - t0,
    )
    summary.update(placement)
    return Plan("china-pile-swap", ground, sites, corridors, regions, summary)


def _ground_nevs(
    ground: Ground,
) -> tuple[np.ndarray, dict[str, float], np.ndarray, dict[str, Any]]:
    """Region of each demand point, NEVs per region, NEVs per demand point, and their figures
    for the summary (``nevs``, ``nevs_not_placed`` and those of :func:`region_nevs`)."""
    point_region = point_regions(ground)
    nevs_by_region, nev_info = region_nevs(ground, point_region)
    nevs = nevs_per_point(point_region, ground.demand.demand, nevs_by_region)
    nev_info["nevs"] = float(nevs.sum())
    nev_info["nevs_not_placed"] = max(float(sum(nevs_by_region.values())) - float(nevs.sum()), 0.0)
    return point_region, nevs_by_region, nevs, nev_info


def _expressway_swaps(
    ground: Ground, params: ChinaPileSwapParams, service: CorridorSites
) -> tuple[CorridorSites, CorridorSites]:
    """Swap stations wanted along the busiest expressways, and those busy enough to build."""
    wanted = plan_expressway_swaps(
        ground.corridors,
        service,
        top=params.expressway_swap_top_corridors,
        spacing_m=params.expressway_swap_spacing_km * 1000.0,
        nev_traffic_share=params.nev_traffic_share,
        swap_capable_share=params.swap_capable_share,
        range_per_pack_km=params.range_per_pack_km,
    )
    return wanted, busy_enough(wanted, min(params.swap_min_swaps_per_day, params.swaps_per_day))


def _service_areas(ground: Ground, params: ChinaPileSwapParams) -> CorridorSites:
    """Service areas on every corridor of ``ground``, sized by its traffic."""
    return plan_service_areas(
        ground.corridors,
        candidate=exit_candidates(ground),
        weight=exit_preference(ground),
        spacing_m=params.service_area_spacing_km * 1000.0,
        min_dc_piles=params.service_area_min_dc_piles,
        nev_traffic_share=params.nev_traffic_share,
        stop_share=params.service_area_stop_share,
        peak_hour_share=params.peak_hour_share,
        session_h=params.dc_session_h,
        target_wait_min=params.target_wait_min,
        between_exits=between_exit_nodes(ground),
    )


def _urban_swaps(
    ground: Ground,
    params: ChinaPileSwapParams,
    nevs: np.ndarray,
    point_region: np.ndarray,
    *,
    seed: int,
) -> UrbanSwaps:
    """Swap demand of every demand point and the urban stations that serve it."""
    want = swaps_per_day(
        nevs,
        swap_capable_share=params.swap_capable_share,
        daily_distance_km=params.daily_distance_km,
        range_per_pack_km=params.range_per_pack_km,
    )
    return urban_swaps(
        ground,
        want,
        point_region,
        capacity=params.swaps_per_day,
        radius_m=params.swap_radius_km * 1000.0,
        min_share=params.swap_min_share,
        max_sites=params.max_swap_stations,
        max_points=params.swap_max_demand_points,
        method=params.swap_method,
        time_limit_s=params.swap_time_limit_s,
        seed=seed,
        min_load=params.swap_min_swaps_per_day,
    )


@dataclass(frozen=True, eq=False)
class _Piles:
    """Urban pile stations (aligned arrays) and the pile totals."""

    point: np.ndarray
    dc: np.ndarray
    ac: np.ndarray
    nevs: np.ndarray
    service_dc: np.ndarray
    dc_target: int


def _pile_stations(
    ground: Ground,
    params: ChinaPileSwapParams,
    nevs: np.ndarray,
    point_region: np.ndarray,
    total: int,
    service: CorridorSites,
    *,
    seed: int,
) -> _Piles:
    """Apportion the piles left after the service areas to regions, cluster, split DC/AC."""
    service_dc = service.value.astype(np.int64)
    dc_target = round(params.dc_share * total)
    urban = max(total - int(service_dc.sum()), 0)
    if int(service_dc.sum()) > dc_target:
        logger.warning(
            "service areas need %d DC piles, more than the %d DC piles of dc_share=%.4f: "
            "the plan's DC share will be higher",
            int(service_dc.sum()),
            dc_target,
            params.dc_share,
        )
    if urban == 0 and total > 0:
        logger.warning(
            "service areas hold %d piles, the whole target of %d", service_dc.sum(), total
        )
    codes, inverse = np.unique(point_region.astype(str), return_inverse=True)
    per_region = apportion(np.bincount(inverse, weights=nevs, minlength=codes.size), urban)
    d = ground.demand
    points: list[np.ndarray] = []
    station_piles: list[np.ndarray] = []
    station_nevs: list[np.ndarray] = []
    for k in np.flatnonzero(per_region > 0):
        members = np.flatnonzero(inverse == k)
        st = cluster_pile_stations(
            d.x_m[members],
            d.y_m[members],
            nevs[members],
            int(per_region[k]),
            piles_per_station=params.piles_per_station,
            seed=seed,
            max_iter=params.kmeans_max_iter,
        )
        points.append(members[st.point])
        station_piles.append(st.piles)
        station_nevs.append(st.weight)
    point = np.concatenate(points) if points else np.empty(0, np.int64)
    pile = np.concatenate(station_piles) if station_piles else np.empty(0, np.int64)
    dc, ac = split_dc_ac(pile, max(dc_target - int(service_dc.sum()), 0))
    weights = np.concatenate(station_nevs) if station_nevs else np.empty(0)
    return _Piles(point, dc, ac, weights, service_dc, dc_target)


def _region_of_nodes(ground: Ground, nodes: np.ndarray) -> np.ndarray:
    """Region code of the demand point nearest each node (``""`` without demand points)."""
    return nearest_point_value(ground, nodes, point_regions(ground))


def _frame(ground: Ground, prefix: str, kind: str, nodes: np.ndarray, **cols: Any) -> pd.DataFrame:
    """Sites of one kind with node coordinates and ids ``{prefix}{n:06d}``."""
    nodes = np.asarray(nodes, dtype=np.int64)
    base = {
        "site_id": [f"{prefix}{i + 1:06d}" for i in range(nodes.size)],
        "kind": kind,
        "node_idx": nodes,
        "x_m": ground.node_x_m[nodes],
        "y_m": ground.node_y_m[nodes],
        "lon": ground.node_lon[nodes],
        "lat": ground.node_lat[nodes],
        "existing": False,
    }
    return pd.DataFrame({**base, **cols}, index=pd.RangeIndex(nodes.size))


def _site_table(
    ground: Ground,
    params: ChinaPileSwapParams,
    piles: _Piles,
    service: CorridorSites,
    swap: UrbanSwaps,
    express: CorridorSites,
) -> pd.DataFrame:
    """All sites with :data:`SITE_COLUMNS` plus :data:`EXTRA_COLUMNS`."""
    frames = [
        _pile_frame(ground, params, piles),
        _service_frame(ground, params, service),
        _swap_frame(ground, params, swap, express),
    ]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=[*SITE_COLUMNS, *EXTRA_COLUMNS])
    sites = pd.concat(frames, ignore_index=True)
    for col in ("dc_piles", "ac_piles"):
        sites[col] = sites[col].astype(np.int64)
    sites["dc_ports"] = sites["dc_piles"]
    sites["ac_ports"] = sites["ac_piles"]
    sites["ports"] = sites["dc_ports"] + sites["ac_ports"]
    sites["state"] = sites["state"].astype(str)
    sites["corridor"] = sites["corridor"].astype(str)
    sites["at_exit"] = exit_candidates(ground)[sites["node_idx"].to_numpy(np.int64)]
    sites["capex_usd"] = sites["capex_cny"].astype(float) * params.usd_per_cny
    return sites[[*SITE_COLUMNS, *EXTRA_COLUMNS]].reset_index(drop=True)


def _pile_frame(ground: Ground, params: ChinaPileSwapParams, piles: _Piles) -> pd.DataFrame:
    """Pile stations; ``demand_served`` is the NEVs each gathers."""
    n = piles.dc.size
    return _frame(
        ground,
        "PS",
        "pile_station",
        ground.demand.node_idx[piles.point],
        dc_piles=piles.dc,
        ac_piles=piles.ac,
        power_kw=np.where(piles.dc > 0, params.dc_power_kw, params.ac_power_kw),
        demand_served=piles.nevs,
        corridor="",
        state=point_regions(ground)[piles.point] if n else np.empty(0, object),
        capacity_swaps_day=np.zeros(n),
        assigned_swaps_day=np.zeros(n),
        capex_cny=piles.dc * params.dc_pile_capex_cny + piles.ac * params.ac_pile_capex_cny,
        flow_veh_day=np.full(n, np.nan),
    )


def _service_frame(
    ground: Ground, params: ChinaPileSwapParams, service: CorridorSites
) -> pd.DataFrame:
    """Service areas; ``demand_served`` is the NEVs per day that stop to charge."""
    dc = service.value.astype(np.int64)
    return _frame(
        ground,
        "SA",
        "service_area",
        service.node_idx,
        dc_piles=dc,
        ac_piles=np.zeros(dc.size, np.int64),
        power_kw=params.dc_power_kw,
        demand_served=service.flow_veh_day
        * params.nev_traffic_share
        * params.service_area_stop_share,
        corridor=service.corridor,
        state=_region_of_nodes(ground, service.node_idx),
        capacity_swaps_day=np.zeros(dc.size),
        assigned_swaps_day=np.zeros(dc.size),
        capex_cny=dc * params.dc_pile_capex_cny,
        flow_veh_day=service.flow_veh_day,
    )


def _swap_frame(
    ground: Ground, params: ChinaPileSwapParams, swap: UrbanSwaps, express: CorridorSites
) -> pd.DataFrame:
    """Urban then expressway swap stations; each serves up to its capacity."""
    n_sw, n = swap.node_idx.size, swap.node_idx.size + len(express)
    load = np.r_[swap.load, np.minimum(express.value, params.swaps_per_day)]
    return _frame(
        ground,
        "SW",
        "swap_station",
        np.r_[swap.node_idx, express.node_idx],
        dc_piles=np.zeros(n, np.int64),
        ac_piles=np.zeros(n, np.int64),
        power_kw=0.0,
        demand_served=load,
        corridor=np.r_[np.full(n_sw, "", object), express.corridor],
        state=np.r_[swap.region, _region_of_nodes(ground, express.node_idx)],
        capacity_swaps_day=np.full(n, params.swaps_per_day),
        assigned_swaps_day=load,
        capex_cny=np.full(n, params.swap_station_capex_cny),
        flow_veh_day=np.r_[np.full(n_sw, np.nan), express.flow_veh_day],
    )


def _region_table(
    ground: Ground, sites: pd.DataFrame, region_nevs: dict[str, float], swap: UrbanSwaps
) -> pd.DataFrame:
    """One row per region: NEVs, piles DC/AC, stations by kind, swap demand and unmet, capex."""
    table = ground.regions[["region", "name"]].astype(str).reset_index(drop=True)
    kind = sites["kind"]
    g = sites.groupby("state")
    out = table.assign(
        nevs=table["region"].map(region_nevs).fillna(0.0),
        piles=table["region"].map(g["ports"].sum()),
        dc_piles=table["region"].map(g["dc_piles"].sum()),
        ac_piles=table["region"].map(g["ac_piles"].sum()),
        pile_stations=table["region"].map(sites[kind == "pile_station"].groupby("state").size()),
        service_areas=table["region"].map(sites[kind == "service_area"].groupby("state").size()),
        swap_stations=table["region"].map(sites[kind == "swap_station"].groupby("state").size()),
        urban_swap_demand_day=table["region"].map(swap.demand_region),
        urban_unmet_swaps_day=table["region"].map(swap.unmet_region),
        capex_cny=table["region"].map(g["capex_cny"].sum()),
        capex_usd=table["region"].map(g["capex_usd"].sum()),
    )
    ints = ["piles", "dc_piles", "ac_piles", "pile_stations", "service_areas", "swap_stations"]
    out[ints] = out[ints].fillna(0).astype(np.int64)
    floats = ["urban_swap_demand_day", "urban_unmet_swaps_day", "capex_cny", "capex_usd"]
    out[floats] = out[floats].fillna(0.0).astype(float)
    return out


def _summary(
    ground: Ground,
    params: ChinaPileSwapParams,
    sites: pd.DataFrame,
    corridors: pd.DataFrame,
    swap: UrbanSwaps,
    express: CorridorSites,
    nev_info: dict[str, Any],
    *,
    express_demand: float,
    total_piles: int,
    seconds: float,
) -> dict[str, Any]:
    """Figures for ``summary.json``: parameters, piles by kind, stations, swaps, capex."""
    kind = sites["kind"]
    return {
        "strategy": "china-pile-swap",
        "params": dataclasses.asdict(params),
        "service_area_spacing_km": params.service_area_spacing_km,
        "scale": ground.scale,
        "country": ground.country,
        **nev_info,
        "target_piles": total_piles,
        **_pile_summary(sites, corridors),
        **_swap_summary(params, sites, swap, express, express_demand=express_demand),
        "capex_cny": float(sites["capex_cny"].sum()),
        "capex_usd": float(sites["capex_usd"].sum()),
        "capex_cny_by_kind": {k: float(sites.loc[kind == k, "capex_cny"].sum()) for k in KINDS},
        "strategy_seconds": round(seconds, 3),
    }


def _pile_summary(sites: pd.DataFrame, corridors: pd.DataFrame) -> dict[str, Any]:
    """Piles by kind, pile stations, service areas and their corridors' compliance."""
    kind = sites["kind"]
    piles = sites[kind != "swap_station"]
    n_piles = int(piles["ports"].sum())
    return {
        "piles": n_piles,
        "dc_piles": int(piles["dc_piles"].sum()),
        "ac_piles": int(piles["ac_piles"].sum()),
        "dc_share_actual": float(piles["dc_piles"].sum() / n_piles) if n_piles else None,
        "piles_by_kind": {
            k: {
                "dc": int(sites.loc[kind == k, "dc_piles"].sum()),
                "ac": int(sites.loc[kind == k, "ac_piles"].sum()),
            }
            for k in ("pile_station", "service_area")
        },
        "pile_stations": int((kind == "pile_station").sum()),
        "service_areas": int((kind == "service_area").sum()),
        "corridors": len(corridors),
        "corridors_compliant": int(corridors["compliant"].sum()) if len(corridors) else 0,
        "service_areas_by_spacing_arithmetic": int(corridors["stations_arithmetic"].sum())
        if len(corridors)
        else 0,
        "service_areas_lower_bound": int(corridors.attrs.get("lower_bound", -1)),
    }


def _swap_summary(
    params: ChinaPileSwapParams,
    sites: pd.DataFrame,
    swap: UrbanSwaps,
    express: CorridorSites,
    *,
    express_demand: float,
) -> dict[str, Any]:
    """Swap stations (urban, expressway), their capacity, demand, assignment and optimizer."""
    ex_demand = express_demand  # including stretches whose station would be below the minimum
    ex_served = float(np.minimum(express.value, params.swaps_per_day).sum())
    swaps = sites[sites["kind"] == "swap_station"]
    return {
        "swap_stations": len(swaps),
        "swap_stations_urban": int(swap.node_idx.size),
        "swap_stations_expressway": len(express),
        "swap_capacity_day": float(swaps["capacity_swaps_day"].sum()),
        "swap_demand_day": swap.demand_total + ex_demand,
        "swap_demand_urban_day": swap.demand_total,
        "swap_demand_expressway_day": ex_demand,
        "assigned_swaps_day": float(swaps["assigned_swaps_day"].sum()),
        "unmet_swaps_day": swap.unmet_total + (ex_demand - ex_served),
        "swap_min_swaps_per_day": params.swap_min_swaps_per_day,
        "swap_model": swap.model,
        "swap_demand_cells": swap.cells,
        "swap_aggregation_cell_m": swap.cell_m,
        "swap_optimizer": swap.result,
        "load_dependent": params.swap_time_limit_s is not None,
    }


SPEC = StrategySpec(
    name="china-pile-swap",
    title="China pile-plus-swap",
    params_type=ChinaPileSwapParams,
    run=run,
    has_cost_model=True,
)
