"""Parameters of the ``china-pile-swap`` strategy (:class:`ChinaPileSwapParams`), each declared
with its bounds and source (:func:`planner.core.fields.param`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from planner.core.fields import check_params, param

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
    nev_per_public_pile: float = param(
        9.3,
        low=0.0,
        low_open=True,
        help="cn_nev_per_public_pile: 43.97 M NEVs / 4.717 M piles",
    )
    target_piles: int | None = param(
        None,
        low=0,
        high=MAX_TARGET_PILES,
        fix="China had 4.7 M public piles at the end of 2025",
        help="explicit pile count instead of the ratio",
    )
    dc_share: float = param(
        0.4577,
        low=0.0,
        high=1.0,
        help="cn_public_dc_share: 1.785 M DC / 3.900 M public (EVCIPA 2025-03)",
    )
    piles_per_station: int = param(
        13,
        low=1,
        help="Shenzhen mean 13.4 piles per station (ST-EVCDP, 1,706 stations)",
    )
    dc_power_kw: float = param(
        120.0,
        low=0.0,
        low_open=True,
        help="the 120 kW DC pile priced in cn_dc_pile_capex_cny",
    )
    ac_power_kw: float = param(
        7.0,
        low=0.0,
        low_open=True,
        help="the 7 kW AC pile priced in cn_ac_pile_capex_cny",
    )
    kmeans_max_iter: int = param(30, low=1)
    # -- expressway service areas
    service_area_spacing_km: float = param(
        50.0,
        low=0.0,
        low_open=True,
        help="cn_service_area_spacing_km (JTG B01-2014)",
    )
    service_area_min_dc_piles: int = param(4, low=1)
    nev_traffic_share: float = param(
        0.1201,
        low=0.0,
        high=1.0,
        help="NEVs are 12.01 % of cars (MPS 2026-01-26)",
    )
    service_area_stop_share: float = param(0.1, low=0.0, high=1.0, help="ASSUMPTION")
    peak_hour_share: float = param(
        0.1,
        low=0.0,
        high=1.0,
        help="ASSUMPTION: design-hour factor K",
    )
    dc_session_h: float = param(
        0.5,
        low=0.0,
        low_open=True,
        help="ASSUMPTION: 30 min at 120 kW",
    )
    target_wait_min: float = param(10.0, low=0.0, low_open=True, help="ASSUMPTION")
    # -- battery swap
    swap_capable_share: float = param(
        0.0227,
        low=0.0,
        high=1.0,
        help="NIO group 997,592 deliveries / 43.97 M NEVs",
    )
    daily_distance_km: float = param(
        51.8,
        low=0.0,
        low_open=True,
        high=MAX_DAILY_DISTANCE_KM,
        fix="give an average daily distance per car (51.8 km in China)",
    )  # cn_ldv_daily_km: 18,900 km/yr / 365
    range_per_pack_km: float = param(
        375.0,
        low=0.0,
        low_open=True,
        help="75 kWh x 80 % usable / 16 kWh per 100 km",
    )
    swaps_per_day: float = param(
        408.0,
        low=0.0,
        low_open=True,
        help="cn_swap_station_swaps_per_day (NIO Gen3)",
    )
    swap_min_swaps_per_day: float = param(
        50.0,
        low=0.0,
        high_field="swaps_per_day",
        fix="give a minimum between 0 and swaps_per_day (break-even: 50)",
    )  # cn_swap_station_breakeven_swaps_per_day
    swap_radius_km: float = param(
        3.0,
        low=0.0,
        low_open=True,
        help='NIO\'s "within 3 km" service promise',
    )
    swap_min_share: float = param(
        0.95,
        low=0.0,
        high=1.0,
        low_open=True,
        fix="give swap_min_share in (0, 1]",
        help="ASSUMPTION",
    )
    max_swap_stations: int = param(3715, low=0, help="cn_swap_stations (EVCIPA 2024-04)")
    swap_max_demand_points: int = param(10_000, low=1)
    swap_method: Literal["auto", "exact", "heuristic"] = param("auto")
    swap_time_limit_s: float | None = param(
        None, low=0.0, low_open=True, help="None: work budgets, the same plan on any load"
    )
    expressway_swap_top_corridors: int = param(
        18,
        low=0,
        help="NIO: 9 north-south + 9 east-west expressways",
    )
    expressway_swap_spacing_km: float = param(
        100.0,
        low=0.0,
        low_open=True,
        help="ASSUMPTION",
    )
    # -- costs
    dc_pile_capex_cny: float = param(40_000.0, low=0.0, help="cn_dc_pile_capex_cny")
    ac_pile_capex_cny: float = param(
        3_500.0,
        low=0.0,
        help="cn_ac_pile_capex_cny (unsourced estimate)",
    )
    swap_station_capex_cny: float = param(
        2_250_000.0,
        low=0.0,
        help="cn_swap_station_capex_cny (excl. batteries)",
    )
    usd_per_cny: float = param(
        0.139047,
        low=0.0,
        low_open=True,
        help="usd_per_cny (CFETS 2024-11-25)",
    )

    def __post_init__(self) -> None:
        check_params(self)


__all__ = ["MAX_DAILY_DISTANCE_KM", "MAX_TARGET_PILES", "ChinaPileSwapParams"]
