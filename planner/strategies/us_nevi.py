"""The ``us-nevi`` strategy: the US "500k network" of NEVI corridor DC fast stations + community.

Two layers, as in the federal plan (Bipartisan Infrastructure Law, 2021):

1. **Corridor DC fast (NEVI).** On every corridor, the fewest stations on corridor nodes so that
   consecutive stations are at most ``spacing_mi`` apart and each end is within ``end_gap_mi`` of
   a station, chosen among the real exits (:func:`planner.strategies._exits.place_at_exits`, an
   exact 0/1 program); a station at a junction serves every corridor through it. Each station
   gets at least ``min_dc_ports`` x ``dc_power_kw``, more where its traffic needs them
   (Erlang C, :func:`planner.strategies._sizing.ports_for_loads`).
2. **Community charging.** The rest of the target (500,000 ports nationally, the area's
   population share of it on a city ground) is shared out to regions by EV stock
   (largest-remainder rounding, so the total is exact), split into Level 2 and DC fast by NREL's
   2030 ratio, and sited inside each region by demand-weighted k-means of its demand points
   (:mod:`planner.strategies._us_community`; its public functions are re-exported here).

Every default is a cited figure: see ``data/scenarios/us_nevi.toml`` and ``docs/us_nevi.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.core.errors import InputError
from planner.core.fields import check_params, param
from planner.core.units import M_PER_MI
from planner.countries import get_country
from planner.ground.model import Ground
from planner.strategies._alloc import apportion
from planner.strategies._exits import (
    corridor_spacing_table,
    exit_candidates,
    exit_preference,
    node_flow,
    place_at_exits,
)
from planner.strategies._regions import region_codes
from planner.strategies._sizing import ports_for_loads
from planner.strategies._us_community import (
    allocate_community,
    community_sites,
    community_sites_for_region,
    existing_ports_by_region,
    region_weights,
    site_frame,
)
from planner.strategies.base import (
    SITE_COLUMNS,
    Plan,
    StrategySpec,
    corridor_compliance,
    kind_totals,
    rounded_timings,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CORRIDOR_COLUMNS",
    "KINDS",
    "M_PER_MI",
    "NREL_2017",
    "SPEC",
    "UsNeviParams",
    "allocate_community",
    "apportion",
    "community_sites",
    "community_sites_for_region",
    "corridor_sites",
    "existing_corridor_rows",
    "existing_ports_by_region",
    "region_weights",
    "run",
    "target_ports_for",
]

_EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
KINDS = ("corridor_dc", "community_dc", "community_l2", "existing")
_ID_PREFIX = {"corridor_dc": "US-DC", "community_dc": "US-CDC", "community_l2": "US-L2"}
CORRIDOR_COLUMNS = (
    "corridor",
    "length_mi",
    "max_gap_mi",
    "compliant",
    "stations",
    "official_length_mi",
    "start_gap_mi",
    "end_gap_mi",
    "stations_placed",
    "stations_shared",
    "stations_arithmetic",
    "stations_lower_bound",
)
# NREL 2017 (Wood et al., "National Plug-In Electric Vehicle Infrastructure Analysis",
# DOE/GO-102017-5040, section 4): ~400 corridor DC fast stations ~70 miles apart on average
# cover the 28,530 miles of the Interstate System.
NREL_2017 = {"stations": 400, "avg_spacing_mi": 70.0, "interstate_mi": 28_530.0}


@dataclass(frozen=True)
class UsNeviParams:
    """Parameters of the ``us-nevi`` strategy (sources: ``data/scenarios/us_nevi.toml``).

    Corridor rule: ``spacing_mi``, ``end_gap_mi``, ``max_offset_mi``, ``min_dc_ports``,
    ``dc_power_kw`` (NEVI guidance, 23 CFR 680). Corridor sizing: peak-hour arrivals at a station
    are ``flow_veh_day x ev_share_of_traffic x stop_share x peak_hour_factor``; a session lasts
    ``energy_per_stop_kwh / (dc_power_kw x charge_efficiency)`` hours. Target:
    ``national_target_ports`` at national scale, its population share on a city ground
    (``us_population`` or ``cn_population``), or ``target_ports`` when given. Community:
    ``dc_share`` of the ports are DC fast; sites hold ``l2_ports_per_site``/``dc_ports_per_site``
    ports on average. ``subtract_existing`` counts existing public ports per region toward the
    target; ``count_existing_dc`` counts existing stations with at least ``min_dc_ports`` DC
    ports within ``max_offset_mi`` of a corridor node as corridor stations.
    """

    spacing_mi: float = param(50.0, low=0.0, low_open=True)
    end_gap_mi: float = param(25.0, low=0.0, low_open=True)
    max_offset_mi: float = param(1.0, low=0.0, low_open=True)
    min_dc_ports: int = param(4, low=1)
    dc_power_kw: float = param(150.0, low=0.0, low_open=True)
    ev_share_of_traffic: float = param(0.117, low=0.0, high=1.0)
    stop_share: float = param(0.05, low=0.0, high=1.0)
    peak_hour_factor: float = param(0.10, low=0.0, high=1.0)
    energy_per_stop_kwh: float = param(22.0, low=0.0, low_open=True)
    charge_efficiency: float = param(
        0.5, low=0.0, low_open=True, high=1.0, fix="give a value in (0, 1]"
    )
    target_wait_min: float = param(5.0, low=0.0, low_open=True)
    national_target_ports: int = param(500_000, low=1)
    target_ports: int | None = param(None, low=1)
    us_population: int = param(331_449_281, low=1)
    cn_population: int = param(1_411_778_724, low=1)
    dc_share: float = param(0.153976, low=0.0, high=1.0)
    l2_power_kw: float = param(7.2, low=0.0, low_open=True)
    community_dc_power_kw: float = param(150.0, low=0.0, low_open=True)
    l2_ports_per_site: int = param(8, low=1)
    dc_ports_per_site: int = param(4, low=1)
    l2_port_capex_usd: float = param(8_000.0, low=0.0)
    dc_port_capex_usd: float = param(195_000.0, low=0.0)
    subtract_existing: bool = param(False)
    count_existing_dc: bool = param(False)
    cluster_max_iter: int = param(20, low=1)

    def __post_init__(self) -> None:
        check_params(self)

    @property
    def dc_session_h(self) -> float:
        """Mean corridor DC session: energy per stop over delivered power, hours."""
        return self.energy_per_stop_kwh / (self.dc_power_kw * self.charge_efficiency)


def target_ports_for(ground: Ground, params: UsNeviParams) -> tuple[int, str]:
    """Ports the plan must reach on ``ground`` and how that number was set.

    ``target_ports`` when given; else ``national_target_ports`` at national scale; on a city
    ground, ``national_target_ports x area population / national population`` (the US or China
    census figure by ``ground.country``), the area population being ``ground.meta["population"]``.
    """
    if params.target_ports is not None:
        return params.target_ports, "scenario target_ports"
    if ground.scale != "city":
        return params.national_target_ports, "national target"
    population = ground.meta.get("population")
    if population is None and "population" in ground.demand.components:
        population = float(ground.demand.components["population"].sum())
        logger.warning("ground.meta has no population; using the demand's %.0f", population)
    if not isinstance(population, int | float) or not math.isfinite(population) or population <= 0:
        raise InputError(
            f"ground.meta['population']: expected the area's population (persons > 0) on a city "
            f"ground, got {population!r}; build the ground with planner's city builder or set "
            "target_ports in the scenario"
        )
    national = getattr(params, get_country(ground.country).population_param)
    return max(1, round(params.national_target_ports * population / national)), "population share"


# --- corridor DC fast ----------------------------------------------------------------------------


def corridor_sites(
    ground: Ground, params: UsNeviParams, *, existing_rows: np.ndarray | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Place and size the new corridor DC fast stations; return ``(sites, corridor table)``.

    Stations stand at real exits (:func:`planner.strategies._exits.place_at_exits`, the fewest that
    keep the NEVI spacing on every corridor; among those, exits with more people nearby and
    junctions). A junction station lists every corridor through it in ``corridor``
    (``"I-70;I-75"``). ``existing_rows`` (rows of ``ground.existing``) are stations that count
    already. Ports per station: Erlang C on the peak-hour EV stops of the traffic past it, at
    least ``min_dc_ports``.
    """
    rows = np.empty(0, dtype=np.int64) if existing_rows is None else existing_rows
    ex = ground.existing
    fixed = np.asarray(ex.node_idx, dtype=np.int64)[rows] if ex is not None else rows
    placement = place_at_exits(
        ground.corridors,
        candidate=exit_candidates(ground),
        weight=exit_preference(ground),
        max_gap_m=params.spacing_mi * M_PER_MI,
        max_end_gap_m=params.end_gap_mi * M_PER_MI,
        fixed_nodes=fixed,
    )
    nodes = placement.nodes[placement.new]
    flow = node_flow(ground.corridors, nodes)
    stops_day = flow * params.ev_share_of_traffic * params.stop_share
    ports = ports_for_loads(
        stops_day * params.peak_hour_factor,
        session_h=params.dc_session_h,
        target_wait_min=params.target_wait_min,
        min_ports=params.min_dc_ports,
    )
    sites = site_frame(
        ground,
        nodes,
        kind="corridor_dc",
        dc_ports=ports,
        power_kw=params.dc_power_kw,
        corridor=placement.routes[placement.new],
        capex_usd=ports * params.dc_port_capex_usd,
        flow_veh_day=flow,
        ev_stops_day=stops_day,
    )
    table = corridor_spacing_table(
        ground.corridors,
        placement,
        max_gap_m=params.spacing_mi * M_PER_MI,
        max_end_gap_m=params.end_gap_mi * M_PER_MI,
    )
    return sites, _corridor_table(table)


