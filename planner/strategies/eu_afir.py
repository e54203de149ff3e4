"""The ``eu-afir`` strategy: the EU Alternative Fuels Infrastructure Regulation on any ground.

Regulation (EU) 2023/1804 (AFIR, OJ L 234, 22.9.2023, p. 1-47), light-duty vehicles, two layers:

1. **Core network pools (Art. 3(3)(a)).** On the TEN-T core road network a recharging pool in
   each direction of travel at most ``spacing_km`` (60 km) apart. planner's core network is the
   ground's highway corridors (US Interstates, China National Expressways); pools stand at real
   exits, or between them where the exits alone cannot keep the spacing
   (:func:`planner.strategies._exits.place_at_exits`, the proven fewest locations), both route ends
   within ``end_gap_km``. A location holds one pool per direction of every corridor through it.
   Each pool meets the ``target_year`` rule: 2025, at least 400 kW with at least one point of
   >= 150 kW; 2027, at least 600 kW with at least two such points (``data/policy_facts.csv``).
2. **Fleet-based power (Art. 3(1)).** In every state / province the public recharging power is
   at least ``kw_per_bev`` x BEVs + ``kw_per_phev`` x PHEVs (:mod:`planner.strategies._afir_fleet`).
   The pools in a region count toward it; the rest are normal-power community points sited by
   demand inside the region.

Every default is a row of ``data/policy_facts.csv``; see ``docs/eu_afir.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from planner.core.errors import InputError
from planner.core.fields import check_params, param
from planner.core.units import M_PER_MI
from planner.ground.model import Ground
from planner.strategies._afir_fleet import community_points, fleet_table
from planner.strategies._exits import (
    corridor_spacing_table,
    exit_candidates,
    exit_preference,
    node_flow,
    place_at_exits,
)
from planner.strategies._regions import nearest_point_value, region_codes
from planner.strategies._service_areas import between_exit_nodes
from planner.strategies._stretch_points import with_stretch_points
from planner.strategies._us_community import site_frame
from planner.strategies.base import (
    Plan,
    StrategySpec,
    corridor_compliance,
    kind_totals,
    rounded_timings,
)

logger = logging.getLogger(__name__)

__all__ = ["KINDS", "POOL_RULE_FACTS", "SPEC", "EuAfirParams", "pool_rule", "run"]

KINDS = ("afir_pool", "afir_community")
_ID_PREFIX = {"afir_pool": "AFIR-P", "afir_community": "AFIR-C"}
#: The pool rule of each target year: facts of (pool power kW, points of >= 150 kW).
POOL_RULE_FACTS = {
    2025: ("afir_pool_kw_2025", "afir_pool_points_150kw_2025"),
    2027: ("afir_pool_kw_2027", "afir_pool_points_150kw_2027"),
}
_M_PER_KM = 1000.0


@dataclass(frozen=True)
class EuAfirParams:
    """Parameters of the ``eu-afir`` strategy (sources: rows ``afir_*`` of
    ``data/policy_facts.csv``; ``us_phev_per_bev`` and ``cn_bev_share_of_nev`` split the EV stock).

    ``target_year`` picks the pool rule (2025 or 2027). Pools: ``spacing_km`` between pools,
    ``end_gap_km`` from a route end, points of ``fast_point_kw`` (>= 150 kW, the rule's
    fast point). Fleet: ``kw_per_bev``, ``kw_per_phev``; community points of
    ``normal_point_kw``, ``community_points_per_site`` to a site on average. Costs per point:
    ``fast_point_capex_usd``, ``normal_point_capex_usd`` (NREL 2030 per-port midpoints).
    """

    target_year: Literal[2025, 2027] = param(
        2025, low=2025, high=2027, help="the year of the pool rule (2025 or 2027)"
    )
    spacing_km: float = param(60.0, low=0.0, low_open=True, help="pool spacing on the core network")
    end_gap_km: float = param(30.0, low=0.0, low_open=True, help="from a route end to a pool")
    fast_point_kw: float = param(
        150.0, low=150.0, help="power of a pool's points", fix="AFIR pools need points >= 150 kW"
    )
    kw_per_bev: float = param(1.3, low=0.0, low_open=True, help="public power per BEV")
    kw_per_phev: float = param(0.8, low=0.0, low_open=True, help="public power per PHEV")
    normal_point_kw: float = param(22.0, low=0.0, low_open=True, help="community point power")
    community_points_per_site: int = param(20, low=1, help="community points to a site")
    us_phev_per_bev: float = param(0.337678, low=0.0, help="US PHEVs per BEV (AFDC 2024)")
    cn_bev_share_of_nev: float = param(0.6874, low=0.0, high=1.0, help="China BEV share of NEVs")
    fast_point_capex_usd: float = param(195_000.0, low=0.0, help="capex per fast point")
    normal_point_capex_usd: float = param(8_000.0, low=0.0, help="capex per community point")
    cluster_max_iter: int = param(20, low=1, help="k-means iterations for community sites")

    def __post_init__(self) -> None:
        if self.target_year not in POOL_RULE_FACTS:
            raise InputError(
                f"target_year: expected 2025 or 2027 (the AFIR pool rules), got "
                f"{self.target_year!r}; set target_year = 2025 or 2027"
            )
        check_params(self)


def pool_rule(target_year: int) -> tuple[float, int]:
    """``(pool power kW, points of >= 150 kW)`` a core-network pool needs by ``target_year``."""
    from planner.io.facts import fact_value

    if target_year not in POOL_RULE_FACTS:
        raise InputError(f"target_year: expected 2025 or 2027, got {target_year!r}")
    kw_key, points_key = POOL_RULE_FACTS[target_year]
    return fact_value(kw_key), int(fact_value(points_key))


def points_per_pool(params: EuAfirParams) -> int:
    """Fast points in one pool: enough for the pool power and the count of >= 150 kW points."""
    pool_kw, fast_points = pool_rule(params.target_year)
    return max(fast_points, math.ceil(pool_kw / params.fast_point_kw - 1e-9))


# --- core network pools --------------------------------------------------------------------------


def corridor_pools(
    ground: Ground, params: EuAfirParams
) -> tuple[Ground, pd.DataFrame, pd.DataFrame]:
    """Place the pool locations on the corridors and size them; return ``(ground, sites, table)``.

    Where the nodes of a corridor (exits and the points between them) cannot keep the rule,
    points on the road are added first (:func:`with_stretch_points`): the returned ground holds
    them, and a pool standing on one has ``added_point`` true. A location on ``k`` corridors
    holds ``2 k`` pools (one per direction of travel of each), each of :func:`points_per_pool`
    points of ``fast_point_kw``.
    """
    if not ground.corridors:
        logger.warning("%s has no highway corridors: eu-afir places no pools", ground.name)
        return (
            ground,
            _pool_frame(ground, params, np.empty(0, np.int64), np.empty(0, object)),
            _table(
                pd.DataFrame(columns=["corridor", "length_m", "max_gap_m", "compliant", "stations"])
            ),
        )
    max_gap_m, end_m = params.spacing_km * _M_PER_KM, params.end_gap_km * _M_PER_KM
    exits = exit_candidates(ground)
    ground = with_stretch_points(
        ground, exits | between_exit_nodes(ground), max_gap_m=max_gap_m, max_end_gap_m=end_m
    )
    n_added = int(np.asarray(ground.node_x_m).shape[0]) - exits.size  # never exits
    placement = place_at_exits(
        ground.corridors,
        candidate=np.r_[exits, np.zeros(n_added, dtype=bool)],
        weight=exit_preference(ground),
        max_gap_m=max_gap_m,
        max_end_gap_m=end_m,
        between_exits=between_exit_nodes(ground),
    )
    sites = _pool_frame(ground, params, placement.nodes, placement.routes)
    sites["at_exit"] = placement.at_exit
    sites["added_point"] = placement.nodes >= exits.size
    table = corridor_spacing_table(
        ground.corridors, placement, max_gap_m=max_gap_m, max_end_gap_m=end_m
    )
    return ground, sites, _table(table)


def _pool_frame(
    ground: Ground, params: EuAfirParams, nodes: np.ndarray, routes: np.ndarray
) -> pd.DataFrame:
    per_pool = points_per_pool(params)
    pools = 2 * np.array([len(str(r).split(";")) for r in routes], dtype=np.int64)
    points = pools * per_pool
    state = _polygon_region(ground, nodes)
    return site_frame(
        ground,
        nodes,
        kind="afir_pool",
        dc_ports=points,
        power_kw=params.fast_point_kw,
        corridor=routes,
        capex_usd=points * params.fast_point_capex_usd,
        pools=pools,
        points_per_pool=per_pool,
        pool_kw=per_pool * params.fast_point_kw,
        flow_veh_day=node_flow(ground.corridors, nodes),
        **({"state": state} if state is not None else {}),
    )


def _polygon_region(ground: Ground, nodes: np.ndarray) -> np.ndarray | None:
    """Region of the polygon each node stands in (national ground), ``None`` elsewhere (the
    nearest demand point's region is then used)."""
    if ground.scale != "national" or nodes.size == 0:
        return None
    from planner.ground.boundaries import locate

    where = region_codes(
        locate(ground.node_lon[nodes], ground.node_lat[nodes], ground.country).region
    )
    fallback = nearest_point_value(ground, nodes, region_codes(ground.demand.region))
    return np.where(where != "", where, fallback)


def _table(table: pd.DataFrame) -> pd.DataFrame:
    """The spacing table in km (miles too, for the comparison's ``max_corridor_gap_mi``)."""
    out = pd.DataFrame(
        {
            "corridor": table["corridor"],
            "length_km": pd.to_numeric(table["length_m"]) / _M_PER_KM,
            "max_gap_km": pd.to_numeric(table["max_gap_m"]) / _M_PER_KM,
            "compliant": table["compliant"].astype(bool),
            "stations": table["stations"],
            "length_mi": pd.to_numeric(table["length_m"]) / M_PER_MI,
            "max_gap_mi": pd.to_numeric(table["max_gap_m"]) / M_PER_MI,
        }
    )
    for column in ("start_gap_m", "end_gap_m"):
        if column in table:
            out[column.replace("_m", "_km")] = pd.to_numeric(table[column]) / _M_PER_KM
    for column in ("official_length_km", "stations_lower_bound"):
        if column in table:
            out[column] = table[column]
    out.attrs["network_lower_bound"] = table.attrs.get("network_lower_bound")
    return out


# --- the strategy --------------------------------------------------------------------------------


def run(ground: Ground, params: EuAfirParams, *, seed: int = 0) -> Plan:
    """Plan AFIR's light-duty targets on ``ground``: core network pools, then fleet power.

    Parameters
    ----------
    ground
        National ground (US or China) or a city ground whose regions carry EV stock.
    params
        Strategy parameters.
    seed
        Random seed of the k-means siting of community points.

    Returns
    -------
    Plan
        Sites (kinds :data:`KINDS`), the corridor table, the per-region fleet table (required
        and planned power) and the summary.
    """
    if not isinstance(params, EuAfirParams):
        raise InputError(
            f"params: expected EuAfirParams, got {type(params).__name__}; build it "
            "with planner.io.scenario.params_from_mapping(EuAfirParams, mapping)"
        )
    t0 = time.perf_counter()
    fleet = fleet_table(ground, params)
    # 1. core network pools at exits (or between them), sized to the year's pool rule
    ground, pools, corridors = corridor_pools(ground, params)
    t1 = time.perf_counter()
    # 2. fleet-based power per region: what the pools standing there leave, as community points
    need = (
        fleet.set_index("region")["fleet_kw"]
        - _site_kw(pools).reindex(fleet["region"]).fillna(0.0).to_numpy()
    )
    community = community_points(ground, params, need, seed=seed)
    t2 = time.perf_counter()
    sites = _number_sites(pd.concat([pools, community], ignore_index=True))
    # 3. national sites as real places (inside, one per point, capped; planner.ground.sites)
    placement: dict[str, Any] = {}
    if ground.scale == "national":
        from planner.ground.sites import settle_sites

        cap = max(params.community_points_per_site, int(pools["ports"].to_numpy().max(initial=0)))
        sites, placement = settle_sites(ground, sites, max_ports=cap)
        placement["site_places"]["max_ports_source"] = (
            "eu-afir community_points_per_site (the largest pool where larger)"
        )
    regions = _region_table(fleet, sites)
    timings = {"pools_s": t1 - t0, "community_s": t2 - t1, "total_s": time.perf_counter() - t0}
    summary = _summary(params, sites, corridors, regions, timings=timings)
    summary["stretch_points"] = ground.meta.get("stretch_points", {"added": 0})
    summary.update(placement)
    return Plan("eu-afir", ground, sites, corridors, regions, summary)


def site_power_kw(sites: pd.DataFrame) -> np.ndarray:
    """Installed power of each site: its points times ``power_kw`` (one point kind a site)."""
    ports = sites["dc_ports"].to_numpy(float) + sites["ac_ports"].to_numpy(float)
    return ports * sites["power_kw"].to_numpy(float)


def _site_kw(sites: pd.DataFrame) -> pd.Series:
    """Installed power per region code."""
    return pd.Series(site_power_kw(sites)).groupby(region_codes(sites["state"])).sum()


def _number_sites(sites: pd.DataFrame) -> pd.DataFrame:
    """Number the sites per kind (``AFIR-P-0001``, ``AFIR-C-00001``)."""
    for column, dtype in (("node_idx", np.int64), ("ports", np.int64), ("existing", bool)):
        sites[column] = sites[column].astype(dtype)
    for kind in KINDS:
        mask = (sites["kind"] == kind).to_numpy()
        width = max(4, len(str(int(mask.sum()))))
        ids = [f"{_ID_PREFIX[kind]}-{i + 1:0{width}d}" for i in range(int(mask.sum()))]
        sites.loc[mask, "site_id"] = ids
    return sites


def _region_table(fleet: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """Per region: EVs, required fleet power, planned pool and community power, sites, capex."""
    codes = region_codes(sites["state"])
    kw = pd.Series(site_power_kw(sites))
    pool = sites["kind"].to_numpy() == "afir_pool"
    table = fleet.copy()
    for column, values in (
        ("pool_kw", kw[pool].groupby(codes[pool]).sum()),
        ("community_kw", kw[~pool].groupby(codes[~pool]).sum()),
        ("sites", pd.Series(1, index=range(len(sites))).groupby(codes).sum()),
        ("capex_usd", sites["capex_usd"].groupby(codes).sum()),
    ):
        table[column] = values.reindex(table["region"]).fillna(0).to_numpy()
    table["planned_kw"] = table["pool_kw"] + table["community_kw"]
    table["meets_fleet_rule"] = table["planned_kw"] >= table["fleet_kw"] - 1e-6
    short = table.loc[~table["meets_fleet_rule"], "region"].tolist()
    if short:
        logger.warning("eu-afir: regions below the fleet-based power after settling: %s", short)
    return table


def _count(pools: pd.DataFrame, column: str, value: bool) -> int:
    """Pools whose boolean ``column`` is ``value`` (0 without the column)."""
    return int((pools[column].astype(bool) == value).sum()) if column in pools else 0


def _summary(
    params: EuAfirParams,
    sites: pd.DataFrame,
    corridors: pd.DataFrame,
    regions: pd.DataFrame,
    *,
    timings: dict[str, float],
) -> dict[str, Any]:
    """Figures for ``summary.json`` (JSON-serialisable)."""
    pool_kw, fast_points = pool_rule(params.target_year)
    pools = sites[sites["kind"] == "afir_pool"]
    return {
        "strategy": "eu-afir",
        "params": dataclasses.asdict(params),
        "pool_rule": {
            "target_year": params.target_year,
            "min_pool_kw": pool_kw,
            "min_points_150kw": fast_points,
            "points_per_pool": points_per_pool(params),
            "source": "Regulation (EU) 2023/1804 Art. 3(3)(a), OJ L 234, 22.9.2023",
        },
        "pool_locations": len(pools),
        "pools": int(pools["pools"].sum()) if len(pools) else 0,
        "pool_locations_between_exits": _count(pools, "at_exit", False),
        "pool_locations_at_added_points": _count(pools, "added_point", True),
        **corridor_compliance(corridors, "max_gap_km"),
        "corridor_length_km": float(corridors["length_km"].sum()),
        "pool_locations_lower_bound": corridors.attrs.get("network_lower_bound"),
        "bev": float(regions["bev"].sum()),
        "phev": float(regions["phev"].sum()),
        "fleet_kw_required": float(regions["fleet_kw"].sum()),
        "installed_kw": float(site_power_kw(sites).sum()),
        "regions_meeting_fleet_rule": int(regions["meets_fleet_rule"].sum()),
        "regions": len(regions),
        "ports_total": int(sites["ports"].sum()),
        **kind_totals(sites),
        "capex_usd_total": float(sites["capex_usd"].sum()),
        "timings_s": rounded_timings(timings),
    }


SPEC = StrategySpec(
    name="eu-afir",
    title="EU AFIR (core network pools every 60 km + fleet-based power)",
    params_type=EuAfirParams,
    run=run,
    has_cost_model=True,
)
