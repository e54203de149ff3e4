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
from typing import Any, Literal

import numpy as np
import pandas as pd

from planner.errors import InputError
from planner.exit_stations import exit_candidates, exit_preference
from planner.ground import Ground
from planner.scenario import check_range
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


#: Largest average daily distance per car accepted, km.
MAX_DAILY_DISTANCE_KM = 2_000.0
#: Largest explicit pile count accepted (a guard against absurd inputs).
MAX_TARGET_PILES = 1_000_000_000


@dataclass(frozen=True)
class ChinaPileSwapParams:
    """Parameters of the China pile-plus-swap strategy (units in the names).

    Every default is cited in ``data/scenarios/china_pile_swap.toml`` and, where the project's
    facts table has the figure, equals its row in ``data/policy_facts.csv`` (a test checks it).
    """

    # -- public piles
    nev_per_public_pile: float = 9.3  # cn_nev_per_public_pile: 43.97 M NEVs / 4.717 M piles
    target_piles: int | None = None  # explicit pile count instead of the ratio
    dc_share: float = 0.4577  # cn_public_dc_share: 1.785 M DC / 3.900 M public (EVCIPA 2025-03)
    piles_per_station: int = 13  # Shenzhen mean 13.4 piles per station (ST-EVCDP, 1,706 stations)
    dc_power_kw: float = 120.0  # the 120 kW DC pile priced in cn_dc_pile_capex_cny
    ac_power_kw: float = 7.0  # the 7 kW AC pile priced in cn_ac_pile_capex_cny
    kmeans_max_iter: int = 30
    # -- expressway service areas
    service_area_spacing_km: float = 50.0  # cn_service_area_spacing_km (JTG B01-2014)
    service_area_min_dc_piles: int = 4
    nev_traffic_share: float = 0.1201  # NEVs are 12.01 % of cars (MPS 2026-01-26)
    service_area_stop_share: float = 0.1  # ASSUMPTION
    peak_hour_share: float = 0.1  # ASSUMPTION: design-hour factor K
    dc_session_h: float = 0.5  # ASSUMPTION: 30 min at 120 kW
    target_wait_min: float = 10.0  # ASSUMPTION
    # -- battery swap
    swap_capable_share: float = 0.0227  # NIO group 997,592 deliveries / 43.97 M NEVs
    daily_distance_km: float = 51.8  # cn_ldv_daily_km: 18,900 km/yr / 365
    range_per_pack_km: float = 375.0  # 75 kWh x 80 % usable / 16 kWh per 100 km
    swaps_per_day: float = 408.0  # cn_swap_station_swaps_per_day (NIO Gen3)
    swap_min_swaps_per_day: float = 50.0  # cn_swap_station_breakeven_swaps_per_day
    swap_radius_km: float = 3.0  # NIO's "within 3 km" service promise
    swap_min_share: float = 0.95  # ASSUMPTION
    max_swap_stations: int = 3715  # cn_swap_stations (EVCIPA 2024-04)
    swap_max_demand_points: int = 10_000
    swap_method: Literal["auto", "exact", "heuristic"] = "auto"
    swap_time_limit_s: float | None = None  # None: work budgets, the same plan on any load
    expressway_swap_top_corridors: int = 18  # NIO: 9 north-south + 9 east-west expressways
    expressway_swap_spacing_km: float = 100.0  # ASSUMPTION
    # -- costs
    dc_pile_capex_cny: float = 40_000.0  # cn_dc_pile_capex_cny
    ac_pile_capex_cny: float = 3_500.0  # cn_ac_pile_capex_cny (unsourced estimate)
    swap_station_capex_cny: float = 2_250_000.0  # cn_swap_station_capex_cny (excl. batteries)
    usd_per_cny: float = 0.139047  # usd_per_cny (CFETS 2024-11-25)

    def __post_init__(self) -> None:
        positive = (
            "nev_per_public_pile",
            "dc_power_kw",
            "ac_power_kw",
            "service_area_spacing_km",
            "dc_session_h",
            "target_wait_min",
            "daily_distance_km",
            "range_per_pack_km",
            "swaps_per_day",
            "swap_radius_km",
            "expressway_swap_spacing_km",
            "usd_per_cny",
        )
        for name in positive:
            check_range(
                name,
                getattr(self, name),
                low=0.0,
                low_open=True,
                fix=f"give {name} a positive value",
            )
        if self.swap_time_limit_s is not None:
            check_range("swap_time_limit_s", self.swap_time_limit_s, low=0.0, low_open=True)
        # a car cannot average more (24 h at 80 km/h); larger values only blow up swap demand
        check_range(
            "daily_distance_km",
            self.daily_distance_km,
            high=MAX_DAILY_DISTANCE_KM,
            fix="give an average daily distance per car (51.8 km in China)",
        )
        shares = (
            "dc_share",
            "nev_traffic_share",
            "service_area_stop_share",
            "peak_hour_share",
            "swap_capable_share",
        )
        for name in shares:
            check_range(name, getattr(self, name), low=0.0, high=1.0, fix=f"give {name} in [0, 1]")
        check_range(
            "swap_min_share",
            self.swap_min_share,
            low=0.0,
            high=1.0,
            low_open=True,
            fix="give swap_min_share in (0, 1]",
        )
        check_range(
            "swap_min_swaps_per_day",
            self.swap_min_swaps_per_day,
            low=0.0,
            high=self.swaps_per_day,
            fix="give a minimum between 0 and swaps_per_day (break-even: 50)",
        )
        for name in ("dc_pile_capex_cny", "ac_pile_capex_cny", "swap_station_capex_cny"):
            check_range(name, getattr(self, name), low=0.0, fix=f"give {name} >= 0")
        _check_int("piles_per_station", self.piles_per_station, low=1)
        _check_int("kmeans_max_iter", self.kmeans_max_iter, low=1)
        _check_int("service_area_min_dc_piles", self.service_area_min_dc_piles, low=1)
        _check_int("max_swap_stations", self.max_swap_stations, low=0)
        _check_int("swap_max_demand_points", self.swap_max_demand_points, low=1)
        _check_int("expressway_swap_top_corridors", self.expressway_swap_top_corridors, low=0)
        if self.target_piles is not None:
            _check_int("target_piles", self.target_piles, low=0)
            if self.target_piles > MAX_TARGET_PILES:
                raise InputError(
                    f"target_piles: expected at most {MAX_TARGET_PILES:,} (China had 4.7 M public "
                    f"piles at the end of 2025), got {self.target_piles!r}"
                )
        if self.swap_method not in ("auto", "exact", "heuristic"):
            raise InputError(
                f"swap_method: expected 'auto', 'exact' or 'heuristic', got {self.swap_method!r}"
            )