def _corridor_table(table: pd.DataFrame) -> pd.DataFrame:
    """The shared spacing table in miles (:data:`CORRIDOR_COLUMNS`)."""
    out = pd.DataFrame(
        {
            "corridor": table["corridor"],
            "length_mi": table["length_m"] / M_PER_MI,
            "max_gap_mi": table["max_gap_m"] / M_PER_MI,
            "compliant": table["compliant"],
            "stations": table["stations"],
            "official_length_mi": table["official_length_km"] * 1000.0 / M_PER_MI,
            "start_gap_mi": table["start_gap_m"] / M_PER_MI,
            "end_gap_mi": table["end_gap_m"] / M_PER_MI,
            "stations_placed": table["stations_placed"],
            "stations_shared": table["stations_shared"],
            "stations_arithmetic": table["stations_arithmetic"],
            "stations_lower_bound": table["stations_lower_bound"],
        }
    )
    out.attrs["network_lower_bound"] = table.attrs.get("network_lower_bound")
    return out


def existing_corridor_rows(ground: Ground, params: UsNeviParams) -> np.ndarray:
    """Rows of ``ground.existing`` that count as corridor stations.

    A station counts when it has at least ``min_dc_ports`` DC ports and stands within
    ``max_offset_mi`` (great-circle distance) of the corridor node it is snapped to. Its power is
    not known and is assumed to meet the rule.
    """
    ex = ground.existing
    if ex is None or len(ex) == 0 or not ground.corridors:
        return np.empty(0, dtype=np.int64)
    corridor_nodes = np.unique(np.concatenate([np.asarray(c.node_idx) for c in ground.corridors]))
    node = np.asarray(ex.node_idx, dtype=np.int64)
    lon1, lat1 = np.radians(np.asarray(ex.lon, float)), np.radians(np.asarray(ex.lat, float))
    lon2, lat2 = np.radians(ground.node_lon[node]), np.radians(ground.node_lat[node])
    hav = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    offset_m = 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))
    ok = (np.asarray(ex.dc_ports) >= params.min_dc_ports) & np.isin(node, corridor_nodes)
    return np.flatnonzero(ok & (offset_m <= params.max_offset_mi * M_PER_MI))


