"""The ``coverage`` strategy: N sites placed by a coverage model on network distance, then sized.

This is the city planner's default: maximal covering (MCLP) with ``sites`` sites within
``radius_km`` network distance (or ``radius_min`` minutes of driving), or the fewest sites
reaching a demand share (LSCP), or the p-median (least mean distance). Existing stations count as
open sites and only the gap is planned.

Sites earn their place (:mod:`planner.strategies._city_sites`): once the model's coverage is
reached by fewer sites than asked for, the rest go where they cut the mean distance most
(``after_saturation="fill"``) or are not placed (``"stop"``); a new site closer than
``min_site_spacing_m`` to another, or serving less than ``min_site_share_of_even`` of an even
share of the demand, is dropped. ``summary["saturation"]`` says how many sites the coverage
needed, how many were asked for and placed, and which were dropped and why.

Port sizing turns the demand a site serves (person-equivalents) into peak-hour arrivals:
``demand x ev_per_capita x public_sessions_per_ev_day x peak_hour_share``, split between DC and
AC by ``dc_session_share``, and sizes each with an Erlang-C queue
(:mod:`planner.strategies._sizing`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from planner.core._stats import weighted_quantile
from planner.core.fields import check_params, param
from planner.ground.model import Ground
from planner.ground.reach import ServiceRadius, assign_nearest, nearest_site_cost
from planner.strategies._city_sites import Pruned, fill_by_distance, prune_sites, sites_needed
from planner.strategies._regions import nearest_point_value
from planner.strategies._sizing import ports_for_loads
from planner.strategies.base import Plan, StrategySpec

logger = logging.getLogger(__name__)

Model = Literal["mclp", "lscp", "pmedian"]
PMEDIAN_FULL_PAIRS = 20_000_000


@dataclass(frozen=True)
class CoverageParams:
    """Parameters of the coverage strategy (units in the names).

    ``ev_per_capita`` defaults to the US 2023 BEV stock over the 2020 census population
    (3,555,445 / 331.4 M, AFDC/Experian; US Census); ``public_sessions_per_ev_day`` assumes one
    public session per EV every ten days; ``dc_session_share`` the NREL 2030 ratio of public DC
    to all public ports (182,000 / 1,182,000).

    ``radius_min`` (minutes of driving on the edges' ``travel_time_s``) replaces ``radius_km``
    when given. Sites that earn their place:

    ``after_saturation``
        What happens to the sites asked for beyond the fewest that reach the model's coverage:
        ``"fill"`` places them where they cut the demand-weighted mean distance most (p-median
        with the covering sites fixed; coverage never falls), ``"stop"`` leaves them out.
    ``min_site_spacing_m``
        300 m: about a four-minute walk, well inside one site's catchment at any city radius
        (>= 1 km). Two sites closer than that draw on the same blocks; one site with the ports
        of both costs less (one grid connection, one lease). Straight-line distance.
    ``min_site_share_of_even``
        0.2: a new site serves at least a fifth of an even share of the area's demand
        (``demand_total / sites``), i.e. 1 % of it with 20 sites. Below that a site is the
        second of a pair or the last of a saturated area: a DC site (about $400k) for a few
        dozen person-equivalents.
    """

    sites: int = param(25, low=1)
    radius_km: float = param(3.0, low=0.0, low_open=True, fix="give a positive radius")
    model: Model = param("mclp")  # noqa: RUF009
    min_share: float = param(0.95, low=0.0, high=1.0)
    method: Literal["auto", "exact", "heuristic"] = param("auto")
    time_limit_s: float | None = param(None, low=0.0, low_open=True)
    ev_per_capita: float = param(0.0107, low=0.0)
    public_sessions_per_ev_day: float = param(0.1, low=0.0)
    peak_hour_share: float = param(0.12, low=0.0, high=1.0)
    dc_session_share: float = param(0.154, low=0.0, high=1.0)
    dc_power_kw: float = param(150.0, low=0.0, low_open=True)
    ac_power_kw: float = param(11.5, low=0.0, low_open=True)
    dc_session_h: float = param(0.5, low=0.0, low_open=True)
    ac_session_h: float = param(2.5, low=0.0, low_open=True)
    target_wait_min: float = param(10.0, low=0.0, low_open=True)
    min_dc_ports: int = param(2, low=0)
    min_ac_ports: int = param(2, low=0)
    dc_port_capex_usd: float = param(195_000.0, low=0.0)
    ac_port_capex_usd: float = param(8_000.0, low=0.0)
    radius_min: float | None = param(None, low=0.0, low_open=True, fix="give positive minutes")
    after_saturation: Literal["fill", "stop"] = param("fill")
    min_site_spacing_m: float = param(300.0, low=0.0)
    min_site_share_of_even: float = param(0.2, low=0.0, high=1.0)

    def __post_init__(self) -> None:
        check_params(self)

    @property
    def radius_m(self) -> float:
        """Service radius in metres (``radius_km``; unused when ``radius_min`` is given)."""
        return self.radius_km * 1000.0

    @property
    def service_radius(self) -> ServiceRadius:
        """The service radius: ``radius_min`` of driving when given, else ``radius_km`` of road."""
        if self.radius_min is not None:
            return ServiceRadius(radius_min=self.radius_min)
        return ServiceRadius(radius_m=self.radius_m)


def nearest_site_distance_m(
    ground: Ground, site_nodes: np.ndarray, *, limit_m: float = np.inf
) -> np.ndarray:
    """Network distance from every ground node to its nearest site (``inf`` beyond ``limit_m``).

    Distances run from the node to the site along directed edges (Dijkstra on the transposed
    graph from the sites).
    """
    return nearest_site_cost(ground.length_m, site_nodes, limit=limit_m)


def _sizing(params: CoverageParams, served: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DC and AC ports per site for the demand each serves."""
    sessions_day = served * params.ev_per_capita * params.public_sessions_per_ev_day
    peak = sessions_day * params.peak_hour_share
    dc = ports_for_loads(
        peak * params.dc_session_share,
        session_h=params.dc_session_h,
        target_wait_min=params.target_wait_min,
        min_ports=params.min_dc_ports,
    )
    ac = ports_for_loads(
        peak * (1 - params.dc_session_share),
        session_h=params.ac_session_h,
        target_wait_min=params.target_wait_min,
        min_ports=params.min_ac_ports,
    )
    return dc, ac


def _solve(
    params: CoverageParams, coverage: Any, weights: np.ndarray, cost: Any, p: int, seed: int
) -> Any:
    """Run the chosen coverage model; return the optimizer's result."""
    from planner import optimize

    opts: dict[str, Any] = {
        "method": params.method,
        "time_limit_s": params.time_limit_s,
        "seed": seed,
    }
    if params.model == "mclp":
        return optimize.solve_max_coverage(coverage, weights, p, **opts)
    if params.model == "lscp":
        return optimize.solve_set_cover(coverage, weights, min_share=params.min_share, **opts)
    return optimize.solve_p_median(cost, weights, p, **opts)


def run(ground: Ground, params: CoverageParams, *, seed: int = 0) -> Plan:
    """Place and size sites on ``ground`` by the coverage model in ``params``."""
    t0 = time.perf_counter()
    radius = params.service_radius
    matrix = radius.matrix(ground)
    demand = ground.demand
    cand_nodes = np.asarray(ground.candidates.node_idx, dtype=np.int64)
    existing_nodes = (
        np.unique(ground.existing.node_idx)
        if ground.existing is not None and len(ground.existing)
        else np.empty(0, dtype=np.int64)
    )
    cand_nodes = np.setdiff1d(cand_nodes, existing_nodes)
    weights = demand.demand.astype(float).copy()
    if existing_nodes.size:
        d_existing = nearest_site_cost(matrix, existing_nodes, limit=radius.limit)
        weights[d_existing[demand.node_idx] <= radius.limit] = 0.0
    p = min(params.sites, len(cand_nodes))
    if p < params.sites:
        logger.warning(
            "only %d candidates for %d sites; placing %d", len(cand_nodes), params.sites, p
        )
    inst = _Instance(ground, params, matrix, cand_nodes, weights)
    pmedian = params.model == "pmedian"
    result = _solve(
        params, None if pmedian else inst.coverage, weights, inst.cost if pmedian else None, p, seed
    )
    selected, filled = _after_saturation(inst, np.asarray(result.selected, dtype=np.int64), p, seed)
    pruned = prune_sites(
        ground,
        matrix,
        cand_nodes[selected],
        existing_nodes,
        min_spacing_m=params.min_site_spacing_m,
        min_served=_min_served(ground, params),
    )
    sites = _site_table(ground, params, pruned.kept, existing_nodes, matrix)
    summary = _summary(ground, params, sites, result, time.perf_counter() - t0)
    kept_cols = np.searchsorted(cand_nodes, pruned.kept)
    summary["saturation"] = _saturation(inst, kept_cols, summary, filled, pruned, seed)
    return Plan("coverage", ground, sites, pd.DataFrame(), pd.DataFrame(), summary)


class _Instance:
    """The model's matrices on one ground, built when first asked for."""

    def __init__(
        self,
        ground: Ground,
        params: CoverageParams,
        matrix: Any,
        cand_nodes: np.ndarray,
        weights: np.ndarray,
    ) -> None:
        self.ground, self.params, self.matrix = ground, params, matrix
        self.cand_nodes, self.weights = cand_nodes, weights
        self.limit = params.service_radius.limit

    @functools.cached_property
    def coverage(self) -> Any:
        """Demand x candidate coverage within the service radius."""
        from planner import optimize

        return optimize.coverage_from_network(
            self.matrix, self.ground.demand.node_idx, self.cand_nodes, self.limit
        )

    @functools.cached_property
    def cost(self) -> Any:
        """Demand x candidate network costs (metres or seconds)."""
        from planner import optimize

        # All reachable pairs when that is affordable, else pairs within 5 radii (a demand
        # point farther than that from every candidate cannot be served by this model).
        pairs = self.ground.demand.node_idx.size * self.cand_nodes.size
        limit = np.inf if pairs <= PMEDIAN_FULL_PAIRS else 5 * self.limit
        return optimize.distances_from_network(
            self.matrix, self.ground.demand.node_idx, self.cand_nodes, limit
        )

    def options(self, seed: int) -> dict[str, Any]:
        """The optimizer options of every solve."""
        p = self.params
        return {"method": p.method, "time_limit_s": p.time_limit_s, "seed": seed}


def _after_saturation(
    inst: _Instance, selected: np.ndarray, p: int, seed: int
) -> tuple[np.ndarray, int]:
    """MCLP only: the fewest chosen sites keeping the coverage, then fill or stop (see module).

    Returns the columns kept and how many were placed by the distance fill.
    """
    if inst.params.model != "mclp" or selected.size < 2:
        return selected, 0
    needed = sites_needed(inst.coverage, inst.weights, selected, **inst.options(seed))
    if needed.size >= selected.size:
        return selected, 0
    if inst.params.after_saturation == "stop" or needed.size == 0:
        return needed, 0
    filled = fill_by_distance(inst.cost, inst.weights, needed, p, **inst.options(seed))
    return filled, int(filled.size - needed.size)


def _min_served(ground: Ground, params: CoverageParams) -> float:
    """Least demand a new site must serve: ``min_site_share_of_even`` of an even share."""
    return float(ground.demand.demand.sum()) * params.min_site_share_of_even / params.sites


def _saturation(
    inst: _Instance,
    kept_cols: np.ndarray,
    summary: dict[str, Any],
    filled: int,
    pruned: Pruned,
    seed: int,
) -> dict[str, Any]:
    """``summary["saturation"]``: sites the coverage needs, asked for, placed, dropped."""
    params = inst.params
    needed = sites_needed(inst.coverage, inst.weights, kept_cols, **inst.options(seed))
    share = float(summary["covered_share"])
    placed = int(kept_cols.size)
    dropped = f", {len(pruned.dropped)} dropped (spacing or share)" if pruned.dropped else ""
    return {
        "sites_requested": params.sites,
        "sites_needed": int(needed.size),
        "covered_share": share,
        "sites_placed": placed,
        "saturated": int(needed.size) < params.sites,
        "filled_by_distance": filled,
        "min_site_spacing_m": params.min_site_spacing_m,
        "min_site_share": params.min_site_share_of_even / params.sites,
        "min_site_demand": _min_served(inst.ground, params),
        "dropped": list(pruned.dropped),
        "message": (
            f"{int(needed.size)} site{'s' if needed.size != 1 else ''}"
            f"{' already' if int(needed.size) < params.sites else ''} cover"
            f"{'s' if needed.size == 1 else ''} {100 * share:.1f} % of demand within "
            f"{params.service_radius.label}; {placed} of {params.sites} requested placed{dropped}"
        ),
    }


def _site_table(
    ground: Ground,
    params: CoverageParams,
    new_nodes: np.ndarray,
    existing_nodes: np.ndarray,
    matrix: Any,
) -> pd.DataFrame:
    """Build ``Plan.sites``: served demand by nearest-site assignment, sized ports, capex."""
    site_nodes = np.concatenate([existing_nodes, new_nodes]).astype(np.int64)
    is_existing = np.r_[np.ones(existing_nodes.size, bool), np.zeros(new_nodes.size, bool)]
    nearest, dist = assign_nearest(matrix, ground.demand.node_idx, site_nodes)
    ok = (nearest >= 0) & np.isfinite(dist)
    served = np.bincount(nearest[ok], weights=ground.demand.demand[ok], minlength=site_nodes.size)
    dc, ac = _sizing(params, served)
    if ground.existing is not None and existing_nodes.size:
        by_node = (
            pd.DataFrame(
                {
                    "n": ground.existing.node_idx,
                    "dc": ground.existing.dc_ports,
                    "ac": ground.existing.ac_ports,
                }
            )
            .groupby("n")
            .sum()
        )
        dc[: existing_nodes.size] = by_node.loc[existing_nodes, "dc"].to_numpy()
        ac[: existing_nodes.size] = by_node.loc[existing_nodes, "ac"].to_numpy()
    capex = np.where(
        is_existing, 0.0, dc * params.dc_port_capex_usd + ac * params.ac_port_capex_usd
    )
    kind = np.where(is_existing, "existing", "site")
    ids = [f"{'E' if e else 'S'}{i + 1:04d}" for i, e in enumerate(is_existing)]
    region = _region_of_nodes(ground, site_nodes)
    return pd.DataFrame(
        {
            "site_id": ids,
            "kind": kind,
            "node_idx": site_nodes,
            "x_m": ground.node_x_m[site_nodes],
            "y_m": ground.node_y_m[site_nodes],
            "lon": ground.node_lon[site_nodes],
            "lat": ground.node_lat[site_nodes],
            "ports": dc + ac,
            "dc_ports": dc,
            "ac_ports": ac,
            "power_kw": np.where(dc > 0, params.dc_power_kw, params.ac_power_kw),
            "demand_served": np.round(served, 3),
            "existing": is_existing,
            "corridor": "",
            "state": region,
            "capex_usd": capex,
        }
    )


def _region_of_nodes(ground: Ground, nodes: np.ndarray) -> np.ndarray:
    """Region code of the demand point nearest to each node (``""`` when demand has none)."""
    return nearest_point_value(ground, nodes, np.asarray(ground.demand.region, dtype=object))


def coverage_figures(
    ground: Ground,
    site_nodes: np.ndarray,
    radius_m: float | None = None,
    *,
    radius_min: float | None = None,
) -> dict[str, float]:
    """Demand share within the radius, mean and p95 network distance to the nearest site.

    With ``radius_min`` the share counts demand within that many minutes of driving (edge
    ``travel_time_s``), and the mean and p95 travel times to the nearest site are added.
    """
    radius = ServiceRadius(radius_m=radius_m, radius_min=radius_min)
    dist = nearest_site_distance_m(ground, site_nodes)[ground.demand.node_idx]
    w = ground.demand.demand.astype(float)
    total = float(w.sum())
    finite = np.isfinite(dist)
    cost = dist
    if radius.metric == "time":
        cost = nearest_site_cost(radius.matrix(ground), site_nodes)[ground.demand.node_idx]
    share = float(w[cost <= radius.limit].sum() / total) if total > 0 else math.nan
    figures = {
        "covered_share": share,
        "mean_distance_m": _weighted_mean(dist[finite], w[finite]),
        "p95_distance_m": weighted_quantile(dist[finite], w[finite], 0.95),
        "unreachable_share": float(w[~finite].sum() / total) if total > 0 else math.nan,
    }
    if radius.metric == "time":
        ok = np.isfinite(cost)
        figures["mean_travel_min"] = _weighted_mean(cost[ok], w[ok]) / 60.0
        figures["p95_travel_min"] = weighted_quantile(cost[ok], w[ok], 0.95) / 60.0
    return figures


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    return float(np.average(values, weights=weights)) if weights.sum() > 0 else math.nan


def _summary(
    ground: Ground, params: CoverageParams, sites: pd.DataFrame, result: Any, seconds: float
) -> dict[str, Any]:
    """Figures for ``summary.json``."""
    radius = params.service_radius
    figures = coverage_figures(
        ground, sites["node_idx"].to_numpy(), radius.radius_m, radius_min=radius.radius_min
    )
    return {
        "strategy": "coverage",
        "params": dataclasses.asdict(params),
        "demand_unit": ground.demand.unit,
        "demand_total": float(ground.demand.demand.sum()),
        "radius_m": radius.radius_m,
        "radius_min": radius.radius_min,
        "service_radius": radius.label,
        **figures,
        "sites": int((~sites["existing"]).sum()),
        "existing_sites": int(sites["existing"].sum()),
        "ports": int(sites["ports"].sum()),
        "dc_ports": int(sites["dc_ports"].sum()),
        "ac_ports": int(sites["ac_ports"].sum()),
        "capex_usd": float(sites["capex_usd"].sum()),
        **_load_dependence(params.time_limit_s),
        "optimizer": {
            "model": params.model,
            "method": result.method,
            "status": result.status,
            "objective": float(result.objective),
            "bound": _finite(result.bound),
            "gap": _finite(result.gap),
            "seconds": float(result.seconds),
        },
        "strategy_seconds": round(seconds, 3),
    }


def _load_dependence(time_limit_s: float | None) -> dict[str, Any]:
    """Whether the plan may change with the machine's load (a wall-clock limit), and why."""
    if time_limit_s is None:
        return {"load_dependent": False}
    return {
        "load_dependent": True,
        "load_dependent_reason": f"optimizer wall-clock time_limit_s={time_limit_s:g}",
    }


def _finite(value: Any) -> float | None:
    value = float(value) if value is not None else math.nan
    return value if math.isfinite(value) else None


SPEC = StrategySpec(
    name="coverage",
    title="Coverage siting (MCLP / LSCP / p-median)",
    params_type=CoverageParams,
    run=run,
    has_cost_model=True,
)