def _check_int(name: str, value: object, *, low: int) -> None:
    """Raise :class:`InputError` unless ``value`` is a whole number >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(f"{name}: expected a whole number >= {low}, got {value!r}; fix {name}")


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
            "planner.scenario.params_from_mapping(ChinaPileSwapParams, mapping)"
        )
    t0 = time.perf_counter()
    # 1. NEVs on the ground, spread over the demand points.
    point_region = point_regions(ground)
    nevs_by_region, nev_info = region_nevs(ground, point_region)
    nevs = nevs_per_point(point_region, ground.demand.demand, nevs_by_region)
    nev_info["nevs"] = float(nevs.sum())
    nev_info["nevs_not_placed"] = max(float(sum(nevs_by_region.values())) - float(nevs.sum()), 0.0)
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
    wanted = plan_expressway_swaps(
        ground.corridors,
        service,
        top=params.expressway_swap_top_corridors,
        spacing_m=params.expressway_swap_spacing_km * 1000.0,
        nev_traffic_share=params.nev_traffic_share,
        swap_capable_share=params.swap_capable_share,
        range_per_pack_km=params.range_per_pack_km,
    )
    express = busy_enough(wanted, min(params.swap_min_swaps_per_day, params.swaps_per_day))
    # 5. Tables.
    sites = _site_table(ground, params, piles, service, swap, express)
    # 5b. national sites as real places: inside the country, one per point, capped
    placement: dict[str, Any] = {}
    if ground.scale == "national":
        from planner.sites import settle_sites

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
    piles = sites[kind != "swap_station"]
    n_piles = int(piles["ports"].sum())
    ex_demand = express_demand  # including stretches whose station would be below the minimum
    ex_served = float(np.minimum(express.value, params.swaps_per_day).sum())
    swaps = sites[kind == "swap_station"]
    return {
        "strategy": "china-pile-swap",
        "params": dataclasses.asdict(params),
        "service_area_spacing_km": params.service_area_spacing_km,
        "scale": ground.scale,
        "country": ground.country,
        **nev_info,
        "target_piles": total_piles,
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
        "capex_cny": float(sites["capex_cny"].sum()),
        "capex_usd": float(sites["capex_usd"].sum()),
        "capex_cny_by_kind": {k: float(sites.loc[kind == k, "capex_cny"].sum()) for k in KINDS},
        "strategy_seconds": round(seconds, 3),
    }


SPEC = StrategySpec(
    name="china-pile-swap",
    title="China pile-plus-swap",
    params_type=ChinaPileSwapParams,
    run=run,
    has_cost_model=True,
)