def _existing(ground: Ground, params: UsNeviParams) -> tuple[np.ndarray, pd.DataFrame]:
    """Existing stations that count: the corridor ones' rows, and all counted ones as sites.

    With ``count_existing_dc`` the rows of :func:`existing_corridor_rows`; with
    ``subtract_existing`` every existing station is shown (open, no capex). Their rated power is
    not known: ``power_kw`` is the plan's nominal DC or L2 power.
    """
    ex = ground.existing
    none = np.empty(0, dtype=np.int64)
    corridor_rows = existing_corridor_rows(ground, params) if params.count_existing_dc else none
    rows = np.arange(len(ex)) if params.subtract_existing and ex is not None else corridor_rows
    if ex is None or rows.size == 0:
        return corridor_rows, pd.DataFrame({c: [] for c in (*SITE_COLUMNS, "name")})
    nodes = np.asarray(ex.node_idx, dtype=np.int64)[rows]
    dc = np.asarray(ex.dc_ports, dtype=np.int64)[rows]
    corridor = np.full(rows.size, "", dtype=object)
    for cor in reversed(ground.corridors):  # the first corridor through the node wins
        on = np.isin(nodes, np.asarray(cor.node_idx)) & np.isin(rows, corridor_rows)
        corridor[on] = cor.corridor_id
    sites = site_frame(
        ground,
        nodes,
        kind="existing",
        dc_ports=dc,
        existing=True,
        corridor=corridor,
        ac_ports=np.asarray(ex.ac_ports, dtype=np.int64)[rows],
        capex_usd=0.0,
        power_kw=np.where(dc > 0, params.dc_power_kw, params.l2_power_kw),
        state=region_codes(ex.region)[rows],
        name=np.asarray(ex.name, dtype=object)[rows],
    )
    return corridor_rows, sites


# --- the strategy --------------------------------------------------------------------------------


def run(ground: Ground, params: UsNeviParams, *, seed: int = 0) -> Plan:
    """Plan the US 500k network on ``ground``: NEVI corridor stations, then community charging.

    Parameters
    ----------
    ground
        City or national ground, US or China (the model runs on either).
    params
        Strategy parameters.
    seed
        Random seed of the k-means siting.

    Returns
    -------
    Plan
        Sites (kinds :data:`KINDS`), the corridor table (:data:`CORRIDOR_COLUMNS`), the region
        table and the summary.
    """
    if not isinstance(params, UsNeviParams):
        raise InputError(
            f"params: expected UsNeviParams, got {type(params).__name__}; build it "
            "with planner.io.scenario.params_from_mapping(UsNeviParams, mapping)"
        )
    t0 = time.perf_counter()
    target, basis = target_ports_for(ground, params)
    # 1. corridor DC fast stations (NEVI spacing, Erlang-C sized); existing ones count if asked
    corridor_rows, existing = _existing(ground, params)
    corridor, corridor_table = corridor_sites(ground, params, existing_rows=corridor_rows)
    t1 = time.perf_counter()
    # 2. the community pool: the target less corridor ports (and existing corridor ports)
    counted = 0 if params.subtract_existing else int(existing["ports"].sum())
    pool = target - int(corridor["ports"].sum()) - counted
    if pool < 0:
        logger.warning(
            "corridor ports exceed the target %d by %d: no community ports", target, -pool
        )
    # 3. community ports per region (EV stock), then sites inside each region (k-means)
    regions, existing_regional = allocate_community(ground, params, pool)
    community = community_sites(ground, params, regions, seed=seed)
    t2 = time.perf_counter()
    sites = _number_sites([corridor, community, existing])
    # 4. national sites as real places: inside the country, one per point, capped
    # (planner.ground.sites)
    sites, placement = _settle(ground, sites)
    counted = existing_regional if params.subtract_existing else counted
    timings = {"corridor_s": t1 - t0, "community_s": t2 - t1, "total_s": time.perf_counter() - t0}
    summary = _summary(
        params,
        sites,
        corridor_table,
        target=target,
        basis=basis,
        existing_counted=counted,
        timings=timings,
    )
    summary.update(placement)
    return Plan("us-nevi", ground, sites, corridor_table, _region_table(regions, sites), summary)


def _settle(ground: Ground, sites: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    if ground.scale != "national":
        return sites, {}
    from planner.ground.sites import settle_sites

    return settle_sites(ground, sites)


def _number_sites(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate site frames and number the sites per kind (``US-DC-0001``, ``US-L2-00001``)."""
    sites = pd.concat([f for f in frames if len(f)] or [frames[0]], ignore_index=True)
    for column, dtype in (
        ("node_idx", np.int64),
        ("ports", np.int64),
        ("dc_ports", np.int64),
        ("ac_ports", np.int64),
        ("existing", bool),
    ):
        sites[column] = sites[column].astype(dtype)
    sites["name"] = sites["name"].fillna("") if "name" in sites else ""
    for kind in KINDS:
        mask = (sites["kind"] == kind).to_numpy()
        width = max(4, len(str(int(mask.sum()))))
        prefix = _ID_PREFIX.get(kind, "US-EX")
        sites.loc[mask, "site_id"] = [f"{prefix}-{i + 1:0{width}d}" for i in range(mask.sum())]
    return sites


def _region_table(regions: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """Per region: EVs, weight, existing ports, ports by kind, new sites and their capex."""
    new = sites[~sites["existing"]]
    corridor_dc = new[new["kind"] == "corridor_dc"].groupby("state")["ports"].sum()
    per_state = new.groupby("state").agg(sites=("site_id", "size"), capex_usd=("capex_usd", "sum"))
    keep = [
        "region",
        "name",
        "population",
        "ev_stock",
        "ev_fallback",
        "weight",
        "existing_ports",
        "ports_allocated",
        "ports_l2",
        "ports_dc",
    ]
    table = regions[keep].copy()
    codes = table["region"]
    table["ports_corridor_dc"] = corridor_dc.reindex(codes).fillna(0).astype(np.int64).to_numpy()
    table["sites"] = per_state["sites"].reindex(codes).fillna(0).astype(np.int64).to_numpy()
    table["capex_usd"] = per_state["capex_usd"].reindex(codes).fillna(0.0).to_numpy()
    return table.reset_index(drop=True)


def _summary(
    params: UsNeviParams,
    sites: pd.DataFrame,
    corridors: pd.DataFrame,
    *,
    target: int,
    basis: str,
    existing_counted: int,
    timings: dict[str, float],
) -> dict[str, Any]:
    """Figures for ``summary.json`` (JSON-serialisable)."""
    new = sites[~sites["existing"]]
    length_mi = float(corridors["length_mi"].sum())
    by_kind = sites.groupby("kind")
    return {
        "strategy": "us-nevi",
        "params": dataclasses.asdict(params),
        "target_ports": int(target),
        "target_basis": basis,
        "ports_total": int(new["ports"].sum()) + int(existing_counted),
        "ports_new": int(new["ports"].sum()),
        "ports_existing_counted": int(existing_counted),
        "dc_ports_new": int(new["dc_ports"].sum()),
        "ac_ports_new": int(new["ac_ports"].sum()),
        **kind_totals(sites),
        "capex_usd_by_kind": {str(k): float(v) for k, v in by_kind["capex_usd"].sum().items()},
        "capex_usd_total": float(new["capex_usd"].sum()),
        "corridor_stations": int(
            ((sites["kind"] == "corridor_dc") | (sites["corridor"] != "")).sum()
        ),
        **corridor_compliance(corridors, "max_gap_mi"),
        "corridor_length_mi": length_mi,
        "corridor_session_h": params.dc_session_h,
        "stations_by_spacing_arithmetic": length_mi / params.spacing_mi,
        "stations_lower_bound": corridors.attrs.get("network_lower_bound"),
        "nrel_2017": {
            **NREL_2017,
            "stations_at_its_spacing": length_mi / NREL_2017["avg_spacing_mi"],
            "source": "Wood et al. 2017, National Plug-In Electric Vehicle "
            "Infrastructure Analysis (NREL, DOE/GO-102017-5040), section 4",
        },
        "timings_s": rounded_timings(timings),
    }


SPEC = StrategySpec(
    name="us-nevi",
    title="US 500k network (NEVI corridors + community)",
    params_type=UsNeviParams,
    run=run,
    has_cost_model=True,
)
